//! The seam between the jobs and where results live: what `run`,
//! `publish` and the read API need from a results store, whatever it is.
//! DynamoDB ([`crate::DynamoStore`]) is the first implementation; MySQL
//! (crate `topsellers-mysql`) the second.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use topsellers_lake::ResultSet;

use crate::error::StoreError;
use crate::lease::Lease;
use crate::model::{Catalog, Manifest, PublishReport, Stored, StoredGroup, VariantDiff};

/// A results store: one published body per (variant, category) and one
/// manifest per variant, written under the generation rule (SPEC section 4:
/// a result is never replaced by one of an older generation).
#[async_trait]
pub trait ResultStore: Send + Sync {
    /// The store as messages name it (`DynamoDB table topsellers`).
    fn name(&self) -> String;

    /// The kind of store, as `/readyz` names it (`dynamodb`, `mysql`).
    fn kind(&self) -> &'static str;

    /// The live manifests of `variants` (those that have one); a store not
    /// created yet holds none.
    async fn live_manifests(&self, variants: &[String]) -> Result<Vec<Manifest>, StoreError>;

    /// What the store holds for every group of `set`, by
    /// [`crate::group_key`]; a key absent from the map is not stored.
    async fn stored_groups(&self, set: &ResultSet) -> Result<HashMap<String, Stored>, StoreError>;

    /// What publishing `set` would change, over the first `top` positions
    /// of each category (dry runs).
    async fn diff(&self, set: &ResultSet, top: usize) -> Result<Vec<VariantDiff>, StoreError>;

    /// Publishes `set` under the generation rule, manifests last; with
    /// `only_groups`, writes only those groups (indexes into `set.groups`)
    /// but still the whole run's manifests. `progress` receives the number
    /// of groups settled as they are.
    async fn publish(
        &self,
        set: &ResultSet,
        only_groups: Option<&BTreeSet<usize>>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<PublishReport, StoreError>;

    /// The published group of (`variant`, `category`), `None` when nothing
    /// is published for it: the read API's one read. A call ends within
    /// [`ResultStore::read_deadline`].
    async fn get_group(
        &self,
        variant: &str,
        category: &str,
    ) -> Result<Option<StoredGroup>, StoreError>;

    /// Every published variant and category ([`Catalog`]), for browsing:
    /// it may read the whole store, so it is never on the read API's path.
    async fn catalog(&self) -> Result<Catalog, StoreError>;

    /// The longest one [`ResultStore::get_group`] can take, its retries
    /// included: a bound put around the call must be at least this.
    fn read_deadline(&self) -> Duration;

    /// Takes the store's run lease for host `owner` (README, *Two hosts*),
    /// waiting up to `wait` while another host holds it, and keeps it
    /// renewed until [`ResultStore::release_lease`]. While it is held,
    /// `publish` checks it before writing each variant and the manifest
    /// write refuses a token that is no longer the current one
    /// ([`StoreError::Fenced`]). The table or schema is created first when
    /// the store is set to create it.
    async fn acquire_lease(
        &self,
        owner: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Lease, StoreError>;

    /// Stops renewing the lease and expires it, so that another host may
    /// take it at once (its token is kept: the next one counts on).
    async fn release_lease(&self) -> Result<(), StoreError>;

    /// Whether the store answers (the read API's readiness probe), and
    /// which server reads use now (a store with a standby says which).
    async fn ready(&self) -> Result<String, StoreError>;
}
