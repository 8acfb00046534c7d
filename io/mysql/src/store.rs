//! [`MysqlStore`]: a MySQL (or MariaDB) database as a
//! [`ResultStore`], with an optional read-only standby for reads.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::Pool;
use topsellers_lake::ResultSet;
use topsellers_store::lease::LeaseKeeper;
use topsellers_store::{
    Catalog, Lease, Manifest, PublishReport, ResultStore, StoreError, Stored, StoredGroup,
    VariantDiff,
};

use crate::lease::MysqlLease;
use crate::options::{redacted, MysqlOptions};
use crate::schema::{self, Found};

/// How long reads skip a primary that failed, going to the standby.
const PRIMARY_BACKOFF: Duration = Duration::from_secs(1);

/// One server: its pool and its address as messages show it.
struct Server {
    pool: Pool,
    at: String,
}

/// A MySQL database as a results store (README, *MySQL*). Jobs write to
/// the primary; reads go to the primary and fall back to the standby.
pub struct MysqlStore {
    primary: Server,
    standby: Option<Server>,
    create_table: bool,
    concurrency: usize,
    timeout: Duration,
    /// Reads skip the primary until then (it just failed).
    primary_down_until: Mutex<Option<Instant>>,
    /// Whether the last read was answered by the standby.
    on_standby: AtomicBool,
    /// The run lease, on the primary.
    lease: LeaseKeeper<MysqlLease>,
}

impl MysqlStore {
    /// The store of `opts`, with `connections` connections per server at
    /// most. Connects to nothing yet.
    fn open(opts: &MysqlOptions, connections: usize) -> Result<Self, StoreError> {
        let server = |url: &str| -> Result<Server, StoreError> {
            let at = redacted(url);
            let client = opts
                .client_opts(url, connections)
                .map_err(|message| StoreError::Sql {
                    store: format!("MySQL {at}"),
                    message,
                })?;
            Ok(Server {
                pool: Pool::new(client),
                at,
            })
        };
        let primary = server(&opts.url)?;
        let lease = LeaseKeeper::new(MysqlLease {
            pool: primary.pool.clone(),
            store: format!("MySQL {}", primary.at),
        });
        Ok(Self {
            lease,
            primary,
            standby: opts.standby_url.as_deref().map(server).transpose()?,
            create_table: opts.create_table,
            concurrency: opts.concurrency.max(1),
            timeout: opts.timeout,
            primary_down_until: Mutex::new(None),
            on_standby: AtomicBool::new(false),
        })
    }

    /// The store the jobs publish to (the primary; `concurrency`
    /// connections).
    pub fn for_jobs(opts: &MysqlOptions) -> Result<Self, StoreError> {
        Self::open(opts, opts.concurrency.max(1) + 1)
    }

    /// The store the read API reads: each read waits `opts.timeout` at
    /// most on the primary, then as long on the standby.
    pub fn for_reads(opts: &MysqlOptions) -> Result<Self, StoreError> {
        Self::open(opts, 64)
    }

    /// Closes the connections.
    pub async fn disconnect(self) {
        let _ = self.primary.pool.disconnect().await;
        if let Some(s) = self.standby {
            let _ = s.pool.disconnect().await;
        }
    }

    /// Whether the schema is there, checked (a missing one holds nothing).
    async fn schema(&self) -> Result<Found, StoreError> {
        let mut conn = crate::connect(&self.primary.pool, &self.name()).await?;
        schema::check(&mut conn, &self.name()).await
    }

    /// One read of (`variant`, `category`) on `server`, within the timeout.
    async fn read_on(
        &self,
        server: &Server,
        variant: &str,
        category: &str,
    ) -> Result<Option<StoredGroup>, String> {
        let read = async {
            let mut conn = server.pool.get_conn().await.map_err(|e| e.to_string())?;
            crate::read::get_group(&mut conn, variant, category)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.timeout, read).await {
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
            Ok(Err(e)) => Err(e),
            Ok(Ok(None)) => Ok(None),
            Ok(Ok(Some(Ok(g)))) => Ok(Some(g)),
            Ok(Ok(Some(Err(e)))) => Err(format!("the row of {variant:?}/{category:?}: {e}")),
        }
    }

    fn primary_skipped(&self) -> bool {
        let until = self.primary_down_until.lock().map(|g| *g).unwrap_or(None);
        until.is_some_and(|t| Instant::now() < t)
    }

    fn mark_primary(&self, down: bool) {
        if let Ok(mut g) = self.primary_down_until.lock() {
            *g = down.then(|| Instant::now() + PRIMARY_BACKOFF);
        }
    }

    async fn ping(&self, server: &Server) -> Result<(), String> {
        let ping = async {
            let mut conn = server.pool.get_conn().await?;
            conn.ping().await
        };
        match tokio::time::timeout(self.timeout, ping).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }
}

#[async_trait]
impl ResultStore for MysqlStore {
    fn name(&self) -> String {
        format!("MySQL {}", self.primary.at)
    }

