//! zstd pages decompressed with one context per worker thread.
//!
//! The parquet crate's page reader makes a zstd codec for every column
//! chunk it opens, and each codec creates a compression and a
//! decompression context. zstd probes the CPU (`cpuid`) in both, and on a
//! virtual machine every `cpuid` traps to the hypervisor: on the 24k-file
//! benchmark lake (17,551 units, three chunks each) the two `ZSTD_create*`
//! functions were 21% of `compute`'s samples. So the page decoder opens
//! zstd chunks as if they were uncompressed, and decompresses each page
//! here, with the zstd crate and a context its thread keeps. Other codecs
//! stay with the parquet crate.

use std::cell::RefCell;

use bytes::Bytes;
use parquet::basic::Compression;
use parquet::column::page::Page;
use parquet::file::metadata::ColumnChunkMetaData;

use super::Unsupported;

/// The largest page this decompresses (a frame announcing more is
/// refused, and the unit goes to the Arrow path): pages are a few MiB.
const MAX_PAGE: u64 = 1 << 30;

thread_local! {
    static CONTEXT: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// For a zstd chunk, its metadata marked uncompressed, for the page
/// reader to hand its pages over as stored; `None` for any other codec.
pub(crate) fn raw_zstd(chunk: &ColumnChunkMetaData) -> Option<ColumnChunkMetaData> {
    matches!(chunk.compression(), Compression::ZSTD(_)).then(|| {
        chunk
            .clone()
            .into_builder()
            .set_compression(Compression::UNCOMPRESSED)
            .build()
            .ok()
    })?
}

/// A page of a zstd chunk read raw ([`raw_zstd`]), decompressed.
pub(crate) fn inflate(mut page: Page) -> Result<Page, Unsupported> {
    match &mut page {
        Page::DictionaryPage { buf, .. } | Page::DataPage { buf, .. } => {
            *buf = decompress(buf, 0)?;
        }
        Page::DataPageV2 {
            buf,
            def_levels_byte_len,
            rep_levels_byte_len,
            is_compressed,
            ..
        } => {
            if *is_compressed {
                // Version 2 keeps its levels uncompressed, before the values.
                let levels = *def_levels_byte_len as usize + *rep_levels_byte_len as usize;
                *buf = decompress(buf, levels)?;
                *is_compressed = false;
            }
        }
    }
    Ok(page)
}

/// `buf` with everything after its first `keep` bytes decompressed (one
/// zstd frame, which must say its size, as every Parquet writer's does).
fn decompress(buf: &Bytes, keep: usize) -> Result<Bytes, Unsupported> {
    let body = buf
        .get(keep..)
        .ok_or(Unsupported("page levels past its end"))?;
    if body.is_empty() {
        // A version-2 page of nulls only: no values to decompress.
        return Ok(buf.clone());
    }
    let size = zstd::zstd_safe::get_frame_content_size(body)
        .ok()
        .flatten()
        .filter(|&n| n <= MAX_PAGE)
        .ok_or(Unsupported("zstd frame without its size"))? as usize;
    let values = CONTEXT.with(|context| {
        let mut context = context.borrow_mut();
        if context.is_none() {
            *context = zstd::bulk::Decompressor::new().ok();
        }
        let context = context.as_mut().ok_or(Unsupported("zstd context"))?;
        context
            .decompress(body, size)
            .map_err(|_| Unsupported("zstd page"))
    })?;
    if values.len() != size {
        return Err(Unsupported("zstd page shorter than its frame says"));
    }
    Ok(if keep == 0 {
        Bytes::from(values)
    } else {
        let mut page = Vec::with_capacity(keep + size);
        page.extend_from_slice(&buf[..keep]);
        page.extend_from_slice(&values);
        Bytes::from(page)
    })
}
