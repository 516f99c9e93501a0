"""The fold agent's cost per event against history length, with the worker's own code (no broker).

    .venv/bin/python benchmarks/engine_bench.py          (or: python -m benchmarks.engine_bench)

What one event costs the fold agent (streams/agents.py `Agents.fold` → `apply`) besides
faust and the producer, stage by stage, each the worker's real function:

    decode   `streams.records.decode_commands` of the command message (one `Deliver`)
    load     `AssetStore.load` (the in-memory record: the table's head is the cached one)
    handle   `service.assets.handle` (the ledger transition, effects, crash bookkeeping)
    rows     `AssetStore.save`: the table rows it writes — the changelog's records — and the
             local-store writes `ChangelogWriter.set` makes
    wake     the timer's bookkeeping (`next_boundary`, `pending_deadline`)
    render   `SnapshotRenderer.render` (incremental): the published snapshot's bytes
    share    `contribution_change` + `encode_command`: what the publisher sends the account

Measured on one asset whose history holds 10 … 10,000 actions (seat upsells and
downsells two days apart, built once through intake and the same path), for an event
dated after everything (in order), one dated a few actions back (recent backdated) and
one dated at the asset's start (worst case: everything after it is re-folded and
re-rendered). Each sample starts from the same state (the store, table and renderer are
set back outside the clock), so a history does not grow while it is measured. Also:
changelog bytes per in-order event, `assetstream replay` throughput
(`streams.commands.replay.run` on `tests.support.generate_events`, as
benchmarks/worker_throughput.py generates), and one asset change applied to an account of
10 and of 10,000 assets (`service.accounts.handle_account` + `AccountStore.save`).

The machine is shared: read the ratios, each over several rounds; absolute µs are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec

# This checkout's code first, ahead of an editable install of another one (script mode).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import domain
from domain.accounts import AssetContribution, MrrSpan, record_to_dict
from domain.accounts import render as render_account
from domain.ledger import next_boundary, pending_deadline
from domain.ledger_types import Outcome, Source
from schemas.snapshot_render import SnapshotRenderer
from service import assets
from service.accounts import AccountRecord, contribution_change, handle_account
from service.intake import intake
from service.messages import AccountChange, Deliver, Publish
from streams.account_store import AccountStore
from streams.asset_store import AssetStore
from streams.commands import replay as replay_command
from streams.records import decode_commands, encode_command, encode_commands
from streams.settings import load_settings
from tests.support.generate_events import generate

AS_OF = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
GRACE = timedelta(hours=24)
START = date(1960, 1, 1)  # histories: one action every STEP days from START
STEP = 2
KEY = "AST-BENCH"
ACCOUNT = "ACC-BENCH"


def _snapshot_limit() -> int:
    """The worker's snapshot size limit (ASSETSTREAM_MAX_SNAPSHOT_BYTES or its default)."""
    return load_settings().max_snapshot_bytes


# --- building events the way the worker receives them ----------------------------------------


def _cloud_event(event_id: str, kind: str, data: dict[str, Any], minute: int) -> bytes:
    """A CloudEvent as producers send it (the shape tests/support/generate_events.py writes)."""
    stamp = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    return json.dumps({"specversion": "1.0", "id": event_id, "source": "bench", "type": kind,
                       "time": stamp.isoformat().replace("+00:00", "Z"),
                       "data": data}).encode()  # fmt: skip


def _order() -> bytes:
    line = {
        "line_id": "1",
        "asset_id": KEY,
        "product_code": "QBO",
        "quantity": "10",
        "unit_price": "49.99",
        "price_term_months": 12,
        "start_date": START.isoformat(),
        "end_date": "2030-01-01",
        "renewal_term_months": 12,
        "category": "initial_sale",
    }
    return _cloud_event("evt-order", "order.fulfilled", {"order_id": "ORD-BENCH",
                        "account_id": ACCOUNT, "currency": "USD", "lines": [line]}, 0)  # fmt: skip


def _seats(event_id: str, day: date, change: int, minute: int) -> bytes:
    data = {"asset_id": KEY, "effective_date": day.isoformat(), "quantity_change": str(change)}
    return _cloud_event(event_id, "asset.quantity_changed", data, minute)


