//! Single flight: concurrent misses of one key share one read instead of
//! each making their own.
//!
//! # Design
//!
//! The first request that misses starts the read as a task and leaves a
//! [`Shared`] handle on it in a map; requests for the same key that arrive
//! meanwhile await that handle. The map lock is held only to look up or
//! insert a handle, never across an await. The read runs as its own task so
//! that it completes (and fills the caches) even when every client that
//! waited on it has gone away. The read is handed a [`Landing`], which ends
//! the flight (the next miss reads again) when it is dropped; the read may
//! pass it on to work that must finish before a new read is worth making
//! (the write-back). Because the end is a drop, a read or write-back that
//! panics or is cancelled ends its flight too: a finished flight never
//! stays in the map to hand every later miss its error or its old answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::{BoxFuture, FutureExt, Shared};

/// A read in flight, awaited by every request for its key.
pub type Flight<T> = Shared<BoxFuture<'static, Result<T, String>>>;

/// What [`Flights::join`] found.
pub enum Joined<T> {
    /// Another request's read of the key, to await.
    Waiting(Flight<T>),
    /// The read this request started, to await.
    Started(Flight<T>),
    /// The answer `landed` gave: a read that ended meanwhile left it.
    Landed(T),
}

/// The reads in flight, by key.
pub struct Flights<T> {
    map: Mutex<HashMap<String, (u64, Flight<T>)>>,
    next_id: AtomicU64,
}

/// Ends one flight when dropped (however its holder ends: returning,
/// panicking or cancelled), handed to its read.
pub struct Landing<T> {
    flights: Arc<Flights<T>>,
    key: String,
    id: u64,
}

impl<T> Landing<T> {
    /// Ends the flight now: the next miss of the key reads again.
    pub fn land(self) {
        drop(self);
    }
}

impl<T> Drop for Landing<T> {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock().unwrap_or_else(|e| e.into_inner());
        // Only this flight's entry: a later flight of the key is not ours.
        if map.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.key);
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Flights<T> {
    /// No read in flight.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            map: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// Joins the read of `key` in flight; else returns what `landed` finds
    /// (checked under the lock, so that a read ending meanwhile is not
    /// repeated); else spawns `start` as the key's read.
    pub fn join<F, Fut>(
        self: &Arc<Self>,
        key: &str,
        landed: impl FnOnce() -> Option<T>,
        start: F,
    ) -> Joined<T>
    where
        F: FnOnce(Landing<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, String>> + Send + 'static,
    {
        // A poisoned lock only means a panic elsewhere while inserting; the
        // map itself is still a valid map.
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, flight)) = map.get(key) {
            return Joined::Waiting(flight.clone());
        }
        if let Some(answer) = landed() {
            return Joined::Landed(answer);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let landing = Landing {
            flights: self.clone(),
            key: key.to_string(),
            id,
        };
        // Spawned under the lock: the read cannot end its flight before
        // this insert releases the lock. `start` is called inside the task,
        // never here: a landing it drops at once must not take the lock
        // this thread holds.
        let task = tokio::spawn(async move { start(landing).await });
        let flight = async move { task.await.map_err(|e| format!("the read stopped: {e}"))? }
            .boxed()
            .shared();
        map.insert(key.to_string(), (id, flight.clone()));
        Joined::Started(flight)
    }

    /// Whether a read of `key` is in flight.
    #[cfg(test)]
    pub fn in_flight(&self, key: &str) -> bool {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started<T>(joined: Joined<T>, why: &str) -> Flight<T> {
        match joined {
            Joined::Started(flight) => flight,
            Joined::Waiting(_) => panic!("{why}: joined a flight still in the map"),
            Joined::Landed(_) => panic!("{why}: found a landed answer"),
        }
    }

    /// A new read of `"k"` that must start (nothing left in flight) and
    /// lands `value`.
    fn retry_lands(flights: &Arc<Flights<u32>>, value: u32) -> Flight<u32> {
        started(
            flights.join(
                "k",
                || None,
                move |landing| async move {
                    landing.land();
                    Ok(value)
                },
            ),
            "retry",
        )
    }

    #[tokio::test]
    async fn a_read_that_panics_ends_its_flight() {
        let flights = Flights::<u32>::new();
        let flight = started(
            flights.join("k", || None, |_landing| async { panic!("injected") }),
            "first read",
        );
        let e = flight.await.unwrap_err();
        assert!(e.contains("panic"), "{e}");
        assert!(
            !flights.in_flight("k"),
            "the panicked read is still in flight"
        );
        assert_eq!(retry_lands(&flights, 7).await, Ok(7));
        assert!(!flights.in_flight("k"));
    }

    #[tokio::test]
    async fn a_write_back_cancelled_ends_its_flight() {
        let flights = Flights::<u32>::new();
        let flight = started(
            flights.join(
                "k",
                || None,
                |landing| async move {
                    // The write-back holds the landing, then is cancelled
                    // (as at shutdown) before it could land.
                    let write_back = tokio::spawn(async move {
                        let _landing = landing;
                        std::future::pending::<()>().await;
                    });
                    write_back.abort();
                    assert!(write_back.await.unwrap_err().is_cancelled());
                    Ok(1)
                },
            ),
            "first read",
        );
        assert_eq!(flight.await, Ok(1));
        assert!(
            !flights.in_flight("k"),
            "the cancelled write-back left its flight in the map"
        );
        assert_eq!(retry_lands(&flights, 2).await, Ok(2), "not the old answer");
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_read_and_a_landed_answer_is_used() {
        let flights = Flights::<u32>::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let first = started(
            flights.join(
                "k",
                || None,
                |landing| async move {
                    let _ = rx.await;
                    landing.land();
                    Ok(3)
                },
            ),
            "first read",
        );
        let Joined::Waiting(second) = flights.join("k", || Some(9), |_| async { Ok(0) }) else {
            panic!("a second miss must wait on the first read");
        };
        tx.send(()).unwrap();
        assert_eq!((first.await, second.await), (Ok(3), Ok(3)));
        assert!(matches!(
            flights.join("k", || Some(9), |_| async { Ok(0) }),
            Joined::Landed(9)
        ));
    }
}
