//! Command-line arguments (clap), before validation into options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::units::{parse_count, parse_duration_ns, parse_duration_or_zero_ns, parse_variant};

/// Exact, time-decayed top sellers per category, from a Parquet lake.
#[derive(Debug, Parser)]
#[command(name = "topsellers", version, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr [default: text; `run` also reads log_format from its config].
    #[arg(
        long,
        global = true,
        value_enum,
        env = "TOPSELLERS_LOG_FORMAT",
        help_heading = "Global options"
    )]
    pub log_format: Option<LogFormat>,
    /// More logging (-v: debug, -vv: trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a synthetic purchase lake.
    Gen(GenArgs),
    /// Add newline-delimited JSON purchase events (plain or gzip) to a lake.
    Ingest(IngestArgs),
    /// Compute the top sellers of a lake into a results file.
    Compute(ComputeArgs),
    /// Generate a small lake, compute it and show the results (no services needed).
    Demo(DemoArgs),
    /// Copy a lake from S3 to a local folder (incremental, atomic, resumable).
    Sync(SyncArgs),
    /// Publish a results file to the store (DynamoDB or MySQL) and warm Redis.
    Publish(PublishArgs),
    /// Sync, compute, validate and publish: the scheduled job.
    Run(RunArgs),
    /// Serve the published top sellers over HTTP (Redis, then the store).
    Serve(Box<ServeArgs>),
    /// Replay as_of over a period and score how well each variant's top N predicts the next horizon.
    Backtest(BacktestArgs),
    /// Explain an item's score and rank: window steps, contributions by day, neighbours.
    Explain(ExplainArgs),
}

/// `topsellers sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Source: s3://BUCKET/PREFIX.
    #[arg(long, env = "TOPSELLERS_SYNC_FROM")]
    pub from: String,
    /// Local lake folder.
    #[arg(long, env = "TOPSELLERS_SYNC_TO")]
    pub to: PathBuf,
    /// Skip dt= partitions older than this before --as-of (e.g. 395d); default: copy all.
    #[arg(long, value_parser = parse_duration_ns, env = "TOPSELLERS_SYNC_HORIZON")]
    pub horizon: Option<i64>,
    /// Reference time for --horizon (RFC 3339); default now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Remove local files whose objects are gone (or fell out of the horizon).
    #[arg(long)]
    pub delete: bool,
    /// List what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Objects downloaded at once.
    #[arg(long, default_value_t = 32, env = "TOPSELLERS_SYNC_CONCURRENCY")]
    pub concurrency: usize,
    /// Objects larger than this are fetched as parallel ranged GETs of this size.
    #[arg(long, default_value = "8M", value_parser = parse_count)]
    pub part_size: u64,
    /// Bucket addressing: path style is used whenever an endpoint is overridden.
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        env = "TOPSELLERS_S3_PATH_STYLE"
    )]
    pub path_style: PathStyle,
    /// Write the sync report (JSON) here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// `--path-style` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PathStyle {
    /// Path style when AWS_ENDPOINT_URL(_S3) is set, else virtual-hosted.
    Auto,
    /// Always path style.
    Path,
    /// Always virtual-hosted style.
    Virtual,
}

