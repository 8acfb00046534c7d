//! The run lease in MySQL: one row of `topsellers_lease` (`name = 'run'`)
//! with `owner`, `token` and `expires_at` (milliseconds since the epoch by
//! the server's clock: every host compares with the same clock, so no skew
//! margin is needed).
//!
//! - Taking it is a transaction that reads the row `FOR UPDATE` and
//!   updates it when it is expired or ours; `token` grows by one.
//! - The commit point is the manifest upsert, in a transaction that first
//!   reads the lease row `FOR UPDATE` and checks its owner and token
//!   ([`fence`]): a superseded holder's manifest never lands.

use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool, TxOpts};
use topsellers_store::lease::{fenced, Attempt, Lease, LeaseBackend, LeaseView};
use topsellers_store::StoreError;

use crate::schema::LEASE;

/// The server's time, milliseconds since the epoch.
const NOW_MS: &str = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";

/// The row's name.
const NAME: &str = "run";

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

/// The lease of one MySQL database (its primary).
#[derive(Clone)]
pub struct MysqlLease {
    /// The primary's pool.
    pub pool: Pool,
    /// The store as messages name it.
    pub store: String,
}

impl MysqlLease {
    fn fail(&self, what: &str) -> impl Fn(mysql_async::Error) -> StoreError + '_ {
        let what = what.to_string();
        move |e| crate::failed(&self.store, &what, e)
    }
}

/// The lease row, live or not by the server's clock; with `lock`, locked
/// for the transaction (`FOR UPDATE`).
async fn read(
    conn: &mut impl Queryable,
    lock: bool,
) -> Result<Option<LeaseView>, mysql_async::Error> {
    let row: Option<(String, i64, i64, i64)> = conn
        .exec_first(
            format!(
                "SELECT owner, token, expires_at, expires_at > {NOW_MS} FROM {LEASE} WHERE name = ?{}",
                if lock { " FOR UPDATE" } else { "" }
            ),
            (NAME,),
        )
        .await?;
    Ok(row.map(|(owner, token, expires_at_ms, live)| LeaseView {
        lease: Lease {
            owner,
            token,
            expires_at_ms,
        },
        live: live != 0,
    }))
}

impl MysqlLease {
    async fn take(&self, owner: &str, ttl: Duration) -> Result<Attempt, mysql_async::Error> {
        let mut conn = self.pool.get_conn().await?;
        // The row exists from the first attempt on (token 0, expired), so
        // that every taker locks the same row.
        conn.exec_drop(
            format!(
                "INSERT IGNORE INTO {LEASE} (name, owner, token, expires_at) VALUES (?, '', 0, 0)"
            ),
            (NAME,),
        )
        .await?;
        let mut tx = conn.start_transaction(TxOpts::default()).await?;
        if let Some(v) = read(&mut tx, true).await? {
            if v.live && v.lease.owner != owner {
                tx.rollback().await?;
                return Ok(Attempt::Held(v.lease));
            }
        }
        tx.exec_drop(
            format!(
                "UPDATE {LEASE} SET owner = ?, token = token + 1, expires_at = {NOW_MS} + ? WHERE name = ?"
            ),
            (owner, ttl_ms(ttl), NAME),
        )
        .await?;
        let taken = read(&mut tx, false).await?;
        tx.commit().await?;
        Ok(match taken {
            Some(v) => Attempt::Taken(v.lease),
            None => Attempt::Held(Lease {
                owner: String::new(),
                token: 0,
                expires_at_ms: 0,
            }),
        })
    }

    /// Sets the expiry of `lease` to `ttl_ms` from the server's now when it
    /// is still `lease`.
    async fn set_expiry(&self, lease: &Lease, ttl_ms: i64) -> Result<Option<Lease>, StoreError> {
        let mut conn = crate::connect(&self.pool, &self.store).await?;
        let fail = self.fail("renewing the lease");
        conn.exec_drop(
            format!(
                "UPDATE {LEASE} SET expires_at = GREATEST({NOW_MS} + ?, 0) WHERE name = ? AND owner = ? AND token = ?"
            ),
            (ttl_ms, NAME, lease.owner.as_str(), lease.token),
        )
        .await
        .map_err(&fail)?;
        // Affected rows count only changed rows: read it back.
        let now = read(&mut conn, false).await.map_err(&fail)?;
        Ok(now
            .filter(|v| v.lease.owner == lease.owner && v.lease.token == lease.token)
            .map(|v| v.lease))
    }
}

/// Whether a failed transaction may be retried: a deadlock (1213) or a lock
/// wait timeout (1205) rolled it back.
pub(crate) fn retryable(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == 1213 || s.code == 1205)
}

#[async_trait]
impl LeaseBackend for MysqlLease {
    fn store(&self) -> String {
        self.store.clone()
    }

    async fn try_acquire(&self, owner: &str, ttl: Duration) -> Result<Attempt, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.take(owner, ttl).await {
                Ok(a) => return Ok(a),
                Err(e) if retryable(&e) && attempt < 5 => {
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                Err(e) => return Err(crate::failed(&self.store, "taking the lease", e)),
            }
        }
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        self.set_expiry(lease, ttl_ms(ttl)).await
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        // Far in the past by the server's clock: expired for everyone.
        self.set_expiry(lease, -ttl_ms(Duration::from_secs(365 * 86_400)))
            .await
            .map(|_| ())
    }

    async fn current(&self) -> Result<Option<LeaseView>, StoreError> {
        let mut conn = crate::connect(&self.pool, &self.store).await?;
        read(&mut conn, false)
            .await
            .map_err(self.fail("reading the lease"))
    }
}

/// Checks before writing: `lease` is still the current, live lease.
pub(crate) async fn check(conn: &mut Conn, store: &str, lease: &Lease) -> Result<(), StoreError> {
    let now = read(conn, false)
        .await
        .map_err(|e| crate::failed(store, "reading the lease", e))?;
    LeaseView::confirm(now, lease, store)
}

/// Inside the manifest's transaction, before its upsert: locks the lease
/// row and checks that `lease` is still the current one. `Ok(Err(_))` is
/// the fenced error to return once the transaction is rolled back.
pub(crate) async fn fence(
    tx: &mut mysql_async::Transaction<'_>,
    store: &str,
    lease: &Lease,
) -> Result<Result<(), StoreError>, mysql_async::Error> {
    let row: Option<(String, i64)> = tx
        .exec_first(
            format!("SELECT owner, token FROM {LEASE} WHERE name = ? FOR UPDATE"),
            (NAME,),
        )
        .await?;
    Ok(match row {
        Some((owner, token)) if owner == lease.owner && token == lease.token => Ok(()),
        Some((owner, token)) => Err(fenced(
            store,
            lease,
            Lease {
                owner,
                token,
                expires_at_ms: 0,
            },
        )),
        None => Err(StoreError::Fenced {
            store: store.to_string(),
            mine: lease.token,
            owner: String::new(),
            token: 0,
            why: "the lease row is gone".into(),
        }),
    })
}
