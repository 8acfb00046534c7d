#!/usr/bin/env python3
"""Checks the layering the README's architecture section promises.

1. Pure crates stay pure: the normal (non-dev) dependency tree of each crate
   in PURE holds no async runtime, AWS SDK or Redis client.
2. No import cycles: inside each crate in ACYCLIC, the graph "top-level
   module A names `crate::B`" has no cycle, so every module sits on a layer
   above the ones it imports.

Exit 0 when both hold; otherwise exit 1 naming the crate and the offending
dependency chain or module cycle.

    scripts/check/layers.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Crates that must compile without tokio, AWS or Redis.
PURE = ["topsellers-engine", "topsellers-lake", "topsellers-experiments"]
# Forbidden crate-name prefixes in a pure crate's normal dependency tree.
FORBIDDEN = ("tokio", "aws-", "redis", "hyper", "axum", "rustls")
# Crates whose top-level modules must not import each other in a cycle:
# (package name, source folder).
ACYCLIC = [
    ("topsellers-engine", "engine/src"),
    ("topsellers-lake", "io/lake/src"),
    ("topsellers-aws", "io/aws/src"),
    ("topsellers-s3", "io/s3/src"),
    ("topsellers-ingest", "io/ingest/src"),
    ("topsellers-store", "io/store/src"),
    ("topsellers-serve", "io/serve/src"),
    ("topsellers-experiments", "io/experiments/src"),
    ("topsellers", "bin/src"),
]

USE_CRATE = re.compile(r"\bcrate::(\{[^;]*?\}|[a-z_][a-z0-9_]*)", re.S)
NAME = re.compile(r"(?:^|[{,\s])([a-z_][a-z0-9_]*)")


def forbidden_deps(package: str) -> list[str]:
    """The forbidden crates in `package`'s normal dependency tree."""
    out = subprocess.run(
        ["cargo", "tree", "-e", "normal", "-p", package, "--prefix", "none"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    names = {line.split()[0] for line in out.splitlines() if line.strip()}
    return sorted(n for n in names if n.startswith(FORBIDDEN))


def top_module(src: Path, file: Path) -> str:
    """The top-level module a source file belongs to (`lib` for lib.rs)."""
    rel = file.relative_to(src).with_suffix("")
    return rel.parts[0]


def import_graph(src: Path) -> dict[str, set[str]]:
    """Top-level module -> the other top-level modules it names."""
    modules = {top_module(src, f) for f in src.rglob("*.rs")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for f in src.rglob("*.rs"):
        me = top_module(src, f)
        if me in ("lib", "main"):
            continue  # the crate root declares every module
        text = f.read_text(encoding="utf-8")
        # Unit tests may reach anywhere; they are not part of the layering.
        text = text.split("#[cfg(test)]", 1)[0]
        for m in USE_CRATE.finditer(text):
            target = m.group(1)
            if target.startswith("{"):
                # `crate::{a, b::c}`: the first segment of each path.
                inner = target[1:-1]
                depth, firsts, cur = 0, [], ""
                for ch in inner:
                    if ch == "{":
                        depth += 1
                    elif ch == "}":
                        depth -= 1
                    if ch == "," and depth == 0:
                        firsts.append(cur)
                        cur = ""
                    else:
                        cur += ch
                firsts.append(cur)
                names = [p.strip().split("::")[0] for p in firsts if p.strip()]
            else:
                names = [target]
            for n in names:
                if n in graph and n != me:
                    graph[me].add(n)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def selftest() -> None:
    """The checker itself must catch a cycle, or a pass means nothing."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        (src / "lib.rs").write_text("mod a; mod b; mod c;\n")
        (src / "a.rs").write_text("use crate::{b::Thing, c};\n")
        (src / "b").mkdir()
        (src / "b" / "mod.rs").write_text("use crate::c::X;\n")
        (src / "c.rs").write_text("fn f() { crate::a::g() }\n#[cfg(test)]\nuse crate::b;\n")
        graph = import_graph(src)
        assert graph == {"lib": set(), "a": {"b", "c"}, "b": {"c"}, "c": {"a"}}, graph
        assert cycles(graph) == [["a", "b", "c"]], cycles(graph)
        (src / "c.rs").write_text("fn f() {}\n")
        assert cycles(import_graph(src)) == []


def main() -> int:
    selftest()
    failed = False
    for package in PURE:
        bad = forbidden_deps(package)
        if bad:
            failed = True
            print(f"layers: {package} must stay free of async, AWS and Redis crates, "
                  f"but its dependency tree holds: {', '.join(bad)} "
                  f"(see `cargo tree -e normal -p {package} -i {bad[0]}`)")
        else:
            print(f"layers: {package}: no tokio, AWS or Redis in its dependency tree")
    for package, folder in ACYCLIC:
        graph = import_graph(ROOT / folder)
        found = cycles(graph)
        for component in found:
            failed = True
            edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]
            print(f"layers: {package}: modules import each other in a cycle: "
                  f"{', '.join(component)} ({'; '.join(edges)})")
        if not found:
            print(f"layers: {package}: {len(graph)} modules, no import cycle")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