def _message(raw: bytes, offset: int) -> bytes:
    """The fold's input message for one input event: intake's `Deliver`, encoded."""
    source = Source.from_bytes("assets.amendments", 0, offset, KEY, raw)
    delivers = [e for e in intake(raw, source, NOW).effects if isinstance(e, Deliver)]
    if len(delivers) != 1:
        raise SystemExit(f"intake made {len(delivers)} deliveries of a one-asset event")
    return encode_commands(list(delivers))


# --- the fold agent's path --------------------------------------------------------------------

STAGES = ("decode", "load", "handle", "rows", "wake", "render", "share")


@dataclass
class Asset:
    """One asset in a table, store and renderer as the fold agent keeps them."""

    actions: int
    table: dict[bytes, bytes]
    store: AssetStore
    renderer: SnapshotRenderer
    days: list[date]  # effective dates of the amendments, oldest first
    offset: int  # the last command's offset
    limit: int

    @property
    def record(self) -> assets.AssetRecord:
        cached = self.store.cached(KEY.encode())
        if cached is None:  # pragma: no cover - the store keeps it
            raise RuntimeError("the record left the store's cache")
        return cached


@dataclass
class Sample:
    micros: dict[str, float]  # per stage
    changelog_bytes: int
    outcome: Outcome | None
    head_bytes: int = 0  # of which the head row (the rest: entry rows)


def fold_one(
    asset: Asset, message: bytes, offset: int, *, keep: bool, publish: bool = True
) -> Sample:
    """One command through the fold agent's path; unless `keep`, everything is set back after.

    Without `publish` (building a history) the stages after the table writes are skipped:
    they change no state but the renderer's, which is warmed once at the end.
    """
    key = KEY.encode()
    clock = time.perf_counter
    t0 = clock()
    (command,) = decode_commands(message)
    t1 = clock()
    record = asset.store.load(key)
    t2 = clock()
    if not isinstance(command, Deliver):  # pragma: no cover - built above
        raise TypeError(command)
    handled = assets.handle(record, command, position=(offset, 0), as_of=AS_OF, now=NOW,
                            grace=GRACE)  # fmt: skip
    t3 = clock()
    rows = asset.store.save(key, handled.record, handled.written)
    t4 = clock()
    before = [(k, asset.table.get(k)) for k, _ in rows]  # for setting back; not timed
    t5 = clock()
    for row_key, row in rows:  # what ChangelogWriter.set does to the local store
        asset.table[row_key] = row
    t6 = clock()
    ledger = handled.record.ledger
    if not publish:
        asset.offset = offset
        return Sample({}, 0, handled.outcome)
    head_bytes = len(rows[-1][0]) + len(rows[-1][1])
    next_boundary(ledger)
    pending_deadline(ledger, GRACE)
    t7 = clock()
    snapshot = None
    if any(isinstance(e, Publish) for e in handled.effects):
        snapshot = asset.renderer.render(ledger, limit=asset.limit)
    t8 = clock()
    change = contribution_change(ledger)
    if change is not None:
        encode_command(change)
    t9 = clock()
    if snapshot is None:
        raise SystemExit(f"the benchmark event was not published ({handled.outcome})")
    sample = Sample(
        {"decode": t1 - t0, "load": t2 - t1, "handle": t3 - t2, "rows": (t4 - t3) + (t6 - t5),
         "wake": t7 - t6, "render": t8 - t7, "share": t9 - t8},
        sum(len(k) + len(v) for k, v in rows), handled.outcome, head_bytes,
    )  # fmt: skip
    if keep:
        asset.offset = offset
    else:
        _set_back(asset, record, before)
    return sample


def _set_back(asset: Asset, record: assets.AssetRecord, before: list[tuple[bytes, bytes | None]]
              ) -> None:  # fmt: skip
    key = KEY.encode()
    for row_key, value in before:
        if value is None:
            del asset.table[row_key]
        else:
            asset.table[row_key] = value
    ((head_key, head),) = asset.store.save(key, record, ())  # the store caches `record` again
    if head_key != key or head != asset.table[key]:  # pragma: no cover - a deterministic codec
        raise RuntimeError("the head row did not come back the same")
    asset.renderer.render(record.ledger, limit=asset.limit)  # its rows are this state's again


