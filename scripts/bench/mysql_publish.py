#!/usr/bin/env python3
"""The peer of the MySQL publish benchmark: a plain one-row-at-a-time
PyMySQL loop. Reads the same results CSV as `topsellers publish`, groups it
by (variant, category), and writes each group as one row of the same schema
with the same guarded upsert, one INSERT per row, autocommit on (as a plain
loop would), then the manifest row. Prints the seconds it took, reading the
CSV included (as the Rust command's time includes it).

    mysql_publish.py csv HOST PORT USER DATABASE RESULTS.csv   (password: $TOPSELLERS_MYSQL_PASSWORD)
    mysql_publish.py results CATEGORIES ITEMS AS_OF OUT.csv
"""

import csv
import datetime
import json
import os
import sys
import time

SCHEMA = [
    """CREATE TABLE topsellers_groups (
      variant VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      category VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      generation BIGINT NOT NULL, as_of VARCHAR(40) NOT NULL, window_s BIGINT NOT NULL,
      computed_at VARCHAR(40) NOT NULL,
      items LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      scores LONGTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      PRIMARY KEY (variant, category)) ENGINE=InnoDB""",
    """CREATE TABLE topsellers_manifests (
      variant VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      generation BIGINT NOT NULL, as_of VARCHAR(40) NOT NULL, computed_at VARCHAR(40) NOT NULL,
      published_at VARCHAR(40) NOT NULL, categories BIGINT UNSIGNED NOT NULL,
      items BIGINT UNSIGNED NOT NULL, counted BIGINT UNSIGNED NULL,
      PRIMARY KEY (variant)) ENGINE=InnoDB""",
]

GUARD = "IF(VALUES(generation) >= generation, VALUES({c}), {c})"


def upsert(table, columns):
    marks = ", ".join(["%s"] * len(columns))
    keys = [c for c in columns[1:] if c not in ("category", "generation")] + ["generation"]
    update = ", ".join(f"{c} = " + GUARD.format(c=c) for c in keys)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {update}"


def loop(host, port, user, database, path):
    import pymysql

    started = time.perf_counter()
    groups = {}
    as_of = None
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["variant"], row["category"])
            g = groups.setdefault(key, {"window_s": int(row["window_s"]), "items": [], "scores": []})
            g["items"].append(int(row["item_id"]))
            g["scores"].append(float(row["score"]))
            as_of = row["as_of"]
    t = datetime.datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    generation = int(t.timestamp() * 1000)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    conn = pymysql.connect(host=host, port=int(port), user=user, database=database,
                           password=os.environ.get("TOPSELLERS_MYSQL_PASSWORD", ""), autocommit=True)
    cur = conn.cursor()
    for statement in SCHEMA:
        cur.execute(statement)
    insert = upsert("topsellers_groups", ["variant", "category", "generation", "as_of", "window_s",
                                          "computed_at", "items", "scores"])
    items = 0
    for (variant, category), g in groups.items():
        cur.execute(insert, (variant, category, generation, as_of, g["window_s"], now,
                             json.dumps(g["items"], separators=(",", ":")),
                             "[" + ",".join(repr(s) for s in g["scores"]) + "]"))
        items += len(g["items"])
    manifest = upsert("topsellers_manifests", ["variant", "generation", "as_of", "computed_at",
                                               "published_at", "categories", "items", "counted"])
    for variant in sorted({v for v, _ in groups}):
        cur.execute(manifest, (variant, generation, as_of, now, now,
                               sum(1 for v, _ in groups if v == variant), items, None))
    conn.close()
    print(f"{time.perf_counter() - started:.3f}")


def results(categories, items, as_of, out):
    with open(out, "w") as f:
        f.write("variant,category,rank,item_id,score,window_s,as_of\n")
        for c in range(int(categories)):
            for r in range(int(items)):
                f.write(f"default,c{c:06d},{r + 1},{c * 1000 + r},{1000.0 / (r + 1) + c * 1e-6!r},2592000,{as_of}\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["csv"]:
        loop(*sys.argv[2:7])
    elif sys.argv[1:2] == ["results"]:
        results(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
