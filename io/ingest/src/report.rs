//! The ingest run report (`--report`, JSON).

use std::collections::BTreeMap;

use serde::Serialize;

use super::reason::BadReason;

/// What one input held.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InputReport {
    /// The input's name (`-` for standard input).
    pub source: String,
    /// Bytes read (after decompression).
    pub bytes: u64,
    /// Lines, blank and bad ones included.
    pub lines: u64,
    /// Lines holding only whitespace (ignored).
    pub blank_lines: u64,
    /// Lines quarantined.
    pub bad_lines: u64,
    /// Valid events.
    pub events: u64,
}

/// What an ingest run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestReport {
    /// The run's id (in its file names, staging folder and quarantine file).
    pub run_id: String,
    /// The lake.
    pub lake: String,
    /// `ok`, or `failed` when too many lines were bad (nothing was added).
    pub status: String,
    /// Per input.
    pub inputs: Vec<InputReport>,
    /// Lines of all inputs.
    pub lines: u64,
    /// Blank lines (ignored).
    pub blank_lines: u64,
    /// Quarantined lines.
    pub bad_lines: u64,
    /// Quarantined lines by reason.
    pub bad: BTreeMap<String, u64>,
    /// Bad lines over non-blank lines.
    pub bad_fraction: f64,
    /// The threshold the run was held to.
    pub max_bad_fraction: f64,
    /// Valid events read.
    pub events: u64,
    /// Events written to the lake (0 when the run failed).
    pub events_written: u64,
    /// Parquet files added to the lake.
    pub files_written: u64,
    /// Their total size.
    pub bytes_written: u64,
    /// For a lake in S3: the objects created (keys), their bytes and the
    /// upload time.
    pub upload: Option<topsellers_s3::UploadReport>,
    /// Distinct (category, day) partitions written to.
    pub partitions_written: u64,
    /// The lake's item id type: `int` or `string` (null when no event was valid).
    pub id_type: Option<String>,
    /// The quarantine file, when one was written.
    pub quarantine: Option<String>,
    /// Stale temporary files (and files of staging folders) of killed runs
    /// removed before the run wrote (see `IngestOptions::stale_temp_grace`).
    pub stale_temps_removed: u64,
    /// Their bytes.
    pub stale_temp_bytes_removed: u64,
    /// Files of runs killed while their files appeared, deleted before the
    /// run wrote (see `pending`); for a lake in S3, the keys their markers
    /// listed (S3 deletes a key that was never created without a word).
    pub rolled_back_objects: u64,
    /// Most rows buffered at once.
    pub peak_buffered_rows: u64,
    /// Seconds spent per stage: `parse` (parsing and merging, waiting for
    /// input included), `write` (encoding and writing files), `commit`
    /// (syncing and moving them into place), `upload` (a lake in S3).
    pub stage_seconds: BTreeMap<String, f64>,
    /// Wall time.
    pub seconds: f64,
    /// Valid events per second of wall time.
    pub events_per_s: f64,
    /// Peak resident memory of the process.
    pub peak_rss_bytes: u64,
}

impl IngestReport {
    /// Counts one bad line.
    pub(crate) fn count_bad(&mut self, reason: BadReason) {
        *self.bad.entry(reason.as_str().to_string()).or_default() += 1;
        self.bad_lines += 1;
    }

    /// Adds the time since `since` to a stage.
    pub(crate) fn time_stage(&mut self, stage: &str, since: std::time::Instant) {
        *self.stage_seconds.entry(stage.to_string()).or_default() += since.elapsed().as_secs_f64();
    }

    /// Sums the inputs into the totals and works out the ratios.
    pub(crate) fn total(&mut self, seconds: f64) {
        self.lines = self.inputs.iter().map(|i| i.lines).sum();
        self.blank_lines = self.inputs.iter().map(|i| i.blank_lines).sum();
        self.events = self.inputs.iter().map(|i| i.events).sum();
        let considered = self.lines - self.blank_lines;
        self.bad_fraction = if considered == 0 {
            0.0
        } else {
            self.bad_lines as f64 / considered as f64
        };
        self.seconds = seconds;
        self.events_per_s = if seconds > 0.0 {
            self.events as f64 / seconds
        } else {
            0.0
        };
        self.peak_rss_bytes = topsellers_lake::peak_rss_bytes();
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_fractions() {
        let mut r = IngestReport {
            inputs: vec![
                InputReport {
                    lines: 10,
                    blank_lines: 2,
                    events: 6,
                    ..Default::default()
                },
                InputReport {
                    lines: 2,
                    events: 2,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        r.count_bad(BadReason::BadTs);
        r.count_bad(BadReason::BadTs);
        r.total(2.0);
        assert_eq!((r.lines, r.blank_lines, r.events), (12, 2, 8));
        assert_eq!(r.bad_fraction, 0.2);
        assert_eq!(r.events_per_s, 4.0);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["bad"]["bad_ts"], 2);
    }
}