/// `topsellers ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files of newline-delimited JSON events, plain or gzip; `-` reads standard input.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The lake: a folder (created when missing) or s3://BUCKET/PREFIX (files are
    /// staged locally, then uploaded as new objects only when the run succeeds).
    #[arg(long, env = "TOPSELLERS_LAKE")]
    pub lake: PathBuf,
    /// S3 lake: folder to stage the run's files in before upload (default: the system temp folder).
    #[arg(long, env = "TOPSELLERS_INGEST_STAGING_DIR")]
    pub staging_dir: Option<PathBuf>,
    /// S3 lake: files of at least this size go up as multipart uploads.
    #[arg(long, default_value = "16M", value_parser = parse_count, env = "TOPSELLERS_INGEST_MULTIPART_THRESHOLD")]
    pub multipart_threshold: u64,
    /// S3 lake: multipart part size in bytes (at least 5 MiB = 5242880; M = 10^6).
    #[arg(long, default_value = "8M", value_parser = parse_count, env = "TOPSELLERS_INGEST_PART_SIZE")]
    pub part_size: u64,
    /// S3 lake: uploads (files and parts) in flight at once.
    #[arg(
        long,
        default_value_t = 8,
        env = "TOPSELLERS_INGEST_UPLOAD_CONCURRENCY"
    )]
    pub upload_concurrency: usize,
    /// S3 lake: bucket addressing; path style is used whenever an endpoint is overridden.
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        env = "TOPSELLERS_S3_PATH_STYLE"
    )]
    pub path_style: PathStyle,
    /// Quarantine file for bad lines (JSON lines); default <lake>/_quarantine/ingest-<run id>.jsonl
    /// (./_quarantine/… for an S3 lake).
    #[arg(long)]
    pub quarantine: Option<PathBuf>,
    /// Fail, adding nothing to the lake, when more than this fraction of the non-blank lines is bad.
    #[arg(long, default_value_t = 0.01, env = "TOPSELLERS_MAX_BAD_FRACTION")]
    pub max_bad_fraction: f64,
    /// Run report (JSON).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Temporary files of ingest's own naming untouched this long are a killed run's: removed
    /// before the run writes (0: all of them, only when no other ingest writes to the lake).
    #[arg(long, default_value = "1h", value_parser = parse_duration_or_zero_ns, env = "TOPSELLERS_INGEST_STALE_TEMP_GRACE")]
    pub stale_temp_grace: i64,
    /// Item id field; several, comma-separated: the first present wins.
    #[arg(long, value_delimiter = ',', default_value = "item_id")]
    pub item_field: Vec<String>,
    /// Category field(s).
    #[arg(long, value_delimiter = ',', default_value = "category,category_id")]
    pub category_field: Vec<String>,
    /// Purchase time field(s): RFC 3339 strings, or epoch numbers in s, ms, µs or ns (read by magnitude).
    #[arg(long, value_delimiter = ',', default_value = "ts,purchased_at")]
    pub time_field: Vec<String>,
    /// Quantity field(s) (optional in events).
    #[arg(long, value_delimiter = ',', default_value = "quantity")]
    pub quantity_field: Vec<String>,
    /// Item id type; default: the lake's, else the first valid event's.
    #[arg(long, value_enum)]
    pub id_type: Option<IdType>,
    /// Rows per Parquet file (a single row group) at most.
    #[arg(long, default_value = "1M", value_parser = parse_count)]
    pub row_group_rows: u64,
    /// Rows buffered across all partitions at most; past it the largest are written out.
    #[arg(long, default_value = "8M", value_parser = parse_count, env = "TOPSELLERS_INGEST_MAX_BUFFERED_ROWS")]
    pub max_buffered_rows: u64,
    /// Worker threads (default: all cores).
    #[arg(long, env = "TOPSELLERS_THREADS")]
    pub threads: Option<usize>,
}

/// `topsellers gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Folder to create the lake in (must not exist).
    #[arg(long, env = "TOPSELLERS_GEN_OUT")]
    pub out: PathBuf,
    /// Total purchases (e.g. 100M, 500k).
    #[arg(long, default_value = "1M", value_parser = parse_count)]
    pub purchases: u64,
    /// Number of categories (a fifth of them sparse, see --sparse-fraction).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub categories: u32,
    /// Days of history of the dense categories (sparse ones span a year).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// File layout.
    #[arg(long, value_enum, default_value = "category")]
    pub layout: LayoutArg,
    /// Item id type.
    #[arg(long, value_enum, default_value = "int")]
    pub id_type: IdType,
    /// Write a quantity column.
    #[arg(long)]
    pub quantity: bool,
    /// Random seed (same seed, same lake).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Purchases end just before this instant (RFC 3339).
    #[arg(long, default_value = "2026-10-15T00:00:00Z")]
    pub end: String,
    /// Fraction of categories that are sparse (purchases spread over a year).
    #[arg(long, default_value_t = 0.2)]
    pub sparse_fraction: f64,
    /// Give the largest category this share of all purchases (skew tests).
    #[arg(long)]
    pub top_category_share: Option<f64>,
    /// Rows per row group.
    #[arg(long, default_value = "1M", value_parser = parse_count)]
    pub row_group_rows: u64,
    /// Worker threads (default: all cores).
    #[arg(long, env = "TOPSELLERS_THREADS")]
    pub threads: Option<usize>,
}

