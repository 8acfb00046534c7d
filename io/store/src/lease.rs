//! The run lease: one host at a time publishes to a store.
//!
//! # Background
//!
//! Operators make the scheduled job highly available by running the same
//! timers on two hosts. The local lock file serializes one host's runs; the
//! lease serializes the hosts. It lives in the store itself (a DynamoDB
//! item, a MySQL row: SPEC section 4) and holds the owner (the host id), an
//! expiry and a fencing token that grows by one on every acquisition.
//!
//! # Design
//!
//! - [`LeaseBackend`] is what a store provides: take the lease (free,
//!   expired, or already ours), renew it, release it, read it.
//! - [`LeaseKeeper`] is the part every store shares: waiting for a lease
//!   another host holds, renewing it every third of its TTL in the
//!   background while the run goes on, releasing it at the end.
//! - A holder checks its lease before writing ([`LeaseView::confirm`]) and
//!   the store's commit point (the manifest write) refuses a token that is
//!   no longer the current one: a host that lost or outlived its lease
//!   stops before its results go live.
//!
//! Expiry uses the store's clock where it has one (MySQL's `NOW(3)`);
//! DynamoDB has none, so a taker there treats a lease as expired only
//! [`CLOCK_SKEW`] after its `expires_at`, by its own clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;

/// How far apart two hosts' clocks may be: a host takes over a lease
/// expired by its own clock only this long after its expiry (DynamoDB,
/// which has no clock of its own to compare with).
pub const CLOCK_SKEW: Duration = Duration::from_secs(2);

/// A lease as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The host that holds it (`--host-id`).
    pub owner: String,
    /// The fencing token: one more on every acquisition.
    pub token: i64,
    /// When it expires, milliseconds since the epoch (by the store's clock
    /// where it has one).
    pub expires_at_ms: i64,
}

/// A lease read from the store, with whether the store deems it live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseView {
    /// The lease.
    pub lease: Lease,
    /// Not expired yet (by the store's clock, else the reader's).
    pub live: bool,
}

impl LeaseView {
    /// Checks that `mine` is still the current, live lease of `store`:
    /// the check before a host writes.
    pub fn confirm(
        current: Option<LeaseView>,
        mine: &Lease,
        store: &str,
    ) -> Result<(), StoreError> {
        match current {
            Some(v) if v.lease.owner == mine.owner && v.lease.token == mine.token && v.live => {
                Ok(())
            }
            Some(v) if v.lease.owner == mine.owner && v.lease.token == mine.token => {
                Err(StoreError::Fenced {
                    store: store.to_string(),
                    mine: mine.token,
                    owner: v.lease.owner,
                    token: v.lease.token,
                    why: "the lease expired before this run could renew it".into(),
                })
            }
            Some(v) => Err(fenced(store, mine, v.lease)),
            None => Err(StoreError::Fenced {
                store: store.to_string(),
                mine: mine.token,
                owner: String::new(),
                token: 0,
                why: "the lease item is gone".into(),
            }),
        }
    }
}

/// The error of a holder whose token `current` superseded.
pub fn fenced(store: &str, mine: &Lease, current: Lease) -> StoreError {
    StoreError::Fenced {
        store: store.to_string(),
        mine: mine.token,
        owner: current.owner,
        token: current.token,
        why: "another host took the lease".into(),
    }
}

/// The outcome of one attempt to take the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Taken: the lease now held, with its new token.
    Taken(Lease),
    /// Another host holds it, live.
    Held(Lease),
}

/// What a store provides for its lease.
#[async_trait]
pub trait LeaseBackend: Send + Sync + 'static {
    /// The store as messages name it.
    fn store(&self) -> String;

    /// Takes the lease for `owner` when it is free, expired or already
    /// `owner`'s (a rerun after a crash), with a token one above the last.
    async fn try_acquire(&self, owner: &str, ttl: Duration) -> Result<Attempt, StoreError>;

    /// Pushes the expiry of `lease` to `ttl` from now; `None` when it is no
    /// longer `lease` (another host took it).
    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Option<Lease>, StoreError>;

    /// Expires `lease` now, keeping its token (the next one counts on); a
    /// lease that is no longer ours is left alone.
    async fn release(&self, lease: &Lease) -> Result<(), StoreError>;

    /// The lease as the store holds it, `None` when none was ever taken.
    async fn current(&self) -> Result<Option<LeaseView>, StoreError>;
}

