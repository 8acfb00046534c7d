#!/usr/bin/env python3
"""Compares two top-sellers result CSVs (`variant,category,rank,item_id,score,window_s,as_of`).

Two results agree when they have the same (variant, category) groups, the same window_s and
as_of per group, the same number of rows per group, scores within a relative tolerance at
every rank, and the same item at every rank, except that items whose scores tie within the
tolerance may come in either order: for each run of adjacent tied ranks the *sets* of items
must agree. Two refinements: where the scores of a run are bit-identical in both files (an
exact tie), the item-id tie-break decides, so the items must come in the same order; and a
run of near (not exact) ties that reaches the cut-off rank N of a full group (N = the largest
group size seen, or --top) may legitimately hold different members of a larger tie, so there
only the sizes are compared and a note is printed.

Usage:

    .venv/bin/python scripts/reference/compare_results.py expected.csv actual.csv [--rel 1e-9]

Exit status: 0 match, 1 mismatch, 2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import math
import re
import sys
from dataclasses import dataclass

HEADER = ["variant", "category", "rank", "item_id", "score", "window_s", "as_of"]
MAX_REPORTED = 20


@dataclass
class Row:
    line: int
    rank: int
    item: str
    score: float


@dataclass
class Group:
    window_s: str
    as_of: str
    rows: list[Row]


class InputError(Exception):
    pass


def read_results(path: str) -> dict[tuple[str, str], Group]:
    """Reads a result CSV into groups keyed by (variant, category), rows in file order."""
    groups: dict[tuple[str, str], Group] = {}
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as err:
        raise InputError(f"{path}: {err.strerror}") from None
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != HEADER:
            raise InputError(f"{path}: header is {header}, expected {','.join(HEADER)}")
        for line, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) != len(HEADER):
                raise InputError(f"{path}:{line}: {len(fields)} fields, expected {len(HEADER)}")
            variant, category, rank, item, score, window_s, as_of = fields
            try:
                row = Row(line, int(rank), item, float(score))
            except ValueError:
                raise InputError(f"{path}:{line}: bad rank {rank!r} or score {score!r}") from None
            group = groups.setdefault((variant, category), Group(window_s, as_of, []))
            if (window_s, as_of) != (group.window_s, group.as_of):
                raise InputError(f"{path}:{line}: window_s/as_of differ within group {variant}/{category}")
            group.rows.append(row)
    # Ranks must be 1..n within each group (in any file order), and items distinct.
    for (variant, category), group in groups.items():
        group.rows.sort(key=lambda r: r.rank)
        ranks = [r.rank for r in group.rows]
        if ranks != list(range(1, len(ranks) + 1)):
            raise InputError(f"{path}: group {variant}/{category}: ranks are not 1..{len(ranks)}")
        if len({r.item for r in group.rows}) != len(ranks):
            raise InputError(f"{path}: group {variant}/{category}: an item id appears twice")
    return groups


def rel_diff(a: float, b: float) -> float:
    if a == b:
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


_AS_OF_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


def instant_ns(text: str) -> int | None:
    """RFC 3339 text -> epoch nanoseconds, None if it does not parse."""
    m = _AS_OF_RE.match(text)
    if not m:
        return None
    seconds = calendar.timegm(tuple(int(g) for g in m.groups()[:6]) + (0, 0, 0))
    offset = m.group(8)
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        seconds -= sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    return seconds * 1_000_000_000 + int((m.group(7) or "").ljust(9, "0"))


def same_instant(a: str, b: str) -> bool:
    """as_of values compare as instants, so `...00Z` and `...00.000Z` or `+00:00` agree."""
    return a == b or (instant_ns(a) is not None and instant_ns(a) == instant_ns(b))


def tie_runs(a_rows: list[Row], b_rows: list[Row], rel: float) -> list[tuple[int, int]]:
    """Half-open index ranges of adjacent ranks whose scores tie within `rel` in either file."""
    runs, start = [], 0
    for i in range(1, len(a_rows) + 1):
        tied = i < len(a_rows) and (
            rel_diff(a_rows[i - 1].score, a_rows[i].score) <= rel
            or rel_diff(b_rows[i - 1].score, b_rows[i].score) <= rel
        )
        if not tied:
            runs.append((start, i))
            start = i
    return runs


def compare(a_path, b_path, a, b, rel, top):
    """Returns (problems, notes, rows_compared, max_rel)."""
    problems, notes = [], []
    rows_compared, max_rel = 0, 0.0
    for key in sorted(a.keys() - b.keys()):
        problems.append(f"group {key[0]}/{key[1]}: only in {a_path} ({len(a[key].rows)} rows)")
    for key in sorted(b.keys() - a.keys()):
        problems.append(f"group {key[0]}/{key[1]}: only in {b_path} ({len(b[key].rows)} rows)")

    if top is None:  # the cut-off N: groups this full may have been truncated inside a tie
        top = max((len(g.rows) for g in list(a.values()) + list(b.values())), default=0)

    for key in sorted(a.keys() & b.keys()):
        name = f"group {key[0]}/{key[1]}"
        ga, gb = a[key], b[key]
        if ga.window_s != gb.window_s:
            problems.append(f"{name}: window_s {ga.window_s} vs {gb.window_s}")
        if not same_instant(ga.as_of, gb.as_of):
            problems.append(f"{name}: as_of {ga.as_of} vs {gb.as_of}")
        if len(ga.rows) != len(gb.rows):
            problems.append(f"{name}: {len(ga.rows)} rows vs {len(gb.rows)} rows")
            continue
        for ra, rb in zip(ga.rows, gb.rows):
            d = rel_diff(ra.score, rb.score)
            max_rel = max(max_rel, d)
            rows_compared += 1
            if d > rel:
                problems.append(
                    f"{name} rank {ra.rank}: score {ra.score!r} ({a_path}:{ra.line}) vs "
                    f"{rb.score!r} ({b_path}:{rb.line}), relative difference {d:.3g} > {rel:g}"
                )
        for start, end in tie_runs(ga.rows, gb.rows, rel):
            items_a = [r.item for r in ga.rows[start:end]]
            items_b = [r.item for r in gb.rows[start:end]]
            if items_a == items_b:
                continue
            ranks = f"rank {start + 1}" if end - start == 1 else f"ranks {start + 1}-{end}"
            # Where both sides saw a bit-exact tie, the item-id tie-break decides, so the
            # order must agree exactly (this catches a wrong id order: numeric vs bytewise).
            exact = all(len({r.score for r in g.rows[start:end]}) == 1 for g in (ga, gb))
            if exact:
                problems.append(f"{name} {ranks}: exact tie, items {items_a} ({a_path}) vs {items_b} ({b_path})")
                continue
            if sorted(items_a) == sorted(items_b):
                continue
            if end == len(ga.rows) == top and end - start > 1:
                notes.append(
                    f"{name} {ranks}: tied run at the cut-off holds different items "
                    f"({items_a} vs {items_b}); accepted"
                )
                continue
            problems.append(f"{name} {ranks}: items {items_a} ({a_path}) vs {items_b} ({b_path})")
    return problems, notes, rows_compared, max_rel


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Compare two top-sellers result CSVs, tolerating ties.")
    p.add_argument("a", help="first result CSV (e.g. the reference)")
    p.add_argument("b", help="second result CSV (e.g. topsellers compute)")
    p.add_argument("--rel", type=float, default=1e-9, help="relative score tolerance (default 1e-9)")
    p.add_argument("--top", type=int, default=None,
                   help="the N both runs used (default: the largest group size seen)")
    args = p.parse_args(argv)
    try:
        a, b = read_results(args.a), read_results(args.b)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    problems, notes, rows, max_rel = compare(args.a, args.b, a, b, args.rel, args.top)
    for note in notes[:MAX_REPORTED]:
        print(f"note: {note}")
    for problem in problems[:MAX_REPORTED]:
        print(f"DIFF: {problem}")
    if len(problems) > MAX_REPORTED:
        print(f"... and {len(problems) - MAX_REPORTED} more differences")
    groups = len(a.keys() | b.keys())
    verdict = "MISMATCH" if problems else "OK"
    print(f"{verdict}: {groups} groups, {rows} rows compared, max relative score difference {max_rel:.3g}"
          + (f", {len(problems)} differences" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