/// `--layout` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayoutArg {
    /// `category=<c>/part-00000.parquet`.
    Category,
    /// `category=<c>/dt=<day>/part-00000.parquet`.
    #[value(name = "category/dt")]
    CategoryDt,
}

/// `--id-type` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum IdType {
    /// INT64 ids.
    Int,
    /// UTF8 ids.
    String,
}

/// `topsellers compute`.
#[derive(Debug, Args)]
pub struct ComputeArgs {
    /// The lake: a folder (`<lake>/category=<c>/[dt=<d>/]*.parquet`) or
    /// s3://BUCKET/PREFIX (synced to --cache-dir first).
    #[arg(long, env = "TOPSELLERS_LAKE")]
    pub lake: String,
    /// Local copy of S3 lakes.
    #[arg(
        long,
        default_value = "/var/cache/topsellers",
        env = "TOPSELLERS_CACHE_DIR"
    )]
    pub cache_dir: PathBuf,
    /// Reference time (RFC 3339); purchases after it never count. Default: now.
    #[arg(long, env = "TOPSELLERS_AS_OF")]
    pub as_of: Option<String>,
    /// Half-life of the single variant `default` (e.g. 7d) [default: 7d, when neither --lambda nor --variant is given].
    #[arg(long, value_parser = parse_duration_ns, conflicts_with_all = ["lambda", "variant"], env = "TOPSELLERS_HALF_LIFE")]
    pub half_life: Option<i64>,
    /// Decay rate per day of the single variant `default`.
    #[arg(long, conflicts_with = "variant", env = "TOPSELLERS_LAMBDA")]
    pub lambda: Option<f64>,
    /// A named variant NAME=HALF_LIFE (repeatable; all scored in one scan).
    #[arg(long, value_parser = parse_variant)]
    pub variant: Vec<(String, i64)>,
    /// Windows, N and column names.
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// Results file: .csv, .json or .parquet.
    #[arg(long, env = "TOPSELLERS_OUT")]
    pub out: PathBuf,
    /// Run report (JSON).
    #[arg(long, env = "TOPSELLERS_REPORT")]
    pub report: Option<PathBuf>,
    /// Prometheus textfile metrics.
    #[arg(long, env = "TOPSELLERS_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, env = "TOPSELLERS_THREADS")]
    pub threads: Option<usize>,
    /// Decode every row group through the Arrow reader, never aggregating
    /// on dictionary codes (the same results, more slowly; for comparison).
    #[arg(long, env = "TOPSELLERS_ARROW_DECODER")]
    pub arrow_decoder: bool,
    /// Follow symbolic links in the lake whose target lies outside it
    /// (default: skip them, with a warning, counted in the report).
    #[arg(long, env = "TOPSELLERS_FOLLOW_SYMLINKS")]
    pub follow_symlinks: bool,
}

/// The scoring settings `compute`, `backtest` and `explain` share: the
/// adaptive window, N, and the lake's column names.
#[derive(Debug, Args)]
pub struct ScoringArgs {
    /// Base window W.
    #[arg(long, default_value = "30d", value_parser = parse_duration_ns, env = "TOPSELLERS_WINDOW")]
    pub window: i64,
    /// Largest window W_max.
    #[arg(long, default_value = "365d", value_parser = parse_duration_ns, env = "TOPSELLERS_MAX_WINDOW")]
    pub max_window: i64,
    /// Distinct items a window needs (default: --top).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), env = "TOPSELLERS_MIN_ITEMS")]
    pub min_items: Option<u64>,
    /// Items kept per (variant, category).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000), env = "TOPSELLERS_TOP")]
    pub top: u64,
    /// Item id column.
    #[arg(long, default_value = "item_id", env = "TOPSELLERS_ITEM_COLUMN")]
    pub item_column: String,
    /// Purchase time column.
    #[arg(long, default_value = "ts", env = "TOPSELLERS_TS_COLUMN")]
    pub ts_column: String,
    /// Quantity column (optional in the files).
    #[arg(long, default_value = "quantity", env = "TOPSELLERS_QUANTITY_COLUMN")]
    pub quantity_column: String,
}

