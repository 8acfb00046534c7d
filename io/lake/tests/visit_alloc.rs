//! Reading the rows of a file into an incremental state allocates per
//! batch, not per row: string ids are looked up borrowed from the decoded
//! column, and only an item new to the state is copied.
//!
//! Its own test binary: it counts allocations with a global allocator.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use topsellers_engine::CategoryState;
use topsellers_lake::incremental::visit_rows;
use topsellers_lake::ColumnNames;

thread_local! {
    /// Allocations made by this thread (no destructor: usable inside `alloc`).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is a thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's guarantees for `layout` hold for `System`.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn string_ids_cost_no_allocation_per_row() {
    const ROWS: usize = 40_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    // 40,000 purchases of 50 items, in one row group.
    let rows: Vec<(u16, i64, i32)> = (0..ROWS)
        .map(|i| ((i % 50) as u16, 1_000_000 + i as i64, 1))
        .collect();
    common::write_parquet_groups(&path, &rows, true, ROWS);
    let (t, lambdas) = (1_000_000_000_000, [1e-6]);
    let mut state = CategoryState::new(t, t, 1);
    let before = ALLOCATIONS.with(Cell::get);
    let read = visit_rows(&path, &ColumnNames::default(), 0, t, &mut |item, ts, q| {
        state.add(item, ts, q, &lambdas);
    })
    .unwrap();
    let allocations = ALLOCATIONS.with(Cell::get) - before;
    assert_eq!((read.rows_decoded, state.len()), (ROWS as u64, 50));
    assert!(
        allocations < ROWS as u64 / 10,
        "{allocations} allocations for {ROWS} rows"
    );
}
