"""`assetstream inspect TOPIC`: pretty-print or follow a topic, optionally for one key.

Reads with no consumer group (nothing is committed, other consumers are not
affected): every partition is assigned to this process and starts at the end, or
at the beginning with ``--from-beginning``. Snapshots (SPEC §5, §9: auto-renewal,
what ended the lifecycle, related assets, voided events), account records
(`accounts.mrr`, SPEC §10: per currency the current figures, the MRR timeline
and the movements) and dead letters get a compact human view; other JSON is
indented; other bytes get a hex/base64 preview. ``--json`` prints one JSON
object per record instead, numbers exactly as they were on the wire (JSON is
parsed with Decimal, never float).

Keys, ids, headers and payloads are producers' bytes: every line is printed
through `streams.terminal` (control characters escaped, JSON kept valid), so a
record cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from streams.terminal import printable, printable_json

HELP = "Pretty-print or follow a topic (base name or full name), optionally for one key."

PAYLOAD_PREVIEW_CHARS = 300  # dead-letter payloads and plain text are cut here
BINARY_PREVIEW_BYTES = 48


class Record(Protocol):
    """The fields of an aiokafka ConsumerRecord that are printed."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "topic",
        help="assets.snapshots, accounts.mrr, assets.deadletter, orders.fulfilled, … "
        "(prefix added)",
    )
    parser.add_argument(
        "--key", help="only records with this key (e.g. an asset id, or an account id)"
    )
    parser.add_argument(
        "--from-beginning", action="store_true", help="read from the oldest record (default: end)"
    )
    parser.add_argument(
        "--follow", "-f", action="store_true", help="keep waiting for records until Ctrl-C"
    )
    parser.add_argument("--max", type=int, metavar="N", help="stop after printing N records")
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="without --follow: stop after S seconds with no new record (default 5)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per record")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import os
    import sys

    if args.max is not None and args.max < 1:
        print("assetstream inspect: --max must be ≥ 1", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_inspect(args))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # Piped into `head`: stop quietly (and keep Python from complaining at exit).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


async def _inspect(args: argparse.Namespace) -> int:
    import sys
    import time

    from aiokafka import AIOKafkaConsumer

    from streams.commands import load_settings_or_say
    from streams.settings import aiokafka_kwargs
    from streams.topics import resolve

    settings = load_settings_or_say("inspect")
    if settings is None:
        return 2
    from streams.connectivity import KafkaConnectError, check_kafka

    try:
        await check_kafka(settings)  # a wrong password or no broker: one line, never a hang
    except KafkaConnectError as exc:
        print(f"assetstream inspect: {printable(str(exc))}", file=sys.stderr)
        return 2
    topic = resolve(settings, args.topic)
    consumer = AIOKafkaConsumer(
        **aiokafka_kwargs(settings),
        group_id=None,  # no group: all partitions are ours, nothing is committed
        enable_auto_commit=False,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        client_id="assetstream-inspect",
    )
    await consumer.start()
    try:
        # topics() asks for every topic: naming a missing one could auto-create it.
        if topic not in await consumer.topics():
            print(
                printable(f"assetstream inspect: topic {topic!r} does not exist"), file=sys.stderr
            )
            return 1
        consumer.subscribe([topic])
        key = args.key.encode() if args.key is not None else None
        printed = 0
        last_progress = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            records: list[Any] = [r for rs in batch.values() for r in rs]
            if records:
                last_progress = time.monotonic()
            records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
            for record in records:
                if key is not None and record.key != key:
                    continue
                print(render_json(record) if args.json else render(record), flush=True)
                printed += 1
                if args.max is not None and printed >= args.max:
                    return 0
            if not args.follow and time.monotonic() - last_progress >= args.timeout:
                break
        if printed == 0:
            which = f" with key {args.key!r}" if args.key is not None else ""
            where = "" if args.from_beginning else " (new ones only; see --from-beginning)"
            print(printable(f"(no records{which} in {topic}{where})"), file=sys.stderr)
        return 0
    finally:
        await consumer.stop()


# ---- decoding ---------------------------------------------------------------------------


