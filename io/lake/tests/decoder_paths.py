"""Random lakes for tests/decoder_paths.rs, written by pyarrow.

Usage: decoder_paths.py OUT SEED LAKES

Writes OUT/<n>/category=<c>/<f>.parquet for n in 0..LAKES. Every file draws
its own writer settings, so that one lake mixes the cases the page decoder
handles and those it hands to the Arrow path: dictionary on or off per
column, a dictionary page limit small enough to fall back to PLAIN mid
chunk, data pages v1 and v2, tiny and huge pages, row groups of one row,
nulls in every column, every integer width for ids and quantities, string
ids, every timestamp unit, INT64 epoch millis and INT96 times, every codec,
with and without a page index (and times in order, so pages get pruned).
Prints one JSON line per lake: its as_of in ms and whether ids are strings.
"""

import json
import os
import random
import sys

import pyarrow as pa
import pyarrow.parquet as pq

DAY_MS = 86_400_000
AS_OF_MS = 1_790_000_000_000

INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(),
             pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
TS_KINDS = ["s", "ms", "us", "ns", "epoch_ms", "int96"]
CODECS = ["snappy", "zstd", "gzip", "lz4", "none"]


def limit(t):
    """Largest id that fits in the integer type t."""
    return min(2 ** (t.bit_width - (0 if t in (pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()) else 1)) - 1, 10 ** 6)


def file_table(rng, n, strings, distinct):
    # Nulls per column: a file without null ids (and with positive
    # quantities) lets the page decoder read the time column first.
    rates = {c: rng.choice([0.0, 0.0, 0.05, 0.3]) for c in ("item", "ts", "quantity")}

    def maybe_null(values, column):
        return [None if rng.random() < rates[column] else v for v in values]

    if strings:
        id_type = pa.string()
        ids = maybe_null([f"sku-{rng.randrange(distinct):05}" for _ in range(n)], "item")
    else:
        id_type = rng.choice(INT_TYPES)
        top = min(distinct, limit(id_type))
        low = -top if id_type in (pa.int8(), pa.int16(), pa.int32(), pa.int64()) and rng.random() < 0.3 else 0
        ids = maybe_null([rng.randint(low, top) for _ in range(n)], "item")
    # Ages from 5 days in the future to 80 days back; sorted half the time so
    # that the page index prunes whole pages.
    ages = [rng.uniform(-5, 80) for _ in range(n)]
    if rng.random() < 0.5:
        ages.sort(reverse=True)
    ts_ms = [AS_OF_MS - int(a * DAY_MS) + rng.randrange(1000) for a in ages]
    # Some rows exactly at as_of.
    ts_ms = [AS_OF_MS if rng.random() < 0.02 else t for t in ts_ms]
    kind = rng.choice(TS_KINDS)
    if kind == "epoch_ms":
        ts = pa.array(maybe_null(ts_ms, "ts"), pa.int64())
    elif kind == "s":
        ts = pa.array(maybe_null([t // 1000 for t in ts_ms], "ts"), pa.timestamp("s", tz="UTC"))
    elif kind == "ms":
        ts = pa.array(maybe_null(ts_ms, "ts"), pa.timestamp("ms", tz="UTC"))
    elif kind in ("us", "int96"):
        ts = pa.array(maybe_null([t * 1000 + rng.randrange(1000) for t in ts_ms], "ts"),
                      pa.timestamp("us", tz=rng.choice(["UTC", None])))
    else:
        ts = pa.array(maybe_null([t * 1_000_000 + rng.randrange(1_000_000) for t in ts_ms], "ts"),
                      pa.timestamp("ns"))
    cols = {"item_id": pa.array(ids, id_type), "ts": ts}
    if rng.random() < 0.8:
        q_type = rng.choice(INT_TYPES)
        signed = q_type in (pa.int8(), pa.int16(), pa.int32(), pa.int64())
        choices = [1, 1, 2, 3, 7] if rng.random() < 0.5 else [1, 1, 2, 3, 7, 0] + ([-1] if signed else [])
        q = [rng.choice(choices) for _ in range(n)]
        cols["quantity"] = pa.array(maybe_null(q, "quantity"), q_type)
    return pa.table(cols), kind


def write_file(rng, path, table, kind):
    names = table.column_names
    opts = {}
    dict_cols = [c for c in names if rng.random() < 0.7]
    plain_encodings = {
        "item_id": ["PLAIN", "DELTA_BINARY_PACKED", "BYTE_STREAM_SPLIT"],
        "ts": ["PLAIN", "DELTA_BINARY_PACKED", "BYTE_STREAM_SPLIT"],
        "quantity": ["PLAIN", "DELTA_BINARY_PACKED", "BYTE_STREAM_SPLIT"],
    }
    if pa.types.is_string(table.schema.field("item_id").type):
        plain_encodings["item_id"] = ["PLAIN", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY"]
    if kind == "int96":
        plain_encodings["ts"] = ["PLAIN"]
    encodings = {}
    for c in names:
        if c not in dict_cols and rng.random() < 0.6:
            encodings[c] = rng.choice(plain_encodings[c])
    if encodings:
        opts["column_encoding"] = encodings
        opts["use_dictionary"] = [c for c in dict_cols if c not in encodings]
    else:
        opts["use_dictionary"] = dict_cols
    page = rng.choice(["tiny", "small", "huge"])
    if page == "tiny":
        opts["data_page_size"] = 1
        opts["write_batch_size"] = rng.choice([1, 3, 16])
    elif page == "small":
        opts["data_page_size"] = 512
        opts["write_batch_size"] = 64
    else:
        opts["data_page_size"] = 64 << 20
    if rng.random() < 0.3:
        opts["max_rows_per_page"] = rng.choice([1, 7, 100])
    if rng.random() < 0.3:
        # Small enough that the dictionary overflows and later pages are PLAIN.
        opts["dictionary_pagesize_limit"] = rng.choice([16, 64, 256])
    # One-row row groups only for small files: each costs a footer entry.
    row_group = rng.choice([1, 5, 37, 200, 1_000_000] if table.num_rows <= 300 else [37, 200, 1_000_000])
    pq.write_table(
        table,
        path,
        row_group_size=row_group,
        compression=rng.choice(CODECS),
        data_page_version=rng.choice(["1.0", "2.0"]),
        write_page_index=rng.random() < 0.6,
        use_deprecated_int96_timestamps=kind == "int96",
        store_schema=rng.random() < 0.5,
        **opts,
    )


def main():
    out, seed, lakes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    for lake in range(lakes):
        strings = rng.random() < 0.35
        distinct = rng.choice([3, 50, 2000])
        for c in range(rng.randint(1, 3)):
            folder = os.path.join(out, str(lake), f"category=c{c}")
            os.makedirs(folder)
            for f in range(rng.randint(1, 3)):
                n = rng.choice([0, 1, 10, 300, 3000, 9000])
                table, kind = file_table(rng, n, strings, distinct)
                write_file(rng, os.path.join(folder, f"f{f}.parquet"), table, kind)
        print(json.dumps({"lake": lake, "as_of_ms": AS_OF_MS, "strings": strings}))


if __name__ == "__main__":
    main()
