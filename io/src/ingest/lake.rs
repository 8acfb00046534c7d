//! What ingest needs to know about the lake it adds to: the item id type of
//! the files already there, so that a later run never mixes types.

use std::path::{Path, PathBuf};

use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};

use crate::columns::ItemKind;
use crate::error::IoError;

/// The first data file found under `dir` (a file inside a `category=`
/// folder, named `*.parquet` or without extension, as `discover` reads).
fn first_data_file(dir: &Path, in_category: bool) -> Result<Option<PathBuf>, IoError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IoError::io(dir, e)),
    };
    let mut subdirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| IoError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(|e| IoError::io(&path, e))?;
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
pub(crate) fn existing_item_kind(lake: &Path) -> Result<Option<(PathBuf, ItemKind)>, IoError> {
    let Some(path) = first_data_file(lake, false)? else {
        return Ok(None);
    };
    let file = std::fs::File::open(&path).map_err(|e| IoError::io(&path, e))?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default()).map_err(|e| {
        IoError::NotParquet {
            path: path.clone(),
            source: e,
        }
    })?;
    let Ok(field) = meta.schema().field_with_name("item_id") else {
        tracing::warn!(file = %path.display(), "lake files have no item_id column; the id type follows the events");
        return Ok(None);
    };
    let kind = match field.data_type() {
        t if t.is_integer() => ItemKind::Int,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ItemKind::Str,
        t => {
            return Err(IoError::ColumnType {
                path,
                column: "item_id".into(),
                found: t.to_string(),
                expected: "INT64 or UTF8 string",
            })
        }
    };
    Ok(Some((path, kind)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::partition::write_file;
    use crate::ingest::rows::{ItemRef, Rows};

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
