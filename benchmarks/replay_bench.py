"""`assetstream replay` throughput on the benchmark mix, in events per second.

    .venv/bin/python -m benchmarks.replay_bench --assets 2000 --seed 11 --runs 5

The events are those benchmarks/worker_throughput.py sends (tests/support/
generate_events.py, same defaults); generating them replays the mix several times, so
the file is kept in the temporary directory, named by the arguments, and reused
(`--events FILE` replays a file of your own instead). Each run is the whole command,
`python -m streams.cli replay FILE --as-of DATE --out DIR`, in a fresh process (start-up,
decoding, folding, accounts and writing the three output files included), so what is
measured is what a user waits for. The machine is shared and noisy: it prints every run,
the median and the best, and the command to reproduce.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _events_file(assets: int, seed: int, section_9: bool) -> Path:
    suffix = "-s9" if section_9 else ""
    path = Path(tempfile.gettempdir()) / f"assetstream-replay-bench-{assets}-{seed}{suffix}.jsonl"
    if not path.exists():
        from tests.support.generate_events import generate

        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as handle:
            for event in generate(assets, seed, section_9=section_9):
                handle.write(json.dumps(event) + "\n")
        partial.replace(path)
    return path


def _run_once(events: Path, as_of: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "streams.cli", "replay", str(events),
                   "--as-of", as_of, "--out", out, "--no-progress"]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--section-9", action="store_true", help="add SPEC §9 events")
    parser.add_argument("--as-of", default="2026-06-01")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=Path, help="replay this file instead of the mix")
    args = parser.parse_args()

    events = args.events or _events_file(args.assets, args.seed, args.section_9)
    count = sum(1 for line in events.read_bytes().splitlines() if line.strip())
    print(f"{count} events from {events}")
    seconds = []
    for number in range(1, args.runs + 1):
        elapsed = _run_once(events, args.as_of)
        seconds.append(elapsed)
        print(f"  run {number}: {elapsed:7.2f} s  {count / elapsed:9.0f} events/s")
    median, best = statistics.median(seconds), min(seconds)
    print(f"median {median:.2f} s = {count / median:.0f} events/s; "
          f"best {best:.2f} s = {count / best:.0f} events/s (target 20000 events/s)")  # fmt: skip
    source = (
        f"--events {args.events}"
        if args.events
        else (
            f"--assets {args.assets} --seed {args.seed}"
            + (" --section-9" if args.section_9 else "")
        )
    )
    print(f"reproduce: .venv/bin/python -m benchmarks.replay_bench {source} "
          f"--as-of {args.as_of} --runs {args.runs}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