/// The lease a store's jobs hold: taken (waiting for another host when it
/// must), renewed in the background, released.
pub struct LeaseKeeper<B: LeaseBackend> {
    backend: Arc<B>,
    held: Arc<Mutex<Option<Lease>>>,
    renewing: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<B: LeaseBackend> LeaseKeeper<B> {
    /// A keeper of `backend`'s lease, holding nothing yet.
    pub fn new(backend: B) -> Self {
        Self {
            backend: Arc::new(backend),
            held: Arc::new(Mutex::new(None)),
            renewing: Mutex::new(None),
        }
    }

    /// The store's side of the lease.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The lease held now, if any.
    pub fn held(&self) -> Option<Lease> {
        self.held.lock().ok().and_then(|g| g.clone())
    }

    /// Takes the lease for `owner`, waiting up to `wait` while another host
    /// holds it, then renews it every third of `ttl` until
    /// [`LeaseKeeper::release`]. Must run inside a tokio runtime.
    pub async fn acquire(
        &self,
        owner: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Lease, StoreError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut said = false;
        let lease = loop {
            match self.backend.try_acquire(owner, ttl).await? {
                Attempt::Taken(lease) => break lease,
                Attempt::Held(other) => {
                    let now = tokio::time::Instant::now();
                    if now >= deadline {
                        return Err(StoreError::LeaseHeld {
                            store: self.backend.store(),
                            owner: other.owner,
                            token: other.token,
                            waited_s: wait.as_secs_f64(),
                        });
                    }
                    if !said {
                        tracing::info!(owner = %other.owner, token = other.token, "waiting for the lease another host holds");
                        said = true;
                    }
                    let pause = Duration::from_millis(100 + rand::random::<u64>() % 150);
                    tokio::time::sleep(pause.min(deadline - now)).await;
                }
            }
        };
        if let Ok(mut g) = self.held.lock() {
            *g = Some(lease.clone());
        }
        let (backend, held) = (Arc::clone(&self.backend), Arc::clone(&self.held));
        let task = tokio::spawn(async move { renew_until_lost(backend, held, ttl).await });
        if let Ok(mut g) = self.renewing.lock() {
            if let Some(old) = g.replace(task) {
                old.abort();
            }
        }
        tracing::debug!(
            owner,
            token = lease.token,
            ttl_s = ttl.as_secs_f64(),
            "took the lease"
        );
        Ok(lease)
    }

    /// Stops renewing and expires the lease held, if any.
    pub async fn release(&self) -> Result<(), StoreError> {
        if let Some(task) = self.renewing.lock().ok().and_then(|mut g| g.take()) {
            task.abort();
        }
        let held = self.held.lock().ok().and_then(|mut g| g.take());
        match held {
            Some(lease) => {
                self.backend.release(&lease).await?;
                tracing::debug!(owner = %lease.owner, token = lease.token, "released the lease");
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl<B: LeaseBackend> std::fmt::Debug for LeaseKeeper<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("store", &self.backend.store())
            .field("held", &self.held())
            .finish()
    }
}

impl<B: LeaseBackend> Drop for LeaseKeeper<B> {
    fn drop(&mut self) {
        if let Some(task) = self.renewing.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// Renews the lease every third of `ttl`; stops when another host took it
/// (the checks before writing and the commit point then refuse this run).
/// A failed renewal is retried at the next tick: if the store stays
/// unreachable the lease expires, and the check before writing says so.
async fn renew_until_lost<B: LeaseBackend>(
    backend: Arc<B>,
    held: Arc<Mutex<Option<Lease>>>,
    ttl: Duration,
) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        let Some(lease) = held.lock().ok().and_then(|g| g.clone()) else {
            return;
        };
        match backend.renew(&lease, ttl).await {
            Ok(Some(renewed)) => {
                if let Ok(mut g) = held.lock() {
                    *g = Some(renewed);
                }
            }
            Ok(None) => {
                tracing::warn!(owner = %lease.owner, token = lease.token, "lost the lease: another host took it; this run will not publish");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew the lease; retrying"),
        }
    }
}

/// Milliseconds since the epoch by this host's clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(owner: &str, token: i64) -> Lease {
        Lease {
            owner: owner.into(),
            token,
            expires_at_ms: 0,
        }
    }

    #[test]
    fn only_the_current_live_token_is_confirmed() {
        let mine = lease("a", 3);
        let view = |l: Lease, live| Some(LeaseView { lease: l, live });
        assert!(LeaseView::confirm(view(lease("a", 3), true), &mine, "s").is_ok());
        let err = LeaseView::confirm(view(lease("b", 4), true), &mine, "s").unwrap_err();
        assert!(err.to_string().contains("\"b\""), "{err}");
        assert!(err.to_string().contains("token 4"), "{err}");
        // Our own host, but a later acquisition (a rerun took it over).
        assert!(LeaseView::confirm(view(lease("a", 4), true), &mine, "s").is_err());
        let err = LeaseView::confirm(view(lease("a", 3), false), &mine, "s").unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        assert!(LeaseView::confirm(None, &mine, "s").is_err());
    }
}
