//! The store crate's error type: every variant names the table, server or
//! result at fault.

use thiserror::Error;

/// Errors publishing results to, or reading them from, a results store or its cache.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A read of the results store failed or timed out (the read API's
    /// path, whatever the store).
    #[error("{store}: {message}")]
    Read {
        /// The store (`DynamoDB table topsellers`).
        store: String,
        /// What went wrong.
        message: String,
    },
    /// A DynamoDB request failed (after its retries).
    #[error("DynamoDB table {table}: {message}")]
    Dynamo {
        /// The table.
        table: String,
        /// The failure, with the service's context.
        message: String,
    },
    /// The DynamoDB table does not exist.
    #[error("DynamoDB table {table} does not exist: create it, or pass --create-table (create_table = true) to have publish create it")]
    MissingTable {
        /// The table.
        table: String,
    },
    /// One (variant, category) would not fit in a DynamoDB item.
    #[error("variant {variant:?}, category {category:?}: its {items} items make a DynamoDB item of about {bytes} bytes, over the 400 KB limit; publish fewer items (--top)")]
    ItemTooLarge {
        /// Variant.
        variant: String,
        /// Category.
        category: String,
        /// Ranked items.
        items: usize,
        /// Estimated item size.
        bytes: usize,
    },
    /// A request to a SQL results store failed (after its retries).
    #[error("{store}: {message}")]
    Sql {
        /// The store (`MySQL 127.0.0.1:3306/shop`, credentials removed).
        store: String,
        /// The failure, with the server's error code where it gave one.
        message: String,
    },
    /// A SQL store's schema is missing or is not the one publish creates.
    #[error("{store}: {message}")]
    Schema {
        /// The store.
        store: String,
        /// What is missing or different.
        message: String,
    },
    /// A value a SQL store cannot hold (a key longer than its column).
    #[error("variant {variant:?}, category {category:?}: {message}")]
    Unstorable {
        /// Variant.
        variant: String,
        /// Category.
        category: String,
        /// Why.
        message: String,
    },
    /// Another host held the run lease for as long as this run waited.
    #[error("{store}: the run lease is held by host {owner:?} (token {token}); waited {waited_s:.0} s for it: another host is publishing, the next run tries again")]
    LeaseHeld {
        /// The store.
        store: String,
        /// The host holding it.
        owner: String,
        /// Its fencing token.
        token: i64,
        /// How long this run waited.
        waited_s: f64,
    },
    /// This run's lease was superseded or expired: it stopped before its
    /// results went live.
    #[error("{store}: fenced: this run's lease (token {mine}) is no longer current ({why}; the lease is host {owner:?}'s, token {token}); this run stopped before writing more, and no manifest went live after the lease changed hands")]
    Fenced {
        /// The store.
        store: String,
        /// This run's token.
        mine: i64,
        /// The lease's owner now.
        owner: String,
        /// The lease's token now.
        token: i64,
        /// Why (taken by another host, expired).
        why: String,
    },
    /// A Redis request failed.
    #[error("Redis {url}: {message}")]
    Redis {
        /// The server (credentials removed).
        url: String,
        /// What went wrong.
        message: String,
    },
}