/// `topsellers backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The lake folder (`<lake>/category=<c>/[dt=<d>/]*.parquet`).
    #[arg(long, env = "TOPSELLERS_LAKE")]
    pub lake: PathBuf,
    /// The first replay time (RFC 3339).
    #[arg(long)]
    pub from: String,
    /// The last replay time (RFC 3339), included when --every lands on it.
    #[arg(long)]
    pub to: String,
    /// Time between replay times.
    #[arg(long, default_value = "1d", value_parser = parse_duration_ns)]
    pub every: i64,
    /// The period after each replay time whose purchases the top N should predict.
    #[arg(long, default_value = "1d", value_parser = parse_duration_ns)]
    pub horizon: i64,
    /// A named variant NAME=HALF_LIFE (repeatable; all scored in one pass).
    #[arg(long, required = true, value_parser = parse_variant)]
    pub variant: Vec<(String, i64)>,
    /// Windows, N and column names.
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// The metric that picks the best variant.
    #[arg(long, value_enum, default_value = "ndcg")]
    pub metric: MetricArg,
    /// Output file, .csv (one row per variant, replay time and category) or
    /// .json (the same rows and the summaries); repeatable.
    #[arg(long, required = true)]
    pub out: Vec<PathBuf>,
    /// A PNG chart: the metric over replay time per variant, and the overall bars with intervals.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, env = "TOPSELLERS_THREADS")]
    pub threads: Option<usize>,
}

/// `--metric` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MetricArg {
    /// Purchase-weighted NDCG@N.
    Ndcg,
    /// Purchase-weighted hit rate@N.
    HitRate,
}

/// `topsellers explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The lake folder (`<lake>/category=<c>/[dt=<d>/]*.parquet`).
    #[arg(long, env = "TOPSELLERS_LAKE")]
    pub lake: PathBuf,
    /// The category.
    #[arg(long)]
    pub category: String,
    /// The item id.
    #[arg(long)]
    pub item: String,
    /// Reference time (RFC 3339); purchases after it never count. Default: now.
    #[arg(long, env = "TOPSELLERS_AS_OF")]
    pub as_of: Option<String>,
    /// A named variant NAME=HALF_LIFE (repeatable) [default: default=7d].
    #[arg(long, value_parser = parse_variant)]
    pub variant: Vec<(String, i64)>,
    /// Windows, N and column names.
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// Print the explanation as JSON (the shape of serve's /v1/explain).
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: all cores).
    #[arg(long, env = "TOPSELLERS_THREADS")]
    pub threads: Option<usize>,
}

/// `topsellers demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Working folder (the lake, results and report go here).
    #[arg(long, default_value = "topsellers-demo")]
    pub dir: PathBuf,
    /// Purchases in the demo lake.
    #[arg(long, default_value = "2M", value_parser = parse_count)]
    pub purchases: u64,
}