def _parse_json(raw: bytes) -> tuple[bool, Any]:
    """(True, value) when ``raw`` is UTF-8 JSON; numbers with a fraction become Decimal."""
    try:
        return True, json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        return False, None


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def dump_json(value: Any, indent: int | None = None, _level: int = 0) -> str:
    """JSON text of a parsed value; a Decimal is written with its own digits, never as float."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list) and value:
        pad = "" if indent is None else "\n" + " " * (indent * (_level + 1))
        end = "" if indent is None else "\n" + " " * (indent * _level)
        sep = ", " if indent is None else ","
        if isinstance(value, dict):
            items = [
                f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {dump_json(v, indent, _level + 1)}"
                for k, v in value.items()
            ]
            return "{" + sep.join(items) + end + "}"
        items = [f"{pad}{dump_json(v, indent, _level + 1)}" for v in value]
        return "[" + sep.join(items) + end + "]"
    return json.dumps(value, ensure_ascii=False)


def _binary_preview(raw: bytes) -> str:
    head = raw[:BINARY_PREVIEW_BYTES]
    more = "…" if len(raw) > len(head) else ""
    return (
        f"({len(raw)} bytes, not UTF-8)\n"
        f"hex     {head.hex(' ')}{more}\n"
        f"base64  {base64.b64encode(head).decode()}{more}"
    )


def _key_text(raw: bytes | None) -> str:
    if raw is None:
        return "(none)"
    text = _utf8(raw)
    return text if text is not None else f"hex:{raw.hex()}"


def _timestamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


# ---- --json -----------------------------------------------------------------------------


def _encoded(raw: bytes | None) -> tuple[Any, str | None]:
    """A key, value or header as (JSON value, encoding): json, text, base64 or None."""
    if raw is None:
        return None, None
    ok, parsed = _parse_json(raw)
    if ok:
        return parsed, "json"
    text = _utf8(raw)
    if text is not None:
        return text, "text"
    return base64.b64encode(raw).decode(), "base64"


def render_json(record: Record) -> str:
    """One line: topic, partition, offset, timestamp, key, headers and the value.

    Control characters in strings are written as JSON escapes (``\\u001b``), so the line
    is safe for a terminal and parses to the same values.
    """
    key = _utf8(record.key) if record.key is not None else None
    value, encoding = _encoded(record.value)
    out: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": _timestamp(record.timestamp),
        "key": key,  # None for no key, or for a binary one (then key_base64)
    }
    if record.key is not None and key is None:
        out["key_base64"] = base64.b64encode(record.key).decode()
    if record.headers:
        out["headers"] = {name: _key_text(raw) for name, raw in record.headers}
    out["value"] = value
    out["value_encoding"] = encoding if record.value is not None else "tombstone"
    return printable_json(dump_json(out))


# ---- readable view ----------------------------------------------------------------------


def render(record: Record) -> str:
    """A record as a few readable lines: where it is, its key and headers, then the value.

    Each line is escaped for the terminal (`printable`); a newline inside a key or
    header shows as ``\\n`` instead of starting a line of its own.
    """
    lines = [
        f"── {record.topic}  partition {record.partition}  offset {record.offset}  "
        f"{_timestamp(record.timestamp)}  key {_key_text(record.key)}"
    ]
    for name, raw in record.headers or ():
        lines.append(f"   header {name}: {_key_text(raw)}")
    lines += ["   " + line if line else "" for line in render_value(record.value)]
    return "\n".join(printable(line) for line in lines)


def render_value(raw: bytes | None) -> list[str]:
    if raw is None:
        return ["(tombstone)"]
    ok, value = _parse_json(raw)
    if not ok:
        text = _utf8(raw)
        if text is None:
            return _binary_preview(raw).splitlines()
        return [_truncate(text, PAYLOAD_PREVIEW_CHARS)]
    if isinstance(value, dict) and "asset_id" in value and "state_periods" in value:
        return render_snapshot(value)
    if isinstance(value, dict) and "account_id" in value and "currencies" in value:
        return render_account(value)
    if isinstance(value, dict) and "reason_code" in value:
        return render_dead_letter(value)
    return dump_json(value, indent=2).splitlines()


def _s(value: Any) -> str:
    """A field as printed: strings escaped for the terminal, None as '-'.

    Escaped here, before tables measure their columns, so the columns stay aligned.
    """
    if value is None:
        return "-"
    return printable(value if isinstance(value, str) else dump_json(value))


def _truncate(text: str, limit: int) -> str:
    flat = text.replace("\n", "\\n")
    return flat if len(flat) <= limit else f"{flat[:limit]}… ({len(text)} chars)"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], right: set[int]) -> list[str]:
    """Aligned columns; the columns in ``right`` (numbers) are right-aligned."""
    body = [list(row) for row in rows]
    widths = [max(len(r[i]) for r in [list(header), *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return [line(header), *(line(r) for r in body)]


def _yes_no(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else "-"


def render_snapshot(s: dict[str, Any]) -> list[str]:
    """An asset snapshot; the §9 fields only when the record has them (older ones do not)."""
    cur = _s(s.get("currency"))
    product = " ".join(_s(s[k]) for k in ("product_code", "product_name") if s.get(k))
    lines = [
        f"ASSET {_s(s.get('asset_id'))}" + (f"  ({product})" if product else ""),
        f"account    {_s(s.get('account_id'))}",
        f"version    {_s(s.get('version'))}   status {_s(s.get('status'))}   "
        f"as of {_s(s.get('as_of'))}",
        f"current    quantity {_s(s.get('current_quantity'))}   "
        f"MRR {_s(s.get('current_mrr'))} {cur}",
        f"lifecycle  {_s(s.get('lifecycle_start_date'))} → {_s(s.get('lifecycle_end_date'))}"
        f"   total {_s(s.get('total_lifecycle_amount'))} {cur}",
    ]
    if any(k in s for k in ("auto_renew", "next_renewal_date", "ended_by")):
        lines.append(
            f"renewal    auto-renew {_yes_no(s.get('auto_renew'))}   "
            f"next renewal {_s(s.get('next_renewal_date'))}   ended by {_s(s.get('ended_by'))}"
        )
    if s.get("updated_by_event_id"):
        lines.append(f"updated by {_s(s['updated_by_event_id'])}")
    periods = s.get("state_periods") or []
    lines.append(f"state periods ({len(periods)})")
    rows = [
        [_s(p.get(k)) for k in ("start_date", "end_date", "quantity", "mrr", "amount")]
        for p in periods
    ]
    lines += [
        "  " + r for r in table(["start", "end", "quantity", "MRR", "amount"], rows, {2, 3, 4})
    ]
    actions = s.get("actions") or []
    related = any(a.get("related_asset_id") for a in actions)
    lines.append(f"actions ({len(actions)})")
    rows = [
        [
            _s(a.get("effective_date")),
            _s(a.get("category")) + (f"/{_s(a['subtype'])}" if a.get("subtype") else ""),
            _s(a.get("action_id")),
            _s(a.get("quantity_change")),
            _s(a.get("mrr_change")),
            _s(a.get("amount_change")),
            *([_s(a.get("related_asset_id"))] if related else []),
        ]
        for a in actions
    ]
    header = ["effective", "category", "action id", "Δ quantity", "Δ MRR", "Δ amount"]
    lines += ["  " + r for r in table([*header, *(["related asset"] if related else [])],
                                      rows, {3, 4, 5})]  # fmt: skip
    voided = s.get("voided_events")
    if voided:
        lines.append(f"voided events ({len(voided)})")
        rows = [[_s(v.get(k)) for k in ("event_id", "voided_by", "reason")] for v in voided]
        lines += ["  " + r for r in table(["event id", "voided by", "reason"], rows, set())]
    elif isinstance(voided, list):
        lines.append("voided events: none")
    pending = s.get("pending_events") or []
    if pending:
        lines.append(f"pending events ({len(pending)})")
        rows = [
            [_s(p.get("event_id")), _s(p.get("reason_code")),
             "waiting for the renewal" if p.get("waiting") else ""]
            for p in pending
        ]  # fmt: skip
        lines += ["  " + r for r in table(["event id", "reason", ""], rows, set())]
    else:
        lines.append("pending events: none")
    return lines


def render_account(record: dict[str, Any]) -> list[str]:
    """An account record (SPEC §10): per currency the current figures, timeline, movements."""
    currencies = record.get("currencies") or []
    lines = [
        f"ACCOUNT {_s(record.get('account_id'))}   version {_s(record.get('version'))}   "
        f"as of {_s(record.get('as_of'))}",
    ]
    if not currencies:
        lines.append("no currencies")
    for part in currencies:
        if not isinstance(part, dict):
            continue
        cur = _s(part.get("currency"))
        lines.append(
            f"{cur}  current MRR {_s(part.get('current_mrr'))}   "
            f"ARR {_s(part.get('current_arr'))}   "
            f"active assets {_s(part.get('active_assets'))}"
        )
        spans = part.get("mrr_timeline") or []
        lines.append(f"  MRR timeline ({len(spans)})")
        rows = [
            [_s(t.get("start_date")),
             "(open)" if t.get("end_date") is None else _s(t.get("end_date")),
             _s(t.get("mrr"))]
            for t in spans
        ]  # fmt: skip
        lines += ["    " + r for r in table(["start", "end", "MRR"], rows, {2})]
        moves = part.get("movements") or []
        lines.append(f"  movements ({len(moves)})")
        rows = [
            [_s(m.get("date")), _s(m.get("type")), _s(m.get("mrr_before")),
             _s(m.get("mrr_after")), _signed(m.get("mrr_change")),
             "scheduled" if m.get("scheduled") else ""]
            for m in moves
        ]  # fmt: skip
        header = ["date", "movement", "MRR before", "MRR after", "change", ""]
        lines += ["    " + r for r in table(header, rows, {2, 3, 4})]
    return lines


def _signed(value: Any) -> str:
    """A change with its sign: "+12.50", "-33.33", "0.00" (and "-" when absent)."""
    text = _s(value)
    if text.startswith("-") or not text.replace("0", "").replace(".", ""):
        return text
    return f"+{text}"


def render_dead_letter(d: dict[str, Any]) -> list[str]:
    payload = d.get("payload")
    encoding = d.get("payload_encoding")
    if isinstance(payload, str) and encoding != "base64":
        shown = _truncate(payload, PAYLOAD_PREVIEW_CHARS)
    else:
        shown = _truncate(_s(payload), PAYLOAD_PREVIEW_CHARS)
    return [
        f"DEAD LETTER {_s(d.get('reason_code'))}",
        f"event id   {_s(d.get('event_id'))}",
        f"reason     {_s(d.get('reason'))}",
        f"source     {_s(d.get('source_topic'))}  partition {_s(d.get('source_partition'))}  "
        f"offset {_s(d.get('source_offset'))}  key {_s(d.get('key'))}",
        f"at         {_s(d.get('dead_lettered_at'))}",
        f"payload{f' ({encoding})' if encoding else ''}  {shown}",
    ]
