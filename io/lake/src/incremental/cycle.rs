//! One incremental cycle: the state at `T1` moved to the plan's `as_of`, or
//! rebuilt from the lake when it cannot be trusted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use topsellers_engine::{
    CategoryOutcome, CategoryState, RowCounts, Scored, ScoringPlan, WindowCheck,
};

use super::identity::footer_crc;
use super::rows::{visit_rows, FileRead, TimeSpan};
use super::{fingerprint, load, CycleReport, FileEntry, State};
use crate::columns::ItemKind;
use crate::discover::LakeFile;
use crate::discover::{discover_where, dt_range_ns, Symlinks};
use crate::error::LakeError;
use crate::scan::{scan_files, ScanOptions};
use crate::timefmt::rfc3339;

/// Where the lake and the state are.
#[derive(Debug, Clone)]
pub struct CycleOptions {
    /// The local lake folder.
    pub lake: PathBuf,
    /// The state file.
    pub state_path: PathBuf,
    /// How to read the lake.
    pub scan: ScanOptions,
}

/// A finished cycle: the state to save once the results are published, and
/// the results.
pub struct CycleOutput {
    /// The state at the plan's `as_of`.
    pub state: State,
    /// Every category's results, as a full scan returns them.
    pub outcomes: Vec<CategoryOutcome>,
    /// What the cycle did.
    pub report: CycleReport,
}

/// A lake file found by this cycle.
struct Found {
    category: String,
    dt: Option<chrono::NaiveDate>,
    path: PathBuf,
    size: u64,
    mtime_ns: i64,
}

/// Why a cycle cannot go on from the state (it is then rebuilt), or a real
/// failure of the lake.
enum Stop {
    Mismatch(String),
    Io(LakeError),
}

impl From<LakeError> for Stop {
    fn from(e: LakeError) -> Self {
        Stop::Io(e)
    }
}

/// The state a cycle starts from: usable, or to be rebuilt (and why).
pub enum Prior {
    /// A state that matches the parameters, the lake and the `as_of`.
    Usable(Box<State>),
    /// The reason the state must be rebuilt.
    Rebuild(String),
}

impl Prior {
    /// Whether the cycle will rebuild (and so needs the whole lake).
    pub fn rebuilds(&self) -> bool {
        matches!(self, Prior::Rebuild(_))
    }
}

/// Loads the state and checks it against the parameters, the lake and the
/// plan's `as_of`: done before the sync, which lists only recent partitions
/// for a usable state and everything for a rebuild.
pub fn prepare(opts: &CycleOptions, plan: &ScoringPlan) -> Prior {
    let fp = fingerprint(plan, &opts.scan.columns);
    let lake = std::fs::canonicalize(&opts.lake);
    match load(&opts.state_path) {
        Err(e) => Prior::Rebuild(format!(
            "the state file {} cannot be used: {e}",
            opts.state_path.display()
        )),
        Ok(None) => Prior::Rebuild("there is no state yet".to_string()),
        Ok(Some(s)) if s.fingerprint != fp => {
            Prior::Rebuild("the scoring parameters differ from the state's".to_string())
        }
        Ok(Some(s)) => match lake {
            // Not another lake: say why it cannot be resolved (the local copy
            // of an S3 lake may be gone until the sync restores it).
            Err(e) => Prior::Rebuild(format!(
                "the lake {} cannot be resolved: {e}",
                opts.lake.display()
            )),
            Ok(lake) if lake != s.lake => Prior::Rebuild(format!(
                "the state was built from another lake ({})",
                s.lake.display()
            )),
            Ok(_) if s.as_of_ns > plan.as_of_ns => Prior::Rebuild(format!(
                "as_of {} is before the state's {}",
                rfc3339(plan.as_of_ns),
                rfc3339(s.as_of_ns)
            )),
            Ok(_) => Prior::Usable(Box::new(s)),
        },
    }
}

/// Runs one cycle from the state file: [`prepare`], then [`advance_from`].
pub fn advance(opts: &CycleOptions, plan: &ScoringPlan) -> Result<CycleOutput, LakeError> {
    let started = Instant::now();
    let prior = prepare(opts, plan);
    let load_s = started.elapsed().as_secs_f64();
    let mut out = advance_from(opts, plan, prior)?;
    out.report.load_s = load_s;
    Ok(out)
}