/// `topsellers publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Results written by `compute`: .csv, .json or .parquet.
    #[arg(long, env = "TOPSELLERS_RESULTS")]
    pub results: PathBuf,
    /// DynamoDB table (endpoint and credentials from the standard AWS chain); required with --store dynamodb.
    #[arg(long, env = "TOPSELLERS_TABLE")]
    pub table: Option<String>,
    /// The results store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Redis to warm, redis://HOST:PORT; without it the cache is not warmed.
    #[arg(long, env = "TOPSELLERS_REDIS")]
    pub redis: Option<String>,
    /// Create the table (on-demand billing) or the MySQL schema when it is missing.
    #[arg(long, env = "TOPSELLERS_CREATE_TABLE")]
    pub create_table: bool,
    /// Store requests (DynamoDB) or connections (MySQL) in flight at once.
    #[arg(long, default_value_t = 16, env = "TOPSELLERS_CONCURRENCY")]
    pub concurrency: usize,
    /// Longest TTL of the Redis keys (`--ttl` is its old name).
    #[arg(long = "cache-ttl", alias = "ttl", default_value = "24h", value_parser = parse_duration_ns, env = "TOPSELLERS_CACHE_TTL")]
    pub ttl: i64,
    /// TTLs are drawn from [ttl·(1 − jitter), ttl] (`--ttl-jitter` is its old name).
    #[arg(
        long,
        alias = "ttl-jitter",
        default_value_t = 0.1,
        env = "TOPSELLERS_CACHE_TTL_JITTER"
    )]
    pub cache_ttl_jitter: f64,
    /// Publish report (JSON).
    #[arg(long, env = "TOPSELLERS_REPORT")]
    pub report: Option<PathBuf>,
    /// Prometheus textfile metrics.
    #[arg(long, env = "TOPSELLERS_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
    /// Print what publishing would change (categories added, removed: the leavers it deletes, reordered); publish nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Which results store, and the MySQL settings (`publish`, `serve`; `run`
/// reads the same keys from its file). The MySQL password is read from
/// `TOPSELLERS_MYSQL_PASSWORD` or `--mysql-password-file`, never a flag.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Results store: dynamodb or mysql [default: dynamodb].
    #[arg(long, env = "TOPSELLERS_STORE")]
    pub store: Option<String>,
    /// MySQL/MariaDB primary, mysql://USER@HOST:PORT/DATABASE (TLS: ?require_ssl=true, verify_ca, verify_identity).
    #[arg(long, env = "TOPSELLERS_MYSQL_URL")]
    pub mysql_url: Option<String>,
    /// MySQL read-only standby that reads fall back to, mysql://USER@HOST:PORT/DATABASE.
    #[arg(long, env = "TOPSELLERS_MYSQL_STANDBY_URL")]
    pub mysql_standby_url: Option<String>,
    /// File holding the MySQL password (else TOPSELLERS_MYSQL_PASSWORD).
    #[arg(long, env = "TOPSELLERS_MYSQL_PASSWORD_FILE")]
    pub mysql_password_file: Option<String>,
    /// PEM file of certificate authorities MySQL TLS trusts (turns TLS on).
    #[arg(long, env = "TOPSELLERS_MYSQL_CA_FILE")]
    pub mysql_ca_file: Option<String>,
}