    fn kind(&self) -> &'static str {
        "mysql"
    }

    async fn live_manifests(&self, variants: &[String]) -> Result<Vec<Manifest>, StoreError> {
        if let Found::Missing = self.schema().await? {
            return Ok(Vec::new());
        }
        let mut conn = crate::connect(&self.primary.pool, &self.name()).await?;
        crate::read::live_manifests(&mut conn, &self.name(), variants).await
    }

    async fn catalog(&self) -> Result<Catalog, StoreError> {
        if let Found::Missing = self.schema().await? {
            return Ok(Catalog::default());
        }
        let mut conn = crate::connect(&self.primary.pool, &self.name()).await?;
        crate::read::catalog(&mut conn, &self.name()).await
    }

    async fn stored_groups(&self, set: &ResultSet) -> Result<HashMap<String, Stored>, StoreError> {
        if let Found::Missing = self.schema().await? {
            return Ok(HashMap::new());
        }
        crate::read::stored_groups(&self.primary.pool, &self.name(), set, self.concurrency).await
    }

    async fn diff(&self, set: &ResultSet, top: usize) -> Result<Vec<VariantDiff>, StoreError> {
        if let Found::Missing = self.schema().await? {
            let empty = HashMap::new();
            return Ok(set
                .variants
                .iter()
                .map(|v| {
                    let live = topsellers_store::compare::LiveVariant {
                        manifest: None,
                        stored: &empty,
                        categories: Vec::new(),
                    };
                    topsellers_store::compare::variant_diff(set, v, live, top, |_, _| false)
                })
                .collect());
        }
        crate::read::diff(&self.primary.pool, &self.name(), set, top, self.concurrency).await
    }

    async fn publish(
        &self,
        set: &ResultSet,
        only_groups: Option<&BTreeSet<usize>>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<PublishReport, StoreError> {
        let name = self.name();
        let created = {
            let mut conn = crate::connect(&self.primary.pool, &name).await?;
            schema::ensure(&mut conn, &name, self.create_table).await?
        };
        let target = crate::publish::Target {
            pool: &self.primary.pool,
            store: &name,
            created,
            concurrency: self.concurrency,
            lease: self.lease.held(),
        };
        crate::publish::publish(target, set, only_groups, progress).await
    }

    async fn get_group(
        &self,
        variant: &str,
        category: &str,
    ) -> Result<Option<StoredGroup>, StoreError> {
        let fail = |message: String| StoreError::Read {
            store: self.name(),
            message,
        };
        let mut primary_error = None;
        if self.standby.is_none() || !self.primary_skipped() {
            match self.read_on(&self.primary, variant, category).await {
                Ok(g) => {
                    self.mark_primary(false);
                    self.on_standby.store(false, Ordering::Relaxed);
                    return Ok(g);
                }
                Err(e) => {
                    self.mark_primary(true);
                    primary_error = Some(e);
                }
            }
        }
        let Some(standby) = &self.standby else {
            return Err(fail(primary_error.unwrap_or_default()));
        };
        match self.read_on(standby, variant, category).await {
            Ok(g) => {
                if !self.on_standby.swap(true, Ordering::Relaxed) {
                    tracing::warn!(primary = %self.primary.at, standby = %standby.at, error = primary_error.as_deref().unwrap_or("skipped after a failure"), "reading from the MySQL standby");
                }
                Ok(g)
            }
            Err(e) => Err(fail(match primary_error {
                Some(p) => format!("primary: {p}; standby {}: {e}", standby.at),
                None => format!("primary down; standby {}: {e}", standby.at),
            })),
        }
    }

    async fn acquire_lease(
        &self,
        owner: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Lease, StoreError> {
        let name = self.name();
        if owner.chars().count() > schema::MAX_OWNER {
            return Err(StoreError::Schema {
                store: name,
                message: format!(
                    "host id {owner:?} is longer than the {} characters the lease's owner column holds",
                    schema::MAX_OWNER
                ),
            });
        }
        {
            let mut conn = crate::connect(&self.primary.pool, &name).await?;
            schema::ensure_lease(&mut conn, &name, self.create_table).await?;
        }
        self.lease.acquire(owner, ttl, wait).await
    }

    async fn release_lease(&self) -> Result<(), StoreError> {
        self.lease.release().await
    }

    fn read_deadline(&self) -> Duration {
        // The primary's attempt, then the standby's.
        self.timeout * 2 + Duration::from_millis(100)
    }

    async fn ready(&self) -> Result<String, StoreError> {
        let primary = self.ping(&self.primary).await;
        if primary.is_ok() && !self.primary_skipped() {
            return Ok(format!("primary {}", self.primary.at));
        }
        let fail = |message: String| StoreError::Read {
            store: self.name(),
            message,
        };
        let Some(standby) = &self.standby else {
            return Err(fail(primary.err().unwrap_or_default()));
        };
        match (self.ping(standby).await, primary) {
            (Ok(()), Err(e)) => Ok(format!(
                "standby {} (primary {}: {e})",
                standby.at, self.primary.at
            )),
            (Ok(()), Ok(())) => Ok(format!(
                "standby {} (primary {} failed a read within the last second)",
                standby.at, self.primary.at
            )),
            (Err(s), Err(p)) => Err(fail(format!("primary: {p}; standby {}: {s}", standby.at))),
            (Err(_), Ok(())) => Ok(format!("primary {}", self.primary.at)),
        }
    }
}