/// Runs one cycle from `prior`. The state file is not written; the caller
/// saves [`CycleOutput::state`] once the results are published.
pub fn advance_from(
    opts: &CycleOptions,
    plan: &ScoringPlan,
    prior: Prior,
) -> Result<CycleOutput, LakeError> {
    let fp = fingerprint(plan, &opts.scan.columns);
    let lake = std::fs::canonicalize(&opts.lake).map_err(|e| LakeError::io(&opts.lake, e))?;
    let mut report = CycleReport::default();
    let reason = match prior {
        Prior::Usable(state) => {
            report.from_as_of = Some(rfc3339(state.as_of_ns));
            match update(opts, plan, &lake, &fp, *state, &mut report) {
                Ok(out) => return Ok(out),
                Err(Stop::Io(e)) => return Err(e),
                Err(Stop::Mismatch(reason)) => reason,
            }
        }
        Prior::Rebuild(reason) => reason,
    };
    tracing::warn!(%reason, "rebuilding the incremental state with a full recompute");
    let mut report = CycleReport {
        from_as_of: report.from_as_of,
        ..CycleReport::default()
    };
    rebuild(opts, plan, &lake, &fp, reason, &mut report)
}

/// Lists the lake's files whose partitions meet `(lo, hi]`, with size and
/// modification time.
fn discover(root: &Path, links: Symlinks, lo: i64, hi: i64) -> Result<Vec<Found>, LakeError> {
    let keep_dt = |dt| {
        let (start, end) = dt_range_ns(dt);
        end - 1 > lo && start <= hi
    };
    let found = discover_where(root, links, &keep_dt)?;
    found
        .files
        .into_par_iter()
        .map(|f| {
            let meta = std::fs::metadata(&f.path).map_err(|e| LakeError::io(&f.path, e))?;
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i64);
            let path = f
                .path
                .strip_prefix(root)
                .map(Path::to_path_buf)
                .unwrap_or(f.path.clone());
            Ok(Found {
                category: f.category,
                dt: f.dt,
                path,
                size: meta.len(),
                mtime_ns,
            })
        })
        .collect()
}

fn entry(f: &Found, read: &FileRead) -> FileEntry {
    FileEntry {
        category: f.category.clone(),
        size: f.size,
        mtime_ns: f.mtime_ns,
        footer_crc: read.footer_crc,
        span: read.span,
    }
}

/// What updating one category gave.
#[derive(Default)]
struct CategoryDelta {
    state: Option<CategoryState>,
    /// Entries of its new files.
    entries: Vec<(PathBuf, FileEntry)>,
    /// Why it must be recomputed in full, if it must.
    recompute: Option<String>,
    reread: u64,
    /// Reads of lake files.
    reads: u64,
    rows: u64,
    added: u64,
    expired: u64,
    /// The id type of every file read for it.
    kinds: Vec<ItemKind>,
}

/// Records `kind` as the lake's id type, or says it is another one. A full
/// scan refuses a lake of mixed id types; the cycle's files are only part of
/// it, so a disagreement rebuilds, and the rebuild's full scan of the lake
/// decides (it refuses the lake, or finds the other type long gone).
fn same_kind(lake_kind: &mut Option<ItemKind>, kind: ItemKind, what: &str) -> Result<(), Stop> {
    match lake_kind {
        Some(k) if *k != kind => Err(Stop::Mismatch(format!(
            "{what} holds item ids that are {} where the state's are {}",
            kind.name(),
            k.name()
        ))),
        _ => {
            *lake_kind = Some(kind);
            Ok(())
        }
    }
}