def build(actions: int, limit: int) -> tuple[Asset, float]:
    """An asset with `actions` actions (a creation, then seats +1, +1, -1, … two days apart),
    built through intake and the fold path, unmeasured; returns it and the seconds taken."""
    started = time.perf_counter()
    table: dict[bytes, bytes] = {}
    asset = Asset(actions, table, AssetStore(table), SnapshotRenderer(), [], 0, limit)
    fold_one(asset, _message(_order(), 0), 0, keep=True, publish=False)
    for number in range(1, actions):
        day = START + timedelta(days=STEP * number)
        change = -1 if number % 3 == 0 else 1
        raw = _seats(f"evt-h-{number}", day, change, number)
        sample = fold_one(asset, _message(raw, number), number, keep=True, publish=False)
        if sample.outcome is not Outcome.APPLIED:
            raise SystemExit(f"history event {number} was {sample.outcome}")
        asset.days.append(day)
    if len(asset.record.ledger.fold.actions) != actions:
        raise SystemExit(f"built {len(asset.record.ledger.fold.actions)} actions, not {actions}")
    asset.renderer.render(asset.record.ledger, limit=limit)
    return asset, time.perf_counter() - started


# --- measuring ----------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Cell:
    """Samples of one kind of event at one history length, over every round."""

    totals: list[float]
    stages: dict[str, list[float]]
    changelog: list[int]
    heads: list[int]
    per_round: list[float]  # each round's median total

    @classmethod
    def empty(cls) -> Cell:
        return cls([], {s: [] for s in STAGES}, [], [], [])

    def add_round(self, samples: list[Sample]) -> None:
        totals = [sum(s.micros.values()) * 1e6 for s in samples]
        self.totals += totals
        for stage in STAGES:
            self.stages[stage] += [s.micros[stage] * 1e6 for s in samples]
        self.changelog += [s.changelog_bytes for s in samples]
        self.heads += [s.head_bytes for s in samples]
        self.per_round.append(statistics.median(totals))

    @property
    def median(self) -> float:
        return statistics.median(self.totals)

    @property
    def p90(self) -> float:
        return _percentile(self.totals, 0.9)


def _samples(asset: Asset, kind: str, count: int, budget: float, serial: int) -> list[Sample]:
    """Up to `count` samples of one kind of event, stopping after `budget` seconds once the
    kind's minimum is reached (a backdated event on a long history takes seconds)."""
    days = asset.days
    minimum = {"in-order": 5, "recent": 5, "start": 1}[kind]
    out: list[Sample] = []
    started = time.perf_counter()
    for n in range(serial, serial + count):
        if kind == "in-order":
            day = (days[-1] if days else START) + timedelta(days=STEP)
        elif kind == "recent":  # between the 6th- and 5th-newest amendments
            day = days[-min(5, len(days))] - timedelta(days=1)
        else:  # "start": the creation's own date
            day = START
        raw = _seats(f"evt-{kind}-{n}", day, 1, 10**6 + n)
        message = _message(raw, asset.offset + 1)  # outside the clock
        sample = fold_one(asset, message, asset.offset + 1, keep=False)
        if sample.outcome is not Outcome.APPLIED:
            raise SystemExit(f"a {kind} event at {asset.actions} actions was {sample.outcome}")
        out.append(sample)
        if len(out) >= minimum and time.perf_counter() - started > budget:
            break
    return out


KINDS = ("in-order", "recent", "start")


