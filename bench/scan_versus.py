#!/usr/bin/env python
"""The crisis scanner of this checkout against another version's, timed in turns.

    taskset -c 1 .venv/bin/python bench/scan_versus.py e316904 --rounds 12

On a shared machine single runs of ``scan_bench.py`` move by up to 2x with the load,
so two versions run one after the other can be compared only roughly. This script takes
the tree of REF (``git archive``) into a temporary directory and starts one process per
version; each imports only its own ``backend.crisis.language`` and compiles its own
shipped lists, rules and text model (``compile_matcher``) plus the same 2,000 generated
phrases. Both get the same 20,000 messages (``scan_bench.generate_messages``), and they
scan them end to end (normalise + match) in turns, one pass each per round, the order
swapped every round, so a change in the machine's load falls on both alike. Prints each
version's best pass and the ratio of the bests, and the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import IO

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


def serve(root: Path, data_file: Path) -> None:
    """One version's side: compile its scanner, then time one pass per "run" line read."""
    sys.path.insert(0, str(root))
    from backend.crisis import language

    data = json.loads(data_file.read_text(encoding="utf-8"))
    messages: list[str] = data["messages"]
    extra = [
        language.PhraseEntry(key, severity, category, prefix=prefix, source="bench")
        for key, severity, category, prefix in data["extra"]
    ]
    matcher = language.compile_matcher(extra)
    flagged = sum(matcher.scan(text).matched_any for text in messages)  # also warms up
    print(f"ready {flagged}", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        started = time.perf_counter()
        for text in messages:
            matcher.scan(text)
        print(time.perf_counter() - started, flush=True)


def extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def start(root: Path, data_file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", str(root), str(data_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def pipes(side: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    """The side's stdin and stdout (both are pipes, as ``start`` opened them)."""
    if side.stdin is None or side.stdout is None:
        raise RuntimeError("started without pipes")
    return side.stdin, side.stdout


def ask(side: subprocess.Popen[str]) -> float:
    stdin, stdout = pipes(side)
    stdin.write("run\n")
    stdin.flush()
    return float(stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ref", nargs="?", help="the other version: a commit, tag or branch")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--extra", type=int, default=2_000, help="generated phrases on top of the defaults")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--serve", nargs=2, metavar=("ROOT", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), Path(args.serve[1]))
        return
    if not args.ref:
        parser.error("name the version to compare with")

    sys.path.insert(0, str(REPO))
    from bench.scan_bench import generate_messages, generate_phrases

    rng = random.Random(args.seed)
    messages = generate_messages(args.messages, 0.05, rng)
    extra = [(e.key, e.severity, e.category, e.prefix) for e in generate_phrases(args.extra, rng)]
    with tempfile.TemporaryDirectory(prefix="scan-versus-") as temporary:
        data_file = Path(temporary) / "data.json"
        data_file.write_text(json.dumps({"messages": messages, "extra": extra}), encoding="utf-8")
        other = extract(args.ref, Path(temporary) / "other")
        sides = {args.ref: start(other, data_file), "this checkout": start(REPO, data_file)}
        try:
            flagged = {name: pipes(side)[1].readline().split()[1] for name, side in sides.items()}
            times: dict[str, list[float]] = {name: [] for name in sides}
            names = list(sides)
            for round_number in range(args.rounds):
                for name in names if round_number % 2 == 0 else reversed(names):
                    times[name].append(ask(sides[name]))
        finally:
            for side in sides.values():
                pipes(side)[0].close()
                side.wait()

    n = len(messages)
    for name in names:
        print(f"{name}: {n / min(times[name]):,.0f} msg/s best of {args.rounds} ({flagged[name]} messages flagged)")
    base, this = times[args.ref], times["this checkout"]
    print(f"this checkout against {args.ref}: {min(this) / min(base):.2f}x the time (best against best)")
    print(f"median of the rounds' ratios: {statistics.median(t / b for b, t in zip(base, this, strict=True)):.2f}x")


if __name__ == "__main__":
    main()