fn update(
    opts: &CycleOptions,
    plan: &ScoringPlan,
    lake: &Path,
    fp: &str,
    mut state: State,
    report: &mut CycleReport,
) -> Result<CycleOutput, Stop> {
    let (t1, t) = (state.as_of_ns, plan.as_of_ns);
    let wmax = plan.windows.max_ns();
    let started = Instant::now();
    let found = discover(&opts.lake, opts.scan.symlinks, t1.saturating_sub(wmax), t)?;
    report.files_found = found.len() as u64;
    let by_path: HashMap<&Path, &Found> = found.iter().map(|f| (f.path.as_path(), f)).collect();
    for (path, e) in &state.files {
        match by_path.get(path.as_path()) {
            None if e.span.max_ns > t1.saturating_sub(wmax) => {
                return Err(Stop::Mismatch(format!(
                    "{} was folded into the state but is no longer in the lake",
                    path.display()
                )))
            }
            Some(f) if (f.size, f.mtime_ns) != (e.size, e.mtime_ns) => {
                return Err(Stop::Mismatch(format!(
                    "{} changed since it was folded into the state (size or modification time)",
                    path.display()
                )))
            }
            _ => {}
        }
    }
    // Same size and time: the footer says whether the content is the same.
    let changed = state
        .files
        .par_iter()
        .filter(|(path, _)| by_path.contains_key(path.as_path()))
        .map(|(path, e)| {
            let crc = footer_crc(&opts.lake.join(path))?;
            Ok((crc != Some(e.footer_crc)).then_some(path))
        })
        .collect::<Result<Vec<_>, LakeError>>()?;
    if let Some(path) = changed.into_iter().flatten().next() {
        return Err(Stop::Mismatch(format!(
            "{} changed since it was folded into the state (its Parquet footer differs)",
            path.display()
        )));
    }
    report.discover_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    // Per category: its known files (with spans) and its new files.
    let mut known: BTreeMap<&str, Vec<(PathBuf, TimeSpan)>> = BTreeMap::new();
    for (path, e) in &state.files {
        if by_path.contains_key(path.as_path()) {
            known
                .entry(e.category.as_str())
                .or_default()
                .push((path.clone(), e.span));
        }
    }
    let mut fresh: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    for f in &found {
        if !state.files.contains_key(&f.path) {
            fresh.entry(f.category.as_str()).or_default().push(f);
            report.files_new += 1;
        }
    }
    // Categories the state holds nothing for (every purchase was in the
    // future, or outside the window, at t1) whose known files have
    // purchases that came of age since: recomputed like new ones.
    let matured = known.iter().filter_map(|(&c, files)| {
        let held = state.categories.contains_key(c);
        let matures = files.iter().any(|(_, span)| span.meets(t1, t));
        (!held && matures).then_some(c)
    });
    let names: BTreeSet<String> = state
        .categories
        .keys()
        .map(String::as_str)
        .chain(fresh.keys().copied())
        .chain(matured)
        .map(str::to_string)
        .collect();
    let mut work: Vec<(String, Option<CategoryState>)> = names
        .into_iter()
        .map(|c| {
            let s = state.categories.remove(&c);
            (c, s)
        })
        .collect();
    let lambdas = plan.lambdas();
    let columns = &opts.scan.columns;
    let deltas: Vec<(String, CategoryDelta)> = work
        .par_iter_mut()
        .map(|(category, prior)| {
            let mut d = CategoryDelta::default();
            let news = fresh.get(category.as_str()).map_or(&[][..], |v| &v[..]);
            let Some(mut c) = prior.take() else {
                // A category the state does not hold: recomputed in full,
                // which reads its files (their entries and id type too).
                d.recompute = Some(if news.is_empty() {
                    "purchases came of age in a category the state held empty".into()
                } else {
                    "new in the lake".into()
                });
                return Ok((category.clone(), d));
            };
            if c.reanchor_due(t, &lambdas) {
                // Its weights would outgrow an f64: rebuilt, anchored at t.
                d.recompute = Some("its scores' anchor is too old".into());
                return Ok((category.clone(), d));
            }
            let w = c.window_ns;
            let mut mismatch = None;
            // Taken back: counted at t1, outside the window at t.
            let (lo, hi) = (t1.saturating_sub(w), t.saturating_sub(w).min(t1));
            for (path, span) in known.get(category.as_str()).into_iter().flatten() {
                let expire = hi > lo && span.meets(lo, hi);
                // Came of age: in the future at t1, counted at t.
                let (mlo, mhi) = (t1.max(t.saturating_sub(w)), t);
                let mature = span.max_ns > t1 && span.meets(mlo, mhi);
                if expire {
                    d.reread += 1;
                    d.reads += 1;
                    let read = visit_rows(
                        &opts.lake.join(path),
                        columns,
                        lo,
                        hi,
                        &mut |item, ts, q| {
                            d.expired += 1;
                            if let Err(e) = c.expire(item, ts, q, &lambdas) {
                                mismatch.get_or_insert(format!(
                                    "{}: item {} expires a purchase the state does not hold",
                                    path.display(),
                                    e.item
                                ));
                            }
                        },
                    )?;
                    d.rows += read.rows_decoded;
                }
                if mature {
                    d.reread += u64::from(!expire);
                    d.reads += 1;
                    let read = visit_rows(
                        &opts.lake.join(path),
                        columns,
                        mlo,
                        mhi,
                        &mut |item, ts, q| {
                            d.added += 1;
                            c.add(item, ts, q, &lambdas);
                        },
                    )?;
                    d.rows += read.rows_decoded;
                }
            }
            if let Some(m) = mismatch {
                return Err(Stop::Mismatch(m));
            }
            for f in news {
                d.reads += 1;
                let read = visit_rows(
                    &opts.lake.join(&f.path),
                    columns,
                    t.saturating_sub(w),
                    t,
                    &mut |item, ts, q| {
                        d.added += 1;
                        c.add(item, ts, q, &lambdas);
                    },
                )?;
                d.rows += read.rows_decoded;
                d.kinds.push(read.kind);
                d.entries.push((f.path.clone(), entry(f, &read)));
            }
            match c.check_window(t, &plan.windows, plan.min_items) {
                WindowCheck::Keep => d.state = Some(c),
                WindowCheck::Changed => d.recompute = Some("its window changes".into()),
            }
            Ok((category.clone(), d))
        })
        .collect::<Result<_, Stop>>()?;
    let mut recompute = BTreeMap::new();
    for (category, d) in deltas {
        for &kind in &d.kinds {
            same_kind(
                &mut state.item_kind,
                kind,
                &format!("a new file of category {category:?}"),
            )?;
        }
        report.files_reread += d.reread;
        report.file_reads += d.reads;
        report.rows_decoded += d.rows;
        report.purchases_added += d.added;
        report.purchases_expired += d.expired;
        state.files.extend(d.entries);
        match (d.state, d.recompute) {
            (_, Some(why)) => {
                recompute.insert(category, why);
            }
            (Some(c), None) if !c.is_empty() => {
                state.categories.insert(category, c);
            }
            _ => {}
        }
    }
    report.update_s = started.elapsed().as_secs_f64();
    // Only files the lake still lists stay in the manifest.
    state.files.retain(|p, _| by_path.contains_key(p.as_path()));
    state.as_of_ns = t;
    state.fingerprint = fp.to_string();
    state.lake = lake.to_path_buf();
    report.mode = "incremental";
    let started = Instant::now();
    if !recompute.is_empty() {
        let only: BTreeSet<String> = recompute.keys().cloned().collect();
        let files: Vec<&Found> = found
            .iter()
            .filter(|f| only.contains(&f.category))
            .collect();
        let (states, entries, kind) = recompute_categories(opts, plan, &files)?;
        report.files_recomputed = files.len() as u64;
        report.file_reads += 2 * files.len() as u64;
        if let Some(kind) = kind {
            same_kind(&mut state.item_kind, kind, "a category recomputed in full")?;
        }
        state.files.extend(entries);
        state.categories.extend(states);
    }
    report.recompute_s = started.elapsed().as_secs_f64();
    report.recomputed = recompute;
    Ok(finish(plan, state, report.clone()))
}