def per_event(
    sizes: list[int], rounds: int, repeat: int, budget: float, limit: int
) -> tuple[dict[tuple[int, str], Cell], dict[int, float]]:
    built: dict[int, Asset] = {}
    build_seconds: dict[int, float] = {}
    for size in sizes:
        built[size], build_seconds[size] = build(size, limit)
    cells = {(s, k): Cell.empty() for s in sizes for k in KINDS}
    serial = 0
    for _ in range(rounds):  # rounds interleave the sizes, so a noisy spell hits them all
        for size in sizes:
            for kind in KINDS:
                _samples(built[size], kind, 10, budget / 10, serial)  # warm-up
                count = repeat if kind == "in-order" else max(repeat // 4, 1)
                cells[(size, kind)].add_round(
                    _samples(built[size], kind, count, budget, serial + 10)
                )
                serial += 10 + count
    return cells, build_seconds


# --- replay -------------------------------------------------------------------------------------


def replay_rate(assets_count: int, seed: int, rounds: int) -> tuple[int, float, list[float]]:
    """(events, seconds to generate them, events/s of each `assetstream replay` run)."""
    started = time.perf_counter()
    events = generate(assets_count, seed)
    generated = time.perf_counter() - started
    rates = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        for number in range(rounds):
            args = argparse.Namespace(events=str(path), as_of=AS_OF, no_progress=True,
                                      out=str(Path(directory) / f"out{number}"))  # fmt: skip
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                replay_command.run(args)
            rates.append(len(events) / (time.perf_counter() - t0))
    return len(events), generated, rates


# --- accounts -----------------------------------------------------------------------------------


def _contribution(number: int, bump: int = 0) -> AssetContribution:
    """An asset's contribution: a year at one MRR, then a year at another, its own start."""
    start = date(2020, 1, 1) + timedelta(days=(number * 7) % 2200)
    middle, end = start + timedelta(days=365), start + timedelta(days=730)
    first = Fraction(1000 + number % 5000 + bump, 100)
    second = Fraction(1500 + number % 7000 + bump, 100)
    return AssetContribution(
        f"AST-{number}",
        ACCOUNT,
        "USD",
        (MrrSpan(start, middle, first), MrrSpan(middle, end, second)),
        True,
    )


@dataclass
class Account:
    size: int
    table: dict[bytes, bytes]
    store: AccountStore
    offset: int


def build_account(size: int) -> tuple[Account, float]:
    """An account with `size` assets, each change applied and stored as the account agent does.
    Contributions are built directly (`domain.accounts` types), the fastest correct path."""
    started = time.perf_counter()
    table: dict[bytes, bytes] = {}
    account = Account(size, table, AccountStore(table), 0)
    key = ACCOUNT.encode()
    for number in range(size):
        record = account.store.load(key)
        change = AccountChange(ACCOUNT, f"AST-{number}", 1, _contribution(number))
        handled = handle_account(record, change, position=(number, 0), as_of=AS_OF)
        table.update(account.store.save(key, handled.record, handled.changed_asset))
        account.offset = number
    return account, time.perf_counter() - started


def account_samples(account: Account, count: int, serial: int, publish: int) -> tuple[
    list[float], list[float], list[int]
]:  # fmt: skip
    """µs of handle + rows per change, µs of publishing the record (for the first `publish`
    changes only: it walks the account's whole timeline), bytes of rows written."""
    key = ACCOUNT.encode()
    handled_us, publish_us, written = [], [], []
    for n in range(serial, serial + count):
        number = (n * 7919) % account.size  # a different asset each time
        record: AccountRecord = account.store.load(key)
        version = (record.versions.get(f"AST-{number}") or 0) + 1
        message = encode_commands(
            [
                AccountChange(
                    ACCOUNT, f"AST-{number}", version, _contribution(number, bump=n % 90 + 1)
                )
            ]
        )
        position = (account.offset + 1, 0)
        t0 = time.perf_counter()
        (command,) = decode_commands(message)
        loaded = account.store.load(key)
        if not isinstance(command, AccountChange):  # pragma: no cover - built above
            raise TypeError(command)
        handled = handle_account(loaded, command, position=position, as_of=AS_OF)
        rows = account.store.save(key, handled.record, handled.changed_asset)
        t1 = time.perf_counter()
        before = [(k, account.table.get(k)) for k, _ in rows]
        t2 = time.perf_counter()
        account.table.update(rows)
        t3 = time.perf_counter()
        # The publisher's work (streams.publishing.AccountPublisher): reported apart.
        # One currency changed, so nothing of the previous render is reused.
        view = render_account(handled.record.book, AS_OF) if n - serial < publish else None
        if view is not None:
            msgspec.json.encode(record_to_dict(view, handled.record.version))
        t4 = time.perf_counter()
        if handled.changed_asset is None:
            raise SystemExit("the account change was not applied")
        handled_us.append(((t1 - t0) + (t3 - t2)) * 1e6)
        if view is not None:
            publish_us.append((t4 - t3) * 1e6)
        written.append(sum(len(k) + len(v) for k, v in rows))
        for row_key, value in before:  # set back, unmeasured
            if value is None:
                del account.table[row_key]
            else:
                account.table[row_key] = value
        account.table.update(account.store.save(key, record, None))
    return handled_us, publish_us, written


# --- report ------------------------------------------------------------------------------------


def _ratio_line(name: str, value: float, target: str, ok: bool, rounds: list[float]) -> str:
    spread = ", ".join(f"{r:.2f}" for r in rounds)
    verdict = "ok" if ok else "MISSED"
    return f"  {name:<44} {value:>10.2f}  {target:<12} {verdict:<7} rounds: {spread}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000", help="actions per history")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every measurement")
    parser.add_argument("--repeat", type=int, default=200, help="in-order samples per round")
    parser.add_argument(
        "--budget",
        type=float,
        default=3.0,
        help="seconds per measurement and round, once its minimum is sampled",
    )
    parser.add_argument("--replay-assets", type=int, default=2000)
    parser.add_argument("--replay-rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--account-sizes", default="10,10000")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    account_sizes = [int(s) for s in args.account_sizes.split(",")]
    command = (
        f".venv/bin/python benchmarks/engine_bench.py --sizes {args.sizes} "
        f"--rounds {args.rounds} --repeat {args.repeat} --budget {args.budget} "
        f"--replay-assets {args.replay_assets} --replay-rounds {args.replay_rounds} "
        f"--seed {args.seed} --account-sizes {args.account_sizes}"
    )
    print(f"reproduce: {command}")
    code_root = Path(domain.__file__).resolve().parents[1]
    print(f"code: {code_root}   python {sys.version.split()[0]}   as of {AS_OF}")
    wall = time.perf_counter()
    limit = _snapshot_limit()

    cells, build_seconds = per_event(sizes, args.rounds, args.repeat, args.budget, limit)
    print("\nBuilt (intake + fold path, unmeasured): "
          + ", ".join(f"{s:,} actions {build_seconds[s]:.1f} s" for s in sizes))  # fmt: skip
    print("\n1. In-order event (seat upsell dated after everything), µs per event")
    print(f"  {'actions':>8} {'median':>8} {'p90':>8} | "
          + " ".join(f"{s:>7}" for s in STAGES) + "  (stage medians)")  # fmt: skip
    for size in sizes:
        cell = cells[(size, "in-order")]
        stages = " ".join(f"{statistics.median(cell.stages[s]):>7.1f}" for s in STAGES)
        print(f"  {size:>8,} {cell.median:>8.1f} {cell.p90:>8.1f} | {stages}")
    print("\n2. Changelog bytes per in-order event (row keys + values the store writes)")
    for size in sizes:
        cell = cells[(size, "in-order")]
        head = statistics.median(cell.heads)
        print(
            f"  {size:>8,} {statistics.median(cell.changelog):>8.0f} B  = head {head:.0f} B + "
            f"entry {statistics.median(cell.changelog) - head:.0f} B   (min "
            f"{min(cell.changelog)}, max {max(cell.changelog)})"
        )
    print("\n3. Backdated event, ms per event (median / p90; all stages, render dominant)")
    print(
        f"  {'actions':>8} {'recent':>9} {'p90':>9} {'at start':>10} {'p90':>9} | "
        f"start: handle  render (ms)"
    )
    for size in sizes:
        recent, start = cells[(size, "recent")], cells[(size, "start")]
        print(
            f"  {size:>8,} {recent.median / 1e3:>9.2f} {recent.p90 / 1e3:>9.2f} "
            f"{start.median / 1e3:>10.2f} {start.p90 / 1e3:>9.2f} | "
            f"{statistics.median(start.stages['handle']) / 1e3:>13.2f} "
            f"{statistics.median(start.stages['render']) / 1e3:>7.2f}"
        )

    count, generated, rates = replay_rate(args.replay_assets, args.seed, args.replay_rounds)
    print(
        f"\n4. `assetstream replay` (streams.commands.replay.run, outputs written): {count:,} "
        f"events from generate({args.replay_assets}, {args.seed}) (generated in "
        f"{generated:.1f} s)"
    )
    print(f"  events/s, median {statistics.median(rates):,.0f}   rounds: "
          + ", ".join(f"{r:,.0f}" for r in rates))  # fmt: skip

    print("\n5. Account rollup: one asset change, µs (handle_account + AccountStore rows)")
    built = {size: build_account(size) for size in account_sizes}
    handled_all: dict[int, list[float]] = {size: [] for size in account_sizes}
    publish_all: dict[int, list[float]] = {size: [] for size in account_sizes}
    written_all: dict[int, list[int]] = {size: [] for size in account_sizes}
    round_medians: dict[int, list[float]] = {size: [] for size in account_sizes}
    for number in range(args.rounds):
        for size in account_sizes:
            account_samples(built[size][0], 20, 10**6 * (number + 1), 0)  # warm-up
            handled, published, written = account_samples(built[size][0], args.repeat,
                                                          number * args.repeat, 2)  # fmt: skip
            handled_all[size] += handled
            publish_all[size] += published
            written_all[size] += written
            round_medians[size].append(statistics.median(handled))
    for size in account_sizes:
        print(
            f"  {size:>8,} assets: median {statistics.median(handled_all[size]):>7.1f} µs, "
            f"p90 {_percentile(handled_all[size], 0.9):>7.1f} µs, "
            f"{statistics.median(written_all[size]):.0f} B rows | publishing the record (not "
            f"in the target): {statistics.median(publish_all[size]) / 1e3:>7.1f} ms "
            f"(built in {built[size][1]:.1f} s)"
        )

    print("\nTargets (ratio, target, verdict, per round)")
    results: list[bool] = []
    small, mid = sizes[0], next((s for s in sizes if s == 1000), sizes[-1])
    in_small, in_mid = cells[(small, "in-order")], cells[(mid, "in-order")]
    ratio_rounds = [b / a for a, b in zip(in_small.per_round, in_mid.per_round, strict=True)]
    ratio = in_mid.median / in_small.median
    results.append(ratio <= 2)
    print(_ratio_line(f"in-order at {mid:,} / at {small:,}", ratio, "≤ 2x", results[-1],
                      ratio_rounds))  # fmt: skip
    largest = sizes[-1]
    big = cells[(largest, "in-order")]
    big_rounds = [b / a for a, b in zip(in_small.per_round, big.per_round, strict=True)]
    print(_ratio_line(f"in-order at {largest:,} / at {small:,} (info)",
                      big.median / in_small.median, "", True, big_rounds))  # fmt: skip
    bytes_small = statistics.median(in_small.changelog)
    bytes_big = statistics.median(big.changelog)
    results.append(abs(bytes_big / bytes_small - 1) <= 0.2)
    print(_ratio_line(f"changelog bytes at {largest:,} / at {small:,}", bytes_big / bytes_small,
                      "1 ± 0.2", results[-1], []))  # fmt: skip
    for kind, label in (("recent", "backdated (recent)"), ("start", "backdated (at start)")):
        cell = cells[(mid, kind)]
        results.append(cell.median / 1e3 <= 20)
        print(_ratio_line(f"{label} at {mid:,}, ms", cell.median / 1e3, "≤ 20 ms", results[-1],
                          [r / 1e3 for r in cell.per_round]))  # fmt: skip
    if len(account_sizes) >= 2:
        low, high = account_sizes[0], account_sizes[-1]
        account_ratio = statistics.median(handled_all[high]) / statistics.median(handled_all[low])
        results.append(account_ratio <= 2)
        print(
            _ratio_line(
                f"account change, {high:,} / {low:,} assets",
                account_ratio,
                "≤ 2x",
                results[-1],
                [b / a for a, b in zip(round_medians[low], round_medians[high], strict=True)],
            )
        )
    median_rate = statistics.median(rates)
    results.append(median_rate >= 20_000)
    print(_ratio_line("replay, thousand events/s", median_rate / 1e3, "≥ 20", results[-1],
                      [r / 1e3 for r in rates]))  # fmt: skip
    missed = results.count(False)
    print(
        f"\n{len(results) - missed}/{len(results)} targets met; "
        f"run took {time.perf_counter() - wall:.0f} s"
    )
    print(f"reproduce: {command}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
