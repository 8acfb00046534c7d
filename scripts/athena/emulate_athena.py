#!/usr/bin/env python3
"""Runs a rendered top_sellers_athena.sql offline: parsed as Trino SQL, executed on DuckDB.

There is no Athena (or Trino) here, so this is the closest offline check of the Athena query
itself, not of its DuckDB twin: sqlglot parses the rendered query with its Trino grammar (a
syntax error fails here) and transpiles it to DuckDB, which runs it against a view that
reads the lake the way Athena reads it through create_table.sql:
  * `category` is the raw, still %XX-escaped folder value (partition projection substitutes
    the query's literal into the path), which the query itself decodes;
  * `ts` has millisecond precision (Athena's TIMESTAMP; finer digits are truncated here);
  * files and folders whose names start with '_' or '.' are not read.
It does not prove that Athena accepts every function as written (sqlglot is lenient, and
maps Trino functions onto DuckDB ones); it proves the query's logic on real data.

Needs the PyPI package sqlglot next to duckdb (not in scripts/requirements.txt: test_sql.sh
skips this check when sqlglot cannot be imported).

    python scripts/athena/emulate_athena.py --lake DIR --athena-sql rendered.sql --out athena.csv \\
        [--table topsellers.purchases]

Output: the CSV `topsellers compute` writes (scores via repr(), as_of as the query prints it).
Exit status: 0 success, 1 failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Run a rendered Athena query offline (sqlglot -> DuckDB).")
    p.add_argument("--lake", required=True)
    p.add_argument("--athena-sql", required=True, help="top_sellers_athena.sql rendered by run_duckdb.py")
    p.add_argument("--table", default="topsellers.purchases", help="the table name used in the query")
    p.add_argument("--out", required=True)
    p.add_argument("--duckdb-sql-out", metavar="FILE", help="also write the transpiled query here")
    args = p.parse_args(argv)

    import duckdb
    import sqlglot

    with open(args.athena_sql, encoding="utf-8") as f:
        athena = f.read()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from run_duckdb import _PLACEHOLDER, _split_comment

    left = [m.group(0) for line in athena.splitlines() for m in _PLACEHOLDER.finditer(_split_comment(line)[0])]
    if left:
        print(f"error: {args.athena_sql}: placeholders not filled in: {', '.join(sorted(set(left)))}", file=sys.stderr)
        return 1
    try:
        statements = sqlglot.parse(athena, read="trino")
    except sqlglot.errors.ParseError as err:
        print(f"error: {args.athena_sql}: not valid Trino SQL: {err}", file=sys.stderr)
        return 1
    if len([s for s in statements if s is not None]) != 1:
        print(f"error: {args.athena_sql}: expected exactly one statement", file=sys.stderr)
        return 1
    sql = statements[0].sql(dialect="duckdb")
    if args.duckdb_sql_out:
        with open(args.duckdb_sql_out, "w", encoding="utf-8") as f:
            f.write(sqlglot.transpile(athena, read="trino", write="duckdb", pretty=True)[0] + "\n")

    lake = os.path.abspath(args.lake).replace("'", "''")
    schema, _, table = args.table.rpartition(".")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if schema:
        con.execute(f'CREATE SCHEMA "{schema}"')
    qualified = (f'"{schema}".' if schema else "") + f'"{table}"'
    # The table as Athena sees it (create_table.sql): raw category path value, millisecond ts,
    # a column the files lack reads as NULL.
    src = f"read_parquet('{lake}/**/*.parquet', hive_partitioning = true, union_by_name = true)"
    columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    quantity = "quantity" if "quantity" in columns else "CAST(NULL AS INTEGER) AS quantity"
    con.execute(f"""
        CREATE VIEW {qualified} AS
        SELECT item_id,
               CAST(ts AS TIMESTAMP_MS) AS ts,
               {quantity},
               regexp_extract(filename, '/category=([^/]*)/', 1) AS category,
               dt
        FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = true,
                          hive_types = {{'category': VARCHAR, 'dt': VARCHAR}}, union_by_name = true,
                          filename = true)
        WHERE NOT regexp_matches(substr(filename, length('{lake}') + 1), '/[._]')
    """)
    # Trino's to_iso8601(timestamp(3)): 2026-10-15T00:00:00.000
    con.execute("CREATE MACRO to_iso8601(t) AS strftime(t, '%Y-%m-%dT%H:%M:%S.%g')")
    try:
        rows = con.execute(sql).fetchall()
    except duckdb.Error as err:
        print(f"error: the transpiled Athena query failed on DuckDB: {err}", file=sys.stderr)
        return 1

    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["variant", "category", "rank", "item_id", "score", "window_s", "as_of"])
        for variant, category, rank, item_id, score, window_s, as_of in rows:
            w.writerow([variant, category, rank, str(item_id), repr(float(score)), int(window_s), as_of])
    print(f"athena sql (emulated): {len(rows)} rows -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
