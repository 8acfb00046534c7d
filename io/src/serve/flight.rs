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
//! the flight (the next miss reads again); the read may pass it on to work
//! that must finish before a new read is worth making (the write-back).

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

/// The right to end one flight, handed to its read.
pub struct Landing<T> {
    flights: Arc<Flights<T>>,
    key: String,
    id: u64,
}

impl<T> Landing<T> {
    /// Ends the flight: the next miss of the key reads again.
    pub fn land(self) {
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
        F: FnOnce(Landing<T>) -> Fut,
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
        // this insert releases the lock.
        let task = tokio::spawn(start(landing));
        let flight = async move { task.await.map_err(|e| format!("the read stopped: {e}"))? }
            .boxed()
            .shared();
        map.insert(key.to_string(), (id, flight.clone()));
        Joined::Started(flight)
    }
}
