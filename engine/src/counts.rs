//! Row counters kept by the scan: what was read, skipped and why.

use std::ops::AddAssign;

/// What happened to the rows of a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// Rows decoded and examined.
    pub scanned: u64,
    /// Skipped: the item id is null.
    pub null_item: u64,
    /// Skipped: the purchase time is null.
    pub null_ts: u64,
    /// Skipped: quantity <= 0.
    pub bad_quantity: u64,
    /// Not counted: purchased after `as_of`.
    pub after_as_of: u64,
    /// Not counted: older than the largest window.
    pub before_max_window: u64,
    /// Within the largest window (whether or not the category's window reaches them).
    pub in_max_window: u64,
}

impl RowCounts {
    /// Rows skipped as invalid, all reasons together.
    pub fn skipped(&self) -> u64 {
        self.null_item + self.null_ts + self.bad_quantity
    }
}

impl AddAssign for RowCounts {
    fn add_assign(&mut self, o: Self) {
        self.scanned += o.scanned;
        self.null_item += o.null_item;
        self.null_ts += o.null_ts;
        self.bad_quantity += o.bad_quantity;
        self.after_as_of += o.after_as_of;
        self.before_max_window += o.before_max_window;
        self.in_max_window += o.in_max_window;
    }
}
