//! What ingest needs to know about the lake it adds to, local or in S3: the
//! item id type of the files already there, so that a later run never mixes
//! types.

use std::path::{Path, PathBuf};

use arrow_schema::{DataType, Schema};
use aws_sdk_s3::error::DisplayErrorContext;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::parquet_to_arrow_schema;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;

use crate::error::IngestError;
use topsellers_lake::{ItemKind, LakeError};
use topsellers_s3::{S3Error, S3Location};

/// The first data file found under `dir` (a file inside a `category=`
/// folder, named `*.parquet` or without extension, as `discover` reads).
fn first_data_file(dir: &Path, in_category: bool) -> Result<Option<PathBuf>, IngestError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IngestError::io(dir, e)),
    };
    let mut subdirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| IngestError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(|e| IngestError::io(&path, e))?;
        if meta.is_dir() {
            subdirs.push((name.starts_with("category="), path));
        } else if in_category && (name.ends_with(".parquet") || !name.contains('.')) {
            return Ok(Some(path));
        }
    }
    subdirs.sort();
    for (category, sub) in subdirs {
        if let Some(found) = first_data_file(&sub, in_category || category)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The item id type of the lake's files, judged by one file's footer: `None`
/// for an empty lake, or one whose files have no `item_id` column (other
/// tools' column names; ingest then goes by the events).
pub(crate) fn existing_item_kind(lake: &Path) -> Result<Option<(PathBuf, ItemKind)>, IngestError> {
    let Some(path) = first_data_file(lake, false)? else {
        return Ok(None);
    };
    let file = std::fs::File::open(&path).map_err(|e| IngestError::io(&path, e))?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default()).map_err(|e| {
        LakeError::NotParquet {
            path: path.clone(),
            error: e,
        }
    })?;
    Ok(kind_of(meta.schema(), &path)?.map(|k| (path, k)))
}