/// `topsellers run`. Settings come from the config file, then
/// `TOPSELLERS_<KEY>` environment variables, then these flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML file with the settings (see scripts/systemd/topsellers.toml).
    #[arg(long, env = "TOPSELLERS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Publish even when validation refuses the results.
    #[arg(long, conflicts_with = "dry_run")]
    pub force: bool,
    /// Compute and print what publishing would change; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The lake (overrides `lake`).
    #[arg(long)]
    pub lake: Option<String>,
    /// Reference time, RFC 3339 (overrides `as_of`; default now).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Results file (overrides `out`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run report (overrides `report`).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Metrics file (overrides `metrics_file`).
    #[arg(long)]
    pub metrics_file: Option<PathBuf>,
    /// Lock file (overrides `lock_file`).
    #[arg(long)]
    pub lock_file: Option<PathBuf>,
    /// DynamoDB table (overrides `table`).
    #[arg(long)]
    pub table: Option<String>,
    /// Results store, dynamodb or mysql (overrides `store`).
    #[arg(long)]
    pub store: Option<String>,
    /// MySQL primary URL (overrides `mysql_url`).
    #[arg(long)]
    pub mysql_url: Option<String>,
    /// MySQL standby URL (overrides `mysql_standby_url`).
    #[arg(long)]
    pub mysql_standby_url: Option<String>,
    /// File holding the MySQL password (overrides `mysql_password_file`).
    #[arg(long)]
    pub mysql_password_file: Option<PathBuf>,
    /// MySQL TLS certificate authorities (overrides `mysql_ca_file`).
    #[arg(long)]
    pub mysql_ca_file: Option<PathBuf>,
    /// Redis URL (overrides `redis`).
    #[arg(long)]
    pub redis: Option<String>,
    /// Worker threads (overrides `threads`).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Create the table when missing (overrides `create_table`).
    #[arg(long)]
    pub create_table: bool,
    /// Move the persistent state forward instead of recomputing everything:
    /// read only new files and expired partitions, publish only the
    /// categories whose top changed (overrides `incremental`).
    #[arg(long)]
    pub incremental: bool,
    /// With incremental runs: also recompute in full and fail on any
    /// difference (overrides `verify`).
    #[arg(long)]
    pub verify: bool,
    /// The incremental state file (overrides `state_file`).
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Follow symbolic links in the lake whose target lies outside it
    /// (overrides `follow_symlinks`).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// How long the store's run lease lasts unless renewed, like 60s; the
    /// run renews it every third of that (overrides `lease_ttl`).
    #[arg(long)]
    pub lease_ttl: Option<String>,
    /// This host's name in the store's run lease (overrides `host_id`;
    /// default: the hostname).
    #[arg(long)]
    pub host_id: Option<String>,
}

