//! `topsellers-mysql`: MySQL or MariaDB as a results store, beside
//! DynamoDB (README, *MySQL*).
//!
//! - [`MysqlStore`]: the [`topsellers_store::ResultStore`] of one database:
//!   publishing under the generation rule with multi-row guarded upserts
//!   in transactions, manifests last; reads from the primary that fall
//!   back to a read-only standby;
//! - [`leavers`]: after the manifests, the categories a run no longer has
//!   deleted where older (`DELETE … WHERE generation < ?`);
//! - [`MysqlOptions`]: URLs (checked, never holding the password), the
//!   password, TLS, timeouts;
//! - [`schema`]: the tables, created on request and otherwise checked;
//! - [`MysqlLease`]: the run lease, a row whose token the manifest upsert
//!   checks in its transaction.
//!
//! ```no_run
//! # async fn f() -> Result<(), topsellers_store::StoreError> {
//! use topsellers_mysql::{MysqlOptions, MysqlStore};
//! use topsellers_store::ResultStore;
//!
//! let mut opts = MysqlOptions::new("mysql://topsellers@127.0.0.1:3306/shop");
//! opts.standby_url = Some("mysql://topsellers@127.0.0.1:3307/shop".into());
//! let store = MysqlStore::for_reads(&opts)?;
//! if let Some(group) = store.get_group("default", "toys").await? {
//!     println!("{} items", group.items.len());
//! }
//! # Ok(()) }
//! ```

mod codec;
mod lease;
pub mod leavers;
mod options;
mod publish;
mod read;
pub mod schema;
mod store;

use mysql_async::{Conn, Pool};
use topsellers_store::StoreError;

pub use lease::MysqlLease;
pub use options::{redacted, MysqlOptions};
pub use publish::{WRITE_BYTES, WRITE_ROWS};
pub use store::MysqlStore;

/// A failed client call as a [`StoreError::Sql`]: the server's error code
/// and message, or the transport's failure.
pub(crate) fn failed(store: &str, what: &str, e: mysql_async::Error) -> StoreError {
    let message = match &e {
        mysql_async::Error::Server(s) => {
            format!("{what}: error {} ({}): {}", s.code, s.state, s.message)
        }
        other => format!("{what}: {other}"),
    };
    StoreError::Sql {
        store: store.to_string(),
        message,
    }
}

/// A connection from `pool`, or the reason there is none.
pub(crate) async fn connect(pool: &Pool, store: &str) -> Result<Conn, StoreError> {
    pool.get_conn()
        .await
        .map_err(|e| failed(store, "connecting", e))
}
