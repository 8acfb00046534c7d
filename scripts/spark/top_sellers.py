#!/usr/bin/env python3
"""Top sellers per category as a PySpark job: the scale-out path and the benchmark peer.

Same computation (SPEC section 1), same lake layout (section 2) and same result CSV
(section 3) as `topsellers compute`: exponentially decayed scores per (category, item),
an adaptive lookback window per category for sparse categories, the top N per
(variant, category), ties broken by item id.

Runs either under spark-submit (the session spark-submit configured is used as is) or as a
plain Python program, which starts its own session (`--master`, default `local[*]`):

    spark-submit scripts/spark/top_sellers.py \\
        --lake s3a://bucket/lake --as-of 2026-10-15T00:00:00Z \\
        --variant fast=1d --variant slow=14d --top 100 --out results.csv

    .venv/bin/python scripts/spark/top_sellers.py \\
        --lake /data/lake --as-of 2026-10-15T00:00:00Z --out results.csv

# Design

The data is read once. Every counted purchase gets the index of the smallest candidate
window (W, 2W, 4W, ..., W_max) that contains it; one aggregation per (category, item) then
yields the item's most recent bucket (the minimum index) and, per variant, the cumulative
decayed sums up to every candidate. A window over the category counts the items per most
recent bucket and so picks W_c (no window step rescans the data), and a row_number() window
on the same partitioning keeps the first N per (variant, category). The result, at most
variants x categories x N rows, is collected on the driver and written there as one CSV.
Plan: one Parquet scan, two shuffles.

Window membership and ages are computed in the timestamp column's own integer unit (micros
for Spark timestamps, millis for INT64 epoch millis, nanos for TIMESTAMP(NANOS), which
Spark can only read as raw INT64), so `as_of - W_c < ts <= as_of` is decided exactly.

Exit status: 0 success, 1 failure (bad lake, data or Spark error), 2 usage error.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import dataclasses
import datetime
import math
import os
import re
import sys
import time
import urllib.parse
from dataclasses import dataclass

NANOS_PER_SECOND = 1_000_000_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
HEADER = ["variant", "category", "rank", "item_id", "score", "window_s", "as_of"]
# Spark reads this folder value as a null partition value.
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"

# Session settings the semantics depend on (set on every session, spark-submit's included).
SQL_CONF = {
    # Naive timestamps are UTC and no local time zone leaks into any conversion.
    "spark.sql.session.timeZone": "UTC",
    # category=007 is the string "007", dt=2026-10-15 the string "2026-10-15".
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    # Column names match exactly, as in the other implementations.
    "spark.sql.caseSensitive": "true",
    # Spark rejects TIMESTAMP(NANOS) unless it may read it as the raw INT64.
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # Old dates are read as written (proleptic Gregorian), never rejected.
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
}


def log(message: str) -> None:
    print(f"top_sellers: {message}", file=sys.stderr, flush=True)


class JobError(Exception):
    """A failure of the run (lake, data, Spark): exit status 1."""


# ---------------------------------------------------------------------------
# Command-line values: durations, as_of, variants
# ---------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^(\d+)([dhms])$")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """`90d`, `12h`, `30m`, `45s` -> whole seconds (strictly positive)."""
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: expected an integer followed by d, h, m or s (e.g. 30d)"
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be greater than zero")
    return seconds


_AS_OF_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_as_of(text: str) -> int:
    """RFC 3339 timestamp -> epoch nanoseconds, exactly (no float on the way)."""
    match = _AS_OF_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid --as-of {text!r}: expected RFC 3339, e.g. 2026-10-15T00:00:00Z"
        )
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    try:
        datetime.datetime(year, month, day, hour, minute, second)  # rejects 2026-02-31
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid --as-of {text!r}: {err}") from None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        seconds -= sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    return seconds * NANOS_PER_SECOND + int((fraction or "").ljust(9, "0"))


def format_as_of(epoch_ns: int) -> str:
    """Epoch nanoseconds -> `YYYY-MM-DDTHH:MM:SSZ`; a fraction (3, 6 or 9 digits) only if non-zero."""
    seconds, nanos = divmod(epoch_ns, NANOS_PER_SECOND)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos % 1_000_000 == 0 and nanos:
        text += ".%03d" % (nanos // 1_000_000)
    elif nanos % 1_000 == 0 and nanos:
        text += ".%06d" % (nanos // 1_000)
    elif nanos:
        text += ".%09d" % nanos
    return text + "Z"


@dataclass(frozen=True)
class Variant:
    name: str
    lambda_per_second: float
    spec: str  # what the user wrote, for messages


class VariantAction(argparse.Action):
    """Collects --half-life, --lambda and --variant into one list, in command-line order."""

    def __call__(self, parser, namespace, value, option_string=None):
        variants = list(getattr(namespace, self.dest, None) or [])
        if option_string == "--half-life":
            seconds = _duration_or_exit(parser, option_string, value)
            variants.append(Variant("default", math.log(2) / seconds, f"--half-life {value}"))
        elif option_string == "--lambda":
            try:
                per_day = float(value)
            except ValueError:
                parser.error(f"--lambda: {value!r} is not a number")
            if not math.isfinite(per_day) or per_day < 0:
                parser.error(f"--lambda: {value!r} must be a finite number >= 0 (per day)")
            variants.append(Variant("default", per_day / 86_400, f"--lambda {value}"))
        else:  # --variant NAME=HALF_LIFE
            name, sep, half_life = value.partition("=")
            if not sep or not name:
                parser.error(f"--variant: {value!r} is not NAME=HALF_LIFE (e.g. fast=1d)")
            seconds = _duration_or_exit(parser, option_string, half_life)
            variants.append(Variant(name, math.log(2) / seconds, f"--variant {value}"))
        setattr(namespace, self.dest, variants)


def _duration_or_exit(parser, option, text):
    try:
        return parse_duration(text)
    except argparse.ArgumentTypeError as err:
        parser.error(f"{option}: {err}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="top_sellers.py",
        description="Top sellers per category (PySpark): decayed scores, adaptive window, top N.",
    )
    p.add_argument("--lake", required=True, metavar="DIR|s3a://BUCKET/PREFIX",
                   help="root of the Hive-partitioned Parquet lake (category=<c>/[dt=<d>/]*.parquet)")
    p.add_argument("--as-of", required=True, type=parse_as_of, metavar="RFC3339",
                   help="reference time, e.g. 2026-10-15T00:00:00Z; later events never count")
    p.add_argument("--half-life", action=VariantAction, dest="variants", metavar="DUR",
                   help="half-life of the variant named 'default' (default 7d)")
    p.add_argument("--lambda", action=VariantAction, dest="variants", metavar="PER_DAY",
                   help="decay rate per day of the variant named 'default'")
    p.add_argument("--variant", action=VariantAction, dest="variants", metavar="NAME=DUR",
                   help="a named variant and its half-life (repeatable; output in the order given)")
    p.add_argument("--window", type=parse_duration, default=parse_duration("30d"), metavar="DUR",
                   help="base lookback window W (default 30d)")
    p.add_argument("--max-window", type=parse_duration, default=parse_duration("365d"), metavar="DUR",
                   help="largest lookback window W_max (default 365d)")
    p.add_argument("--min-items", type=int, default=None, metavar="M",
                   help="distinct items a window must cover before it stops growing (default: --top)")
    p.add_argument("--top", type=int, default=100, metavar="N", help="items per (variant, category) (default 100)")
    p.add_argument("--item-column", default="item_id", metavar="NAME", help="item id column (default item_id)")
    p.add_argument("--ts-column", default="ts", metavar="NAME", help="purchase time column (default ts)")
    p.add_argument("--quantity-column", default="quantity", metavar="NAME",
                   help="optional quantity column (default quantity; absent or null -> 1)")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="result CSV, written atomically on the driver")
    p.add_argument("--master", default=None, metavar="URL",
                   help="Spark master when run without spark-submit (default local[*])")
    p.add_argument("--driver-memory", default="4g", metavar="SIZE",
                   help="driver memory when run without spark-submit (default 4g)")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                   help="extra Spark setting when run without spark-submit (repeatable)")
    p.add_argument("--no-merge-schema", action="store_true",
                   help="take the schema from one file instead of merging all footers (faster on huge "
                        "lakes; only safe when every file has the same columns)")
    return p


@dataclass(frozen=True)
class Options:
    lake: str
    as_of_ns: int
    variants: list
    windows_s: list  # candidate windows W, 2W, 4W, ... < W_max, then W_max
    min_items: int
    top: int
    item_column: str
    ts_column: str
    quantity_column: str
    out: str
    merge_schema: bool


def validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Options:
    """Checks what the command line alone can tell; errors exit with status 2."""
    variants = args.variants or [Variant("default", math.log(2) / parse_duration("7d"), "default half-life 7d")]
    seen = {}
    for v in variants:
        if v.name in seen:
            parser.error(f"variant {v.name!r} defined twice ({seen[v.name]} and {v.spec})")
        seen[v.name] = v.spec
    if args.top < 1:
        parser.error(f"--top must be at least 1, got {args.top}")
    min_items = args.top if args.min_items is None else args.min_items
    if min_items < 0:
        parser.error(f"--min-items must not be negative, got {min_items}")
    if not args.out.lower().endswith(".csv"):
        parser.error(f"--out {args.out!r}: the Spark job writes CSV only (name ending in .csv)")
    windows, w = [], args.window
    while w < args.max_window:
        windows.append(w)
        w *= 2
    windows.append(args.max_window)
    for text in args.conf:
        if "=" not in text:
            parser.error(f"--conf {text!r}: expected KEY=VALUE")
    lake = args.lake
    if "://" not in lake:
        lake = os.path.abspath(lake)
    return Options(lake, args.as_of, variants, windows, min_items, args.top, args.item_column,
                   args.ts_column, args.quantity_column, args.out, not args.no_merge_schema)


# ---------------------------------------------------------------------------
# Spark session and lake
# ---------------------------------------------------------------------------


def start_session(args: argparse.Namespace):
    """The spark-submit session if there is one, else a new one from --master/--driver-memory/--conf."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    submitted = "PYSPARK_GATEWAY_PORT" in os.environ or SparkContext._active_spark_context is not None
    builder = SparkSession.builder.appName("topsellers")
    if submitted:
        if args.master or args.conf:
            log("using the Spark session already configured (spark-submit): "
                "--master/--driver-memory/--conf are ignored, pass them to spark-submit")
    else:
        builder = (builder.master(args.master or "local[*]")
                   .config("spark.driver.memory", args.driver_memory)
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.log.level", "WARN"))
        for text in args.conf:
            key, _, value = text.partition("=")
            builder = builder.config(key.strip(), value)
    spark = builder.getOrCreate()
    for key, value in SQL_CONF.items():
        spark.conf.set(key, value)
    return spark


def _first_line(err: Exception) -> str:
    """One line for a Spark error: the Java exception and its root cause, without stack traces."""
    java = getattr(err, "java_exception", None)
    if java is not None:
        try:
            chain = []
            while java is not None and len(chain) < 10:
                chain.append(str(java.toString()).splitlines()[0])
                java = java.getCause()
            return chain[0] if len(chain) == 1 else f"{chain[0]} (caused by {chain[-1]})"
        except Exception:  # the gateway itself may be gone
            pass
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@dataclass(frozen=True)
class LakePart:
    """Files of the lake that Spark can read as one DataFrame."""

    frame: object  # pyspark DataFrame
    ts_nanos: object  # True/False when known from the footers, None: look at the first file
    paths: tuple = ()  # its files as on-disk path strings; () -> ask Spark (frame.inputFiles())


# Spark errors meaning the files do not share one partition layout or one schema.
_HETEROGENEOUS = (
    "CONFLICTING_PARTITION_COLUMN_NAMES", "CONFLICTING_DIRECTORY_STRUCTURES",
    "CANNOT_MERGE_INCOMPATIBLE_DATA_TYPE", "CANNOT_MERGE_SCHEMAS", "Failed to merge",
    "PARQUET_COLUMN_DATA_TYPE_MISMATCH", "SchemaColumnConvertNotSupportedException",
)


def is_heterogeneous(err: Exception) -> bool:
    text = str(err) + " " + _first_line(err)
    return any(marker in text for marker in _HETEROGENEOUS)


def _reader(spark, opts: Options):
    reader = (spark.read.option("basePath", opts.lake)
              .option("pathGlobFilter", "*.parquet")
              .option("mergeSchema", str(opts.merge_schema).lower()))
    for key, value in _local_fs_options(opts.lake).items():
        reader = reader.option(key, value)
    return reader


def read_lake(spark, opts: Options, per_schema: bool) -> list:
    """The lake as LakeParts: normally one, from Spark's own partition discovery (hidden names
    skipped, %XX decoded) and schema merge.

    When the folders mix layouts (category=a/x.parquet next to category=b/dt=.../y.parquet) or
    the files disagree on a column's type (ts in millis here, naive or nanos there), Spark
    refuses one DataFrame; then (or with per_schema) the files are listed and read in groups
    of one layout and one type per used column.
    """
    from pyspark.errors import PySparkException

    if not per_schema:
        try:
            return [LakePart(_reader(spark, opts).parquet(opts.lake), None)]
        except PySparkException as err:
            text = str(err)
            if "UNABLE_TO_INFER_SCHEMA" in text:
                log(f"warning: {opts.lake}: no Parquet files found")
                return []
            if "PATH_NOT_FOUND" in text:
                raise JobError(f"{opts.lake}: lake not found") from None
            if not is_heterogeneous(err):
                raise JobError(f"{opts.lake}: cannot read the lake: {_first_line(err)}") from None
            log(f"the lake's files differ in layout or schema ({_first_line(err)[:120]}); "
                f"reading them in groups")
    return read_lake_per_schema(spark, opts)


def read_lake_per_schema(spark, opts: Options) -> list:
    from concurrent.futures import ThreadPoolExecutor
    from pyspark.sql import types as T

    files = list(list_files(spark, opts.lake))
    if not files:
        log(f"warning: {opts.lake}: no Parquet files found")
        return []
    columns = (opts.item_column, opts.ts_column, opts.quantity_column)
    conf = _hadoop_conf(spark, opts.lake)
    with ThreadPoolExecutor(max_workers=8) as pool:
        signatures = list(pool.map(lambda f: footer_signature(spark, f[0], columns, conf), files))
    groups, ignored = {}, []
    for (path, keys), signature in zip(files, signatures):
        if "category" not in keys:
            ignored.append(path)
            continue
        groups.setdefault((keys, signature), []).append(path)
    if ignored:
        log(f"warning: {len(ignored)} file(s) not under a category=<value> folder ignored, e.g. {ignored[0]}")
    parts = []
    for (keys, signature), paths in sorted(groups.items()):
        # Spark's own type for each used column (from the group's first file), given explicitly
        # so that other columns never need to agree between files.
        inferred = spark.read.options(**_local_fs_options(opts.lake)).parquet(paths[0]).schema
        fields = [f for f in inferred.fields if f.name in columns]
        frame = _reader(spark, opts).schema(T.StructType(fields)).parquet(*paths)
        parts.append(LakePart(frame, "NANOS" in signature[1], tuple(paths)))
    log(f"{len(files)} files in {len(parts)} group(s) of one layout and schema")
    return parts


def _local_fs_options(lake: str) -> dict:
    """Hadoop settings for a local lake: read it without Hadoop's .crc side-file checks.

    Hidden files (`.x.parquet.crc`) are ignored by every implementation; Hadoop's default
    local file system would still use them to verify reads and fail on a stale one.
    """
    if "://" in lake and not lake.startswith("file:"):
        return {}
    return {"fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem", "fs.file.impl.disable.cache": "true"}


def _hadoop_conf(spark, lake: str):
    conf = spark._jvm.org.apache.hadoop.conf.Configuration(spark._jsc.hadoopConfiguration())
    for key, value in _local_fs_options(lake).items():
        conf.set(key, value)
    return conf


def list_files(spark, root: str):
    """(path, partition keys) of every visible *.parquet file under root, via Hadoop's FileSystem."""
    jvm = spark._jvm
    base = jvm.org.apache.hadoop.fs.Path(root)
    fs = base.getFileSystem(_hadoop_conf(spark, root))
    prefix = fs.makeQualified(base).toString().rstrip("/") + "/"
    files = fs.listFiles(base, True)
    while files.hasNext():
        path = files.next().getPath().toString()
        parts = path[len(prefix):].split("/") if path.startswith(prefix) else [path]
        if any(p.startswith(("_", ".")) for p in parts) or not parts[-1].endswith(".parquet"):
            continue
        keys = tuple(p.split("=", 1)[0] for p in parts[:-1] if "=" in p)
        yield path, keys


def footer_signature(spark, path: str, columns, conf) -> tuple:
    """The Parquet type of each of `columns` in one file's footer ('-' where absent)."""
    jvm = spark._jvm
    infile = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(jvm.org.apache.hadoop.fs.Path(path), conf)
    reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(infile)
    try:
        schema = reader.getFileMetaData().getSchema()
    finally:
        reader.close()
    signature = []
    for column in columns:
        if not schema.containsField(column):
            signature.append("-")
            continue
        field = schema.getType(column)
        if field.isPrimitive():
            signature.append(f"{field.asPrimitiveType().getPrimitiveTypeName().name()} {field.getLogicalTypeAnnotation()}")
        else:
            signature.append("group")
    return tuple(signature)


def footer_ts_is_nanos(spark, df, column: str, lake: str) -> bool:
    """Whether `column` of the first file is TIMESTAMP(NANOS): Spark reads those as plain INT64,
    indistinguishable from epoch millis by the Spark schema alone."""
    files = df.inputFiles()
    if not files:
        return False
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(jvm.java.net.URI(files[0])).toString()
    return "NANOS" in footer_signature(spark, path, (column,), _hadoop_conf(spark, lake))[0]


# ---------------------------------------------------------------------------
# The computation
# ---------------------------------------------------------------------------


def _col(name: str):
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def counted_events(spark, part: LakePart, opts: Options):
    """One layout's rows normalised to (category, item, bucket, age_s, qty), counted purchases only.

    `bucket` is the index of the smallest candidate window holding the purchase. Returns the
    frame and the item id kind ('int' or 'string').
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    df = part.frame
    fields = {f.name: f.dataType for f in df.schema.fields}
    where = f"in the lake {opts.lake} (columns: {', '.join(fields)})"
    if "category" not in fields:
        raise JobError(f"no category=<value> folders {where}")
    for role, name in (("item id", opts.item_column), ("timestamp", opts.ts_column)):
        if name not in fields:
            raise JobError(f"no {role} column {name!r} {where}")

    item_type = fields[opts.item_column]
    if isinstance(item_type, (T.LongType, T.IntegerType, T.ShortType, T.ByteType)) or (
            isinstance(item_type, T.DecimalType) and item_type.scale == 0):
        kind, item = "int", _col(opts.item_column).cast("long")
    elif isinstance(item_type, (T.StringType, T.BinaryType)):
        kind, item = "string", _col(opts.item_column).cast("string")
    else:
        raise JobError(f"item id column {opts.item_column!r} has type {item_type.simpleString()}, "
                       f"expected INT64 or UTF8 string")

    # The timestamp in its own integer unit, and literals of the column's type for the
    # bounds so that Parquet row groups outside the largest window are skipped by statistics.
    ts = _col(opts.ts_column)
    ts_type = fields[opts.ts_column]
    if isinstance(ts_type, (T.TimestampType, T.TimestampNTZType)):
        unit_ns, raw = 1_000, F.unix_micros(ts.cast("timestamp"))
        as_ts = "timestamp" if isinstance(ts_type, T.TimestampType) else "timestamp_ntz"

        def bound(v):
            return F.timestamp_micros(F.lit(v)).cast(as_ts)
    elif isinstance(ts_type, T.LongType):
        nanos = part.ts_nanos
        if nanos is None:
            nanos = footer_ts_is_nanos(spark, df, opts.ts_column, opts.lake)
        unit_ns = 1 if nanos else 1_000_000
        raw = ts

        def bound(v):
            return F.lit(v).cast("long")
    else:
        raise JobError(f"timestamp column {opts.ts_column!r} has type {ts_type.simpleString()}, "
                       f"expected TIMESTAMP or INT64 epoch millis")

    # as_of - W < ts <= as_of in whole units: for an integer ts, ts <= x iff ts <= floor(x).
    hi = opts.as_of_ns // unit_ns
    lows = [(opts.as_of_ns - w * NANOS_PER_SECOND) // unit_ns for w in opts.windows_s]
    if hi > INT64_MAX or hi - lows[-1] > INT64_MAX // 2:
        raise JobError(f"--as-of/--max-window out of range for the {opts.ts_column!r} column's unit")
    lo = max(lows[-1], INT64_MIN + 1)
    # age in units (exact) -> seconds, plus as_of's sub-unit remainder (normally 0).
    remainder_s = (opts.as_of_ns - hi * unit_ns) / NANOS_PER_SECOND
    units_per_s = NANOS_PER_SECOND // unit_ns

    if opts.quantity_column in fields:
        qty_type = fields[opts.quantity_column]
        if not isinstance(qty_type, (T.LongType, T.IntegerType, T.ShortType, T.ByteType, T.DecimalType)):
            raise JobError(f"quantity column {opts.quantity_column!r} has type {qty_type.simpleString()}, "
                           f"expected an integer type")
        qty = F.coalesce(_col(opts.quantity_column).cast("long"), F.lit(1).cast("long"))
    else:
        qty = F.lit(1).cast("long")

    if "dt" in fields and isinstance(fields["dt"], T.StringType):
        # dt=D holds [D, D+1): keep D from the day of as_of - W_max to the day of as_of.
        # A string compare on the partition column lets Spark prune whole folders.
        first_day = _day(opts.as_of_ns - opts.windows_s[-1] * NANOS_PER_SECOND)
        last_day = _day(opts.as_of_ns)
        dt = F.col("dt")
        keep = dt.isNull() | (dt <= last_day)
        if first_day is not None:
            keep = dt.isNull() | ((dt >= first_day) & (dt <= last_day))
        df = df.filter(keep)

    # Categories as the folder names say (see category_fixes); normally Spark's value as is.
    paths = part.paths or [urllib.parse.unquote(urllib.parse.urlsplit(u).path) for u in df.inputFiles()]
    category = F.col("category")
    fixes = category_fixes(paths)
    if fixes:
        fixed = None
        for spark_value, value in sorted(fixes.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
            test = category.isNull() if spark_value is None else category == spark_value
            fixed = F.when(test, F.lit(value)) if fixed is None else fixed.when(test, F.lit(value))
        category = fixed.otherwise(category)
    category = F.coalesce(category, F.lit(HIVE_DEFAULT_PARTITION))

    df = df.filter(_col(opts.item_column).isNotNull() & (ts > bound(lo)) & (ts <= bound(hi)))
    age = F.lit(hi) - raw
    bucket = F.lit(len(lows) - 1)
    for i in reversed(range(len(lows) - 1)):
        bucket = F.when(age < F.lit(hi - lows[i]), F.lit(i)).otherwise(bucket)
    age_s = age.cast("double") / F.lit(float(units_per_s))
    if remainder_s:
        age_s = age_s + F.lit(remainder_s)
    out = df.select(
        category.alias("category"),
        item.alias("item"),
        bucket.alias("bucket"),
        age_s.alias("age_s"),
        qty.alias("qty"),
    ).filter(F.col("qty") > 0)
    return out, kind


_SPARK_ESCAPE = re.compile(r"[0-9A-Fa-f]{2}|\+[0-9A-Fa-f]")


def spark_unescape(value: str):
    """The partition value Spark makes of a folder value: each %XX becomes the one character
    U+00XX (Latin-1, not UTF-8), and the Hive default partition becomes null."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "%" and i + 2 < len(value) and _SPARK_ESCAPE.fullmatch(value[i + 1:i + 3]):
            out.append(chr(int(value[i + 1:i + 3], 16)))
            i += 3
        else:
            out.append(value[i])
            i += 1
    text = "".join(out)
    return None if text in ("", HIVE_DEFAULT_PARTITION) else text


def category_fixes(paths) -> dict:
    """{Spark's category value: the category} where Spark's decoding of a folder value differs
    from the contract's (%XX escapes are UTF-8 bytes; the folder name is the category, even
    `__HIVE_DEFAULT_PARTITION__`). Empty in the common case of ASCII escapes only."""
    fixes = {}
    for raw in {_category_folder(p) for p in paths} - {None}:
        spark_value, value = spark_unescape(raw), urllib.parse.unquote(raw, errors="replace")
        if spark_value != value:
            if fixes.get(spark_value, value) != value:
                log(f"warning: categories {fixes[spark_value]!r} and {value!r} are the same "
                    f"partition value to Spark; both are reported as {fixes[spark_value]!r}")
                continue
            fixes[spark_value] = value
    return fixes


def _category_folder(path: str):
    folders = [p for p in path.split("/")[:-1] if p.startswith("category=")]
    return folders[-1][len("category="):] if folders else None


def _day(epoch_ns: int):
    try:
        return datetime.datetime.fromtimestamp(epoch_ns // NANOS_PER_SECOND, datetime.timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return None


def top_sellers(events, kind: str, opts: Options):
    """Counted events -> DataFrame (variant index, category, rank, item, score, window_s)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    last = len(opts.windows_s) - 1
    # One weight column per variant, computed once per row (a projection of its own, so the
    # several sums below do not each recompute exp()).
    weighted = events.select(
        "category", "item", "bucket",
        *[(F.col("qty").cast("double") * F.exp(F.lit(-v.lambda_per_second) * F.col("age_s"))).alias(f"w{vi}")
          for vi, v in enumerate(opts.variants)])
    # Per (category, item): the most recent bucket, and per variant the decayed sum over
    # buckets 0..i for every candidate i (the last one is the plain sum).
    aggs = [F.min("bucket").alias("b")]
    for vi in range(len(opts.variants)):
        w = F.col(f"w{vi}")
        for i in range(last + 1):
            term = w if i == last else F.when(F.col("bucket") <= i, w)
            aggs.append(F.sum(term).alias(f"s{vi}_{i}"))
    per_item = weighted.groupBy("category", "item").agg(*aggs)

    # Per category: distinct items whose most recent purchase lies within candidate i, hence
    # W_c. A window over the category (rather than an aggregate joined back) keeps this to
    # one scan of the lake: the ranking window below reuses the same partitioning.
    by_category = Window.partitionBy("category")
    counts = [F.sum(F.when(F.col("b") <= i, 1).otherwise(0)).over(by_category) for i in range(last)]
    choice = F.lit(last)
    for i in reversed(range(last)):
        choice = F.when(counts[i] >= opts.min_items, F.lit(i)).otherwise(choice)
    window_s = F.lit(opts.windows_s[last])
    for i in reversed(range(last)):
        window_s = F.when(F.col("c") == i, F.lit(opts.windows_s[i])).otherwise(window_s)

    scored = per_item.withColumn("c", choice).filter(F.col("b") <= F.col("c"))
    per_variant = []
    for vi in range(len(opts.variants)):
        score = F.col(f"s{vi}_{last}")
        for i in reversed(range(last)):
            score = F.when(F.col("c") == i, F.col(f"s{vi}_{i}")).otherwise(score)
        per_variant.append(F.struct(F.lit(vi).alias("v"), score.alias("score")))
    long = scored.select("category", "item", window_s.alias("window_s"),
                         F.explode(F.array(*per_variant)).alias("vs"))
    long = long.select("category", "item", "window_s", "vs.v", "vs.score")

    item_order = F.col("item").cast("binary") if kind == "string" else F.col("item")
    rank_window = Window.partitionBy("v", "category").orderBy(F.col("score").desc(), item_order.asc())
    return (long.withColumn("rank", F.row_number().over(rank_window))
            .filter(F.col("rank") <= opts.top)
            .select("v", "category", "rank", "item", "score", "window_s"))


def write_csv(path: str, rows, opts: Options) -> None:
    """Writes the rows sorted (variant in command-line order, category bytewise, rank), atomically."""
    rows = sorted(rows, key=lambda r: (r["v"], r["category"].encode("utf-8", "surrogatepass"), r["rank"]))
    as_of = format_as_of(opts.as_of_ns)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(HEADER)
            for r in rows:
                out.writerow([opts.variants[r["v"]].name, r["category"], r["rank"], str(r["item"]),
                              repr(float(r["score"])), r["window_s"], as_of])
        os.replace(tmp, path)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise JobError(f"{path}: cannot write results: {err.strerror or err}") from None


def compute(spark, opts: Options, per_schema: bool) -> list:
    """The result rows (collected: at most variants x categories x N)."""
    parts, kinds = [], set()
    for part in read_lake(spark, opts, per_schema):
        events, kind = counted_events(spark, part, opts)
        parts.append(events)
        kinds.add(kind)
    if len(kinds) > 1:
        raise JobError("the item id column is an integer in some files and a string in others; "
                       "one lake must use one id type")
    if not parts:
        return []
    events = parts[0]
    for extra in parts[1:]:
        events = events.unionByName(extra)
    return top_sellers(events, kinds.pop(), opts).collect()


def run(args: argparse.Namespace, opts: Options) -> None:
    started = time.monotonic()
    out_dir = os.path.dirname(os.path.abspath(opts.out))
    if not os.path.isdir(out_dir):
        raise JobError(f"{opts.out}: folder {out_dir} does not exist")
    if "://" not in opts.lake and not os.path.isdir(opts.lake):
        raise JobError(f"{opts.lake}: lake not found (not a folder)")

    spark = start_session(args)
    session_s = time.monotonic() - started
    log(f"session started in {session_s:.2f}s (master {spark.sparkContext.master})")
    if opts.lake.startswith("s3://") and not spark._jsc.hadoopConfiguration().get("fs.s3.impl"):
        # Outside EMR, Hadoop has no s3:// file system; s3a:// is the same bucket and key.
        opts = dataclasses.replace(opts, lake="s3a://" + opts.lake[len("s3://"):])
        log(f"reading the lake as {opts.lake} (no file system configured for s3://)")

    from pyspark.errors import PySparkException
    from py4j.protocol import Py4JJavaError

    compute_started = time.monotonic()
    try:
        try:
            rows = compute(spark, opts, per_schema=False)
        except (PySparkException, Py4JJavaError) as err:
            if not is_heterogeneous(err):
                raise
            # A column type that differs between files can surface only while reading.
            log(f"files disagree on a column type ({_first_line(err)[:160]}); reading them in groups")
            rows = compute(spark, opts, per_schema=True)
    except (PySparkException, Py4JJavaError) as err:
        raise JobError(f"{opts.lake}: Spark failed: {_first_line(err)}") from None
    compute_s = time.monotonic() - compute_started
    write_csv(opts.out, rows, opts)
    categories = len({r["category"] for r in rows})
    log(f"compute {compute_s:.2f}s: {categories} categories, {len(rows)} rows -> {opts.out}")
    log(f"total {time.monotonic() - started:.2f}s (session {session_s:.2f}s, compute {compute_s:.2f}s)")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit with status 2 here
    opts = validate(parser, args)
    try:
        run(args, opts)
    except JobError as err:
        log(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