/// The states of categories recomputed in full, their files' entries, and
/// the id type of those files (`None` without files).
type Recomputed = (
    BTreeMap<String, CategoryState>,
    Vec<(PathBuf, FileEntry)>,
    Option<ItemKind>,
);

/// Recomputes the categories of `files` in full: the fast scan chooses each
/// window (and refuses files of mixed id types), then each category's
/// in-window rows are read into its state.
fn recompute_categories(
    opts: &CycleOptions,
    plan: &ScoringPlan,
    files: &[&Found],
) -> Result<Recomputed, LakeError> {
    let (scanned, kind) = if files.is_empty() {
        (Vec::new(), None)
    } else {
        let listed = files
            .iter()
            .map(|f| LakeFile {
                category: f.category.clone(),
                dt: f.dt,
                path: opts.lake.join(&f.path),
            })
            .collect();
        let out = scan_files(listed, &opts.scan, plan, &|_| {})?;
        (out.outcomes, out.item_kind)
    };
    let windows: HashMap<&str, i64> = scanned
        .iter()
        .filter_map(|o| {
            o.scored
                .as_ref()
                .map(|s| (o.category.as_str(), s.window_ns))
        })
        .collect();
    let lambdas = plan.lambdas();
    let (t, variants) = (plan.as_of_ns, plan.variants.len());
    // One state per file, read in parallel, then merged in file order.
    let parts: Vec<(Option<CategoryState>, (PathBuf, FileEntry))> = files
        .par_iter()
        .map(|f| {
            let w = windows.get(f.category.as_str()).copied();
            let mut s = w.map(|w| CategoryState::new(w, t, variants));
            let (lo, hi) = w.map_or((t, t - 1), |w| (t.saturating_sub(w), t));
            let read = visit_rows(
                &opts.lake.join(&f.path),
                &opts.scan.columns,
                lo,
                hi,
                &mut |item, ts, q| {
                    if let Some(s) = s.as_mut() {
                        s.add(item, ts, q, &lambdas);
                    }
                },
            )?;
            Ok((s, (f.path.clone(), entry(f, &read))))
        })
        .collect::<Result<_, LakeError>>()?;
    let mut states: BTreeMap<String, CategoryState> = BTreeMap::new();
    let mut entries = Vec::with_capacity(parts.len());
    for (s, (path, e)) in parts {
        if let Some(part) = s {
            let merged = states
                .entry(e.category.clone())
                .or_insert_with(|| CategoryState::new(part.window_ns, t, variants));
            for (id, count, newest, scores) in part.items() {
                merged.insert(id.clone(), count, newest, scores);
            }
        }
        entries.push((path, e));
    }
    states.retain(|_, s| !s.is_empty());
    Ok((states, entries, kind))
}

