"""Writes the two ingest-shaped seeds of fuzz/corpus/parquet/.

The other seeds there are copies of files of the golden lakes
(io/lake/tests/golden: pyarrow, Spark with INT96 times, Spark with string
ids). These two are written the way `topsellers ingest` writes a file
(item ids dictionary-encoded and zstd, times DELTA_BINARY_PACKED and
uncompressed, a nullable int32 quantity), with small pages and row groups
so that the page decoder's page index, multi-page and multi-row-group
paths are reached. Fixed data: rerunning gives the same bytes.

    .venv/bin/python fuzz/make_parquet_seeds.py
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).parent / "corpus" / "parquet"
DAY_US = 86_400_000_000
START_US = 20_730 * DAY_US  # 2026-10-04


def table(string_ids: bool) -> pa.Table:
    n = 600
    ids = [f"sku-{(i * 7) % 23}" if string_ids else (i * 7) % 23 for i in range(n)]
    ts = [START_US + i * (DAY_US // 50) for i in range(n)]
    qty = [None if i % 5 == 0 else (i % 3) + 1 for i in range(n)]
    return pa.table(
        {
            "item_id": pa.array(ids, pa.string() if string_ids else pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "quantity": pa.array(qty, pa.int32()),
        }
    )


def write(name: str, string_ids: bool) -> None:
    pq.write_table(
        table(string_ids),
        OUT / name,
        row_group_size=250,
        data_page_size=256,
        compression={"item_id": "zstd", "ts": "none", "quantity": "none"},
        use_dictionary=["item_id", "quantity"],
        column_encoding={"ts": "DELTA_BINARY_PACKED"},
        write_page_index=True,
    )


write("ingest-int-ids.parquet", False)
write("ingest-string-ids.parquet", True)