/// The item id type a lake file's schema says (`None` without an `item_id`
/// column: other tools' column names; ingest then goes by the events).
fn kind_of(schema: &Schema, path: &Path) -> Result<Option<ItemKind>, IngestError> {
    let Ok(field) = schema.field_with_name("item_id") else {
        tracing::warn!(file = %path.display(), "lake files have no item_id column; the id type follows the events");
        return Ok(None);
    };
    match field.data_type() {
        t if t.is_integer() => Ok(Some(ItemKind::Int)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(Some(ItemKind::Str)),
        t => Err(LakeError::ColumnType {
            path: path.to_path_buf(),
            column: "item_id".into(),
            found: t.to_string(),
            expected: "INT64 or UTF8 string",
        }
        .into()),
    }
}

/// Whether `rel` (a key relative to the lake prefix) is a data file inside a
/// `category=` folder, by the rules `discover` and `sync` follow.
fn is_data_key(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let Some((name, dirs)) = parts.split_last() else {
        return false;
    };
    !parts
        .iter()
        .any(|p| p.is_empty() || p.starts_with('_') || p.starts_with('.'))
        && dirs.iter().any(|d| d.starts_with("category="))
        && (name.ends_with(".parquet") || !name.contains('.'))
}

/// Bytes fetched from an object's end to read its footer in one request
/// (usually: ingest's footers are a few KiB).
const FOOTER_GUESS: u64 = 64 << 10;

/// [`existing_item_kind`] for a lake in S3: one object's footer, fetched by
/// ranged GETs.
pub(crate) async fn existing_item_kind_s3(
    client: &aws_sdk_s3::Client,
    at: &S3Location,
) -> Result<Option<(PathBuf, ItemKind)>, IngestError> {
    let fail = |key: &str, e: &dyn std::fmt::Display| {
        IngestError::S3(S3Error::S3 {
            location: format!("s3://{}/{key}", at.bucket),
            message: e.to_string(),
        })
    };
    let mut pages = client
        .list_objects_v2()
        .bucket(&at.bucket)
        .prefix(&at.prefix)
        .into_paginator()
        .send();
    let mut found = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| fail(&at.prefix, &DisplayErrorContext(&e)))?;
        found = page.contents().iter().find_map(|o| {
            let key = o.key()?;
            let size = u64::try_from(o.size()?).ok()?;
            is_data_key(key.strip_prefix(&at.prefix)?).then(|| (key.to_string(), size))
        });
        if found.is_some() {
            break;
        }
    }
    let Some((key, size)) = found else {
        return Ok(None);
    };
    let path = PathBuf::from(format!("s3://{}/{key}", at.bucket));
    let key = key.as_str();
    let get = |from: u64| async move {
        let out = client
            .get_object()
            .bucket(&at.bucket)
            .key(key)
            .range(format!("bytes={from}-"))
            .send()
            .await
            .map_err(|e| fail(key, &DisplayErrorContext(&e)))?;
        let body = out.body.collect().await.map_err(|e| fail(key, &e))?;
        Ok::<_, IngestError>(body.into_bytes())
    };
    let not_parquet = |error| {
        IngestError::Lake(LakeError::NotParquet {
            path: path.clone(),
            error,
        })
    };
    let mut tail = get(size.saturating_sub(FOOTER_GUESS)).await?;
    let footer_len = match tail.len().checked_sub(8).map(|at| &tail[at..]) {
        Some([a, b, c, d, b'P', b'A', b'R', b'1']) => {
            u64::from(u32::from_le_bytes([*a, *b, *c, *d])) + 8
        }
        _ => return Err(not_parquet(ParquetError::General("no PAR1 footer".into()))),
    };
    if footer_len > tail.len() as u64 {
        tail = get(size.saturating_sub(footer_len)).await?;
    }
    let start = usize::try_from((tail.len() as u64).saturating_sub(footer_len)).unwrap_or(0);
    let meta = ParquetMetaDataReader::decode_metadata(&tail[start..tail.len() - 8])
        .map_err(not_parquet)?;
    let file_meta = meta.file_metadata();
    let schema = parquet_to_arrow_schema(file_meta.schema_descr(), file_meta.key_value_metadata())
        .map_err(not_parquet)?;
    Ok(kind_of(&schema, &path)?.map(|k| (path, k)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::write_file;
    use crate::rows::{ItemRef, Rows};

    #[test]
    fn data_keys_are_inside_a_category_and_not_hidden() {
        assert!(is_data_key("category=a/dt=2026-10-15/part-x.parquet"));
        assert!(is_data_key("category=a/f"));
        assert!(!is_data_key("f.parquet"));
        assert!(!is_data_key("category=a/_SUCCESS"));
        assert!(!is_data_key("_quarantine/category=a/x.parquet"));
        assert!(!is_data_key("category=a/.x.parquet.tmp"));
        assert!(!is_data_key("category=a/x.crc"));
    }

    #[test]
    fn reads_the_id_type_of_one_file() {
        let lake = tempfile::tempdir().unwrap();
        assert_eq!(existing_item_kind(lake.path()).unwrap(), None);
        assert_eq!(
            existing_item_kind(&lake.path().join("absent")).unwrap(),
            None
        );
        std::fs::create_dir_all(lake.path().join("_staging-x/category=a")).unwrap();
        std::fs::write(lake.path().join("_staging-x/category=a/f.parquet"), b"junk").unwrap();
        assert_eq!(existing_item_kind(lake.path()).unwrap(), None);
        let mut rows = Rows::new(ItemKind::Str);
        assert!(rows.push(ItemRef::Str("a"), 1, None));
        let path = lake.path().join("category=a/dt=1970-01-01/p.parquet");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_file(&path, rows, 1).unwrap();
        assert_eq!(
            existing_item_kind(lake.path()).unwrap(),
            Some((path, ItemKind::Str))
        );
    }
}
