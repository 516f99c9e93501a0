"""`assetstream replay`: the same domain engine with no Kafka."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from streams.replay import ReplayEngine

HELP = (
    "Fold a JSONL file of events with no Kafka; write snapshots.jsonl, rejected.jsonl and "
    "accounts.jsonl."
)


def as_of_date(text: str) -> date:
    """``--as-of``: a YYYY-MM-DD date within the range input dates have (schemas.types).

    The fold computes dates up to ``as_of`` (automatic renewals), so an ``as_of`` past
    the input range could run past the last valid date.
    """
    from schemas.types import MAX_DATE, MIN_DATE

    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise argparse.ArgumentTypeError(
            f"{day.isoformat()} is out of range ({MIN_DATE.isoformat()} to {MAX_DATE.isoformat()})"
        )
    return day


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("events", help="input events, one CloudEvent per line ('-' for stdin)")
    parser.add_argument(
        "--as-of", required=True, type=as_of_date, help="date the snapshots are as of"
    )
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")


class Progress:
    """A one-line progress bar on stderr for large inputs, only when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled and total >= 5_000 and sys.stderr.isatty()
        self.shown = -1

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        percent = done * 100 // self.total
        if percent != self.shown:
            self.shown = percent
            bar = "#" * (percent // 4)
            sys.stderr.write(f"\rreplaying [{bar:<25}] {percent:3d}% ({done}/{self.total})")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _read_lines(path: str) -> list[bytes]:
    stream: BinaryIO = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    with stream:
        return stream.read().splitlines()


def run(args: argparse.Namespace) -> int:
    import json

    from schemas.outputs import dead_letter_to_dict
    from streams.replay import ReplayEngine

    source_name = "stdin" if args.events == "-" else Path(args.events).name
    lines = _read_lines(args.events)
    engine = ReplayEngine(as_of=args.as_of, source_name=source_name)
    progress = Progress(len(lines), enabled=not args.no_progress)
    for number, raw in enumerate(lines, start=1):
        if raw.strip():  # blank lines are layout, not messages
            engine.feed(raw, number)
        progress.update(number)
    engine.finish()
    progress.close()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # The worker's own renderer: the bytes the worker would publish (version and as_of apart).
    with (out / "snapshots.jsonl").open("wb") as binary:
        for asset_id in engine.asset_ids():
            rendered = engine.snapshot_json(asset_id)
            if rendered is not None:
                binary.write(rendered + b"\n")
    with (out / "rejected.jsonl").open("w", encoding="utf-8") as handle:
        for letter in engine.rejected:
            handle.write(json.dumps(dead_letter_to_dict(letter)) + "\n")
    with (out / "accounts.jsonl").open("w", encoding="utf-8") as handle:
        for record in engine.account_records():
            handle.write(json.dumps(record) + "\n")
    _print_summary(engine, out)
    return 0


def _print_summary(engine: ReplayEngine, out: Path) -> None:
    # Asset ids come from the input: escaped, so one cannot drive the terminal.
    from streams.terminal import printable

    print(printable(f"Replayed {engine.messages} messages as of {engine.as_of} -> {out}"))
    print("Outcomes on arrival (events still pending at the end are then dead-lettered):")
    for outcome, count in sorted(engine.outcomes.items()):
        print(f"  {outcome:<40} {count:>8}")
    headers = engine.headers()  # the head fields are all the summary shows
    print(f"Assets: {len(headers)}")
    rows = sorted(headers.items())
    if rows:
        header = f"  {'asset':<32} {'status':<12} {'quantity':>10} {'mrr':>14} {'total':>16}"
        print(header)
        for asset_id, s in rows[:50]:
            mrr = printable(f"{s.current_mrr} {s.currency}")
            total = printable(f"{s.total_lifecycle_amount} {s.currency}")
            quantity, status = printable(s.current_quantity), s.status.value
            line = f"  {printable(asset_id):<32} {status:<12} {quantity:>10} {mrr:>14} {total:>16}"
            print(line)
        if len(rows) > 50:
            print(f"  … and {len(rows) - 50} more (see snapshots.jsonl)")