fn rebuild(
    opts: &CycleOptions,
    plan: &ScoringPlan,
    lake: &Path,
    fp: &str,
    reason: String,
    report: &mut CycleReport,
) -> Result<CycleOutput, LakeError> {
    let t = plan.as_of_ns;
    let started = Instant::now();
    let found = discover(
        &opts.lake,
        opts.scan.symlinks,
        t.saturating_sub(plan.windows.max_ns()),
        t,
    )?;
    report.discover_s = started.elapsed().as_secs_f64();
    report.files_found = found.len() as u64;
    let started = Instant::now();
    let files: Vec<&Found> = found.iter().collect();
    let (categories, entries, item_kind) = recompute_categories(opts, plan, &files)?;
    report.files_recomputed = files.len() as u64;
    report.file_reads = 2 * files.len() as u64;
    report.recompute_s = started.elapsed().as_secs_f64();
    report.mode = "rebuild";
    report.rebuild_reason = Some(reason);
    let state = State {
        fingerprint: fp.to_string(),
        lake: lake.to_path_buf(),
        as_of_ns: t,
        item_kind,
        variants: plan.variants.len(),
        files: entries.into_iter().collect(),
        categories,
    };
    Ok(finish(plan, state, report.clone()))
}

/// The results of every category held, as a full scan reports them.
fn finish(plan: &ScoringPlan, mut state: State, mut report: CycleReport) -> CycleOutput {
    state.variants = plan.variants.len();
    let outcomes: Vec<CategoryOutcome> = state
        .categories
        .par_iter()
        .map(|(name, c)| CategoryOutcome {
            category: name.clone(),
            // The state holds counted purchases only; what was skipped on
            // the way is in the cycle report.
            counts: RowCounts {
                in_max_window: c.counted(),
                ..RowCounts::default()
            },
            scored: Some(Scored {
                window_ns: c.window_ns,
                counted: c.counted(),
                distinct_items: c.len(),
                top: plan
                    .variants
                    .iter()
                    .enumerate()
                    .map(|(v, variant)| c.top(v, plan.top, plan.as_of_ns, variant.lambda_per_sec))
                    .collect(),
            }),
        })
        .collect();
    report.categories = state.categories.len() as u64;
    report.items = state.categories.values().map(|c| c.len() as u64).sum();
    CycleOutput {
        state,
        outcomes,
        report,
    }
}