/// `topsellers serve`. Settings come from the `[serve]` table of the config
/// file, then `TOPSELLERS_*` environment variables, then these flags.
/// Durations take a unit (`250ms`, `2s`, `24h`); `0` turns a cache off.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML file whose `[serve]` table holds these settings (keys as the flags, with '_').
    #[arg(long, env = "TOPSELLERS_SERVE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "TOPSELLERS_LISTEN")]
    pub listen: Option<String>,
    /// DynamoDB table (endpoint and credentials from the standard AWS chain) [required with store dynamodb: here, in TOPSELLERS_TABLE or as `table` in the [serve] table of --config].
    #[arg(long, env = "TOPSELLERS_TABLE")]
    pub table: Option<String>,
    /// The results store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Longest wait for one MySQL read, on the primary and then on the standby [default: 1s].
    #[arg(long, env = "TOPSELLERS_SERVE_MYSQL_TIMEOUT")]
    pub mysql_timeout: Option<String>,
    /// Redis in front of the store, redis://HOST:PORT.
    #[arg(long, env = "TOPSELLERS_REDIS")]
    pub redis: Option<String>,
    /// Variant served when a request names none [default: default].
    #[arg(long, env = "TOPSELLERS_SERVE_DEFAULT_VARIANT")]
    pub default_variant: Option<String>,
    /// Largest `limit` a request may ask for, the published top N [default: 100].
    #[arg(long, env = "TOPSELLERS_SERVE_MAX_LIMIT")]
    pub max_limit: Option<String>,
    /// `Cache-Control: max-age` of answers [default: 5s].
    #[arg(long, env = "TOPSELLERS_SERVE_MAX_AGE")]
    pub max_age: Option<String>,
    /// TTL of the in-process cache of hot keys [default: 2s].
    #[arg(long, env = "TOPSELLERS_SERVE_LOCAL_TTL")]
    pub local_ttl: Option<String>,
    /// How long an unknown (variant, category) is remembered in-process [default: 1s].
    #[arg(long, env = "TOPSELLERS_SERVE_NEGATIVE_TTL")]
    pub negative_ttl: Option<String>,
    /// Keys the in-process cache holds at most, and unknown keys apart [default: 100k].
    #[arg(long, env = "TOPSELLERS_SERVE_LOCAL_KEYS")]
    pub local_keys: Option<String>,
    /// Longest wait for one Redis call [default: 250ms].
    #[arg(long, env = "TOPSELLERS_SERVE_REDIS_TIMEOUT")]
    pub redis_timeout: Option<String>,
    /// How long Redis is skipped after a failed call [default: 1s].
    #[arg(long, env = "TOPSELLERS_SERVE_REDIS_BACKOFF")]
    pub redis_backoff: Option<String>,
    /// Longest wait for one DynamoDB attempt; a read retries once [default: 1s].
    #[arg(long, env = "TOPSELLERS_SERVE_DYNAMODB_TIMEOUT")]
    pub dynamodb_timeout: Option<String>,
    /// Longest TTL of the Redis keys written back after a DynamoDB read [default: 24h].
    #[arg(long, env = "TOPSELLERS_CACHE_TTL")]
    pub cache_ttl: Option<String>,
    /// Written-back TTLs are drawn from [ttl·(1 − jitter), ttl] (`--ttl-jitter` is its old name) [default: 0.1].
    #[arg(long, alias = "ttl-jitter", env = "TOPSELLERS_CACHE_TTL_JITTER")]
    pub cache_ttl_jitter: Option<String>,
    /// Longest wait for in-flight requests after SIGTERM/SIGINT [default: 10s].
    #[arg(long, env = "TOPSELLERS_SERVE_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<String>,
    /// Longest a top-sellers request may take; past it, 503 [default: 5s].
    #[arg(long, env = "TOPSELLERS_SERVE_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,
    /// Top-sellers requests served at once; more get 503 at once [default: 4096].
    #[arg(long, env = "TOPSELLERS_SERVE_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<String>,
    /// Longest a connection may take to send a request head, from its start or its previous answer (so also the keep-alive idle timeout); then it is closed [default: 10s].
    #[arg(long, env = "TOPSELLERS_SERVE_HEADER_TIMEOUT")]
    pub header_timeout: Option<String>,
    /// Longest a connection may send and take no byte (a client that stops reading its answers); then it is closed [default: 60s].
    #[arg(long, env = "TOPSELLERS_SERVE_IDLE_TIMEOUT")]
    pub idle_timeout: Option<String>,
    /// Longest a request body may take to arrive after its head (no route reads one today) [default: 10s].
    #[arg(long, env = "TOPSELLERS_SERVE_BODY_TIMEOUT")]
    pub body_timeout: Option<String>,
    /// Connections open at once; past it, newcomers wait in the kernel's backlog [default: 10000].
    #[arg(long, env = "TOPSELLERS_SERVE_MAX_CONNECTIONS")]
    pub max_connections: Option<String>,
    /// Tokio worker threads [default: all cores].
    #[arg(long, env = "TOPSELLERS_THREADS")]
    pub threads: Option<String>,
    /// A/B experiment name; requests with a user id get an arm (`name` of [serve.experiment]).
    #[arg(long, env = "TOPSELLERS_SERVE_EXPERIMENT_NAME")]
    pub experiment_name: Option<String>,
    /// A/B salt: the arm of a user is a hash of salt and user id (`salt` of [serve.experiment]).
    #[arg(long, env = "TOPSELLERS_SERVE_EXPERIMENT_SALT")]
    pub experiment_salt: Option<String>,
    /// A/B arms, published variants with percent weights summing to 100: fast=10,default=80,slow=10.
    #[arg(long, env = "TOPSELLERS_SERVE_EXPERIMENT_ARMS")]
    pub experiment_arms: Option<String>,
    /// Backtest report (backtest's --out, JSON or CSV) shown on /ui.
    #[arg(long, env = "TOPSELLERS_SERVE_BACKTEST_REPORT")]
    pub backtest_report: Option<String>,
    /// Backtest chart (backtest's --chart, PNG) shown on /ui.
    #[arg(long, env = "TOPSELLERS_SERVE_BACKTEST_CHART")]
    pub backtest_chart: Option<String>,
    /// Local lake folder for GET /v1/explain (without it, explanations answer 503).
    #[arg(long, env = "TOPSELLERS_LAKE")]
    pub lake: Option<String>,
    /// Variants /v1/explain scores, NAME=HALF_LIFE,… as the job computes them [default: default=7d].
    #[arg(long, env = "TOPSELLERS_SERVE_VARIANTS")]
    pub variants: Option<String>,
}
