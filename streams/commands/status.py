"""`assetstream status`: lag, worker membership, pending events and dead letters, from the cluster.

Needs no running worker: everything comes from the brokers.

- **Topics**: which of the app's topics exist (and their partitions). Topics are listed
  with one Metadata request that names none, so a missing topic is reported as missing
  and never auto-created (`streams.ops.cluster`).
- **Consumer lag** per group (the worker's, the projection's) and partition: end offset
  minus committed offset, with totals.
- **Members** of each group: member and client ids, hosts, assigned partitions (faust
  workers also show their standby partitions and web URL).
- **Pending events**: `assets.snapshots` is read to its end (as it was when the command
  started), the latest version per asset is kept and its `pending_events` counted; the
  oldest pending age is a lower bound (see `streams.ops.scan`).
- **Dead letters** by reason over `assets.deadletter` (``--since DURATION`` for recent ones).

Reading the two topics stops at ``--timeout`` seconds; what was cut short says so. A
broker that cannot be used (wrong password, unreachable, TLS) is one line on stderr and
exit code 1. ``--json`` prints one JSON document instead of the tables. Everything
printed goes through `streams.terminal` (ids and reasons come from producers).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from streams.terminal import printable, printable_json

if TYPE_CHECKING:
    from streams.ops.cluster import ClusterReader, GroupInfo, GroupLag
    from streams.settings import Settings

HELP = "Lag, worker membership, pending events and dead letters, read from the cluster alone."

DEFAULT_SCAN_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    parser.add_argument(
        "--since",
        metavar="DURATION",
        help="count only dead letters of the last DURATION (24h, 30m, 2d, …; default: all)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_SCAN_TIMEOUT,
        metavar="S",
        help="stop reading the snapshot and dead-letter topics after S seconds "
        f"(default {DEFAULT_SCAN_TIMEOUT:g}); the output says when it was cut short",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=DEFAULT_CONNECT_TIMEOUT,
        metavar="S",
        help=f"give up on an unanswering cluster after S seconds (default "
        f"{DEFAULT_CONNECT_TIMEOUT:g})",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import os
    import sys

    since: timedelta | None = None
    if args.since is not None:
        from streams.settings import parse_duration

        try:
            since = parse_duration(args.since)
        except ValueError as exc:
            print(f"assetstream status: --since: {printable(str(exc))}", file=sys.stderr)
            return 2
    if not args.timeout > 0 or not args.connect_timeout > 0:
        print("assetstream status: --timeout and --connect-timeout must be > 0", file=sys.stderr)
        return 2
    _quiet_client_logs()
    try:
        return asyncio.run(_status(args, since))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _quiet_client_logs() -> None:
    """aiokafka logs each failed connection attempt; the command reports failures itself."""
    import logging

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


async def _status(args: argparse.Namespace, since: timedelta | None) -> int:
    import json
    import sys

    from aiokafka.errors import KafkaError

    from streams.commands import load_settings_or_say
    from streams.connectivity import KafkaConnectError, check_kafka
    from streams.ops.cluster import ClusterError, ClusterReader

    settings = load_settings_or_say("status")
    if settings is None:
        return 2
    try:
        await check_kafka(settings, args.connect_timeout)
        reader = ClusterReader(
            settings, timeout=args.connect_timeout, client_id="assetstream-status"
        )
        await reader.start()
        try:
            report = await collect(
                settings,
                reader,
                since=since,
                scan_timeout=args.timeout,
                connect_timeout=args.connect_timeout,
                now=datetime.now(UTC),
            )
        finally:
            await reader.close()
    except KafkaConnectError as exc:
        print(f"assetstream status: {printable(str(exc))}", file=sys.stderr)
        return 1
    except (TimeoutError, ClusterError, KafkaError, OSError) as exc:
        what = str(exc).strip() or type(exc).__name__
        if isinstance(exc, TimeoutError):
            what = f"no answer within {args.connect_timeout:g}s"
        print(
            printable(
                f"assetstream status: reading the cluster at {settings.kafka_bootstrap_servers} "
                f"failed: {what}"
            ),
            file=sys.stderr,
        )
        return 1
    if args.json:
        # Indentation newlines are structure; inside strings json.dumps escapes them.
        text = json.dumps(report, ensure_ascii=False, indent=2)
        print("\n".join(printable_json(line) for line in text.split("\n")))
    else:
        print("\n".join(render(report)))
    return 0


# ---- collecting -------------------------------------------------------------------------


def _app_topics(settings: Settings) -> list[str]:
    from streams.ops.cluster import consumer_groups
    from streams.topics import topic_names

    names = topic_names(settings)
    topics = [*names.created_by_us(), names.asset_changelog, names.fingerprint_changelog]
    for spec in consumer_groups(settings):
        topics.extend(t for t in spec.topics if t not in topics)
    return topics


async def collect(
    settings: Settings,
    reader: ClusterReader,
    *,
    since: timedelta | None,
    scan_timeout: float,
    now: datetime,
    connect_timeout: float = 10.0,
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (the `--json` output)."""
    import asyncio
    import time

    from streams.ops.cluster import consumer_groups
    from streams.topics import topic_names

    metadata = await reader.metadata()
    present = metadata.topics(exclude_internal_topics=False)
    topics = {
        topic: (
            {"present": True, "partitions": len(metadata.partitions_for_topic(topic) or ())}
            if topic in present
            else {"present": False, "partitions": None}
        )
        for topic in _app_topics(settings)
    }
    specs = consumer_groups(settings)
    lags = await reader.lag(specs, metadata)
    infos = {
        info.group_id: info for info in await reader.describe_groups([s.group_id for s in specs])
    }
    names = topic_names(settings)
    deadline = time.monotonic() + scan_timeout
    now_ms = int(now.timestamp() * 1000)
    since_ms = now_ms - int(since.total_seconds() * 1000) if since is not None else None
    pending, dead = await asyncio.gather(
        _pending(
            settings, reader, metadata, names.snapshots, present, deadline, now_ms, connect_timeout
        ),
        _dead_letters(
            settings,
            reader,
            metadata,
            names.deadletter,
            present,
            deadline,
            since_ms,
            connect_timeout,
        ),
    )
    if since is not None:
        dead["since_seconds"] = since.total_seconds()
    return {
        "cluster": settings.kafka_bootstrap_servers,
        "prefix": settings.topic_prefix,
        "generated_at": _iso(now),
        "topics": topics,
        "groups": [_group_json(lag, infos.get(lag.spec.group_id)) for lag in lags],
        "pending": pending,
        "dead_letters": dead,
    }


def _group_json(lag: GroupLag, info: GroupInfo | None) -> dict[str, Any]:
    members = [] if info is None else [
        {
            "member_id": m.member_id,
            "client_id": m.client_id,
            "client_host": m.client_host,
            "assigned": {t: list(ps) for t, ps in sorted(m.assigned.items())},
            "standbys": {t: list(ps) for t, ps in sorted(m.standbys.items())},
            "url": m.url,
        }
        for m in info.members
    ]  # fmt: skip
    return {
        "group": lag.spec.group_id,
        "role": lag.spec.role,
        "state": info.state if info is not None else "unknown",
        "protocol": info.protocol if info is not None else "",
        "error": info.error if info is not None else None,
        "lag": lag.total,
        "missing_topics": list(lag.missing_topics),
        "partitions": [
            {
                "topic": p.topic,
                "partition": p.partition,
                "start": p.start,
                "end": p.end,
                "committed": p.committed,
                "lag": p.lag,
            }
            for p in lag.partitions
        ],
        "members": members,
    }


async def _topic_range(
    reader: ClusterReader, metadata: Any, topic: str, start_at: int | None
) -> tuple[dict[Any, int], dict[Any, int]]:
    from aiokafka.structs import TopicPartition

    from streams.ops.cluster import EARLIEST, LATEST

    tps = [TopicPartition(topic, p) for p in sorted(metadata.partitions_for_topic(topic) or ())]
    ends = await reader.list_offsets(metadata, tps, LATEST)
    starts = await reader.list_offsets(metadata, tps, EARLIEST if start_at is None else start_at)
    return starts, ends


def _cut_short_note(result: Any, timeout_s: float) -> str | None:
    if result.complete:
        return None
    return (
        f"cut short: read {result.records_read} of up to {result.records_total} records "
        f"before the time limit ({timeout_s:.0f}s, --timeout); the counts cover what was read"
    )


async def _pending(
    settings: Settings,
    reader: ClusterReader,
    metadata: Any,
    topic: str,
    present: set[str],
    deadline: float,
    now_ms: int,
    connect_timeout: float,
) -> dict[str, Any]:
    import time

    from streams.ops.scan import PendingCount, scan_topic

    if topic not in present:
        return {"topic": topic, "missing": True}
    started = time.monotonic()
    starts, ends = await _topic_range(reader, metadata, topic, None)
    counter = PendingCount()
    result = await scan_topic(settings, topic, starts, ends, counter.add, deadline=deadline,
                              connect_timeout=connect_timeout)  # fmt: skip
    summary = counter.summary()
    age = summary.oldest_age_seconds(now_ms)
    return {
        "topic": topic,
        "missing": False,
        "events": summary.events,
        "assets_with_pending": summary.assets,
        "assets": summary.snapshots,
        "by_reason": dict(summary.by_reason),
        "oldest_age_seconds": round(age, 3) if age is not None else None,
        "oldest_age_is_lower_bound": True,
        "oldest_event_id": summary.oldest_event_id,
        "oldest_asset_id": summary.oldest_asset_id,
        "unreadable_records": summary.unreadable,
        "records_read": result.records_read,
        "complete": result.complete,
        "note": _cut_short_note(result, deadline - started),
    }


async def _dead_letters(
    settings: Settings,
    reader: ClusterReader,
    metadata: Any,
    topic: str,
    present: set[str],
    deadline: float,
    since_ms: int | None,
    connect_timeout: float,
) -> dict[str, Any]:
    import time

    from streams.ops.scan import DeadLetterCount, scan_topic

    if topic not in present:
        return {"topic": topic, "missing": True}
    started = time.monotonic()
    starts, ends = await _topic_range(reader, metadata, topic, since_ms)
    counter = DeadLetterCount(since_ms=since_ms)
    result = await scan_topic(settings, topic, starts, ends, counter.add, deadline=deadline,
                              connect_timeout=connect_timeout)  # fmt: skip
    return {
        "topic": topic,
        "missing": False,
        "since_seconds": None,
        "total": counter.total,
        "by_reason": dict(sorted(counter.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
        "latest": dict(sorted(counter.latest.items())),
        "records_read": result.records_read,
        "complete": result.complete,
        "note": _cut_short_note(result, deadline - started),
    }


# ---- rendering --------------------------------------------------------------------------


def render(report: Mapping[str, Any]) -> list[str]:
    """The human view of a `collect` report; every line is printable."""
    lines = [
        f"assetstream status · cluster {report['cluster']} · prefix "
        f"{report['prefix'] or '(none)'} · {report['generated_at']}",
        "",
        "TOPICS",
    ]
    lines += _table(
        ["topic", "partitions"],
        [
            [topic, str(info["partitions"]) if info["present"] else "MISSING"]
            for topic, info in report["topics"].items()
        ],
    )
    for group in report["groups"]:
        lines += ["", *_render_group(group)]
    lines += ["", *_render_pending(report["pending"])]
    lines += ["", *_render_dead_letters(report["dead_letters"])]
    return [printable(line) for line in lines]


def _render_group(group: Mapping[str, Any]) -> list[str]:
    lines = [
        f"CONSUMER GROUP {group['group']} ({group['role']}): lag {group['lag']:,} · "
        f"{_state(group)} · {len(group['members'])} member(s)"
        + (f" · {group['protocol']}" if group["protocol"] else "")
    ]
    if group["error"]:
        lines.append(f"  membership unknown: {group['error']}")
    rows = [
        [
            p["topic"],
            str(p["partition"]),
            "-" if p["committed"] is None else str(p["committed"]),
            str(p["end"]),
            f"{p['lag']:,}",
        ]
        for p in group["partitions"]
    ]
    if rows:
        rows.append(["total", "", "", "", f"{group['lag']:,}"])
        lines += _table(["topic", "partition", "committed", "end", "lag"], rows)
    for topic in group["missing_topics"]:
        lines.append(f"  {topic}: MISSING (no lag to show)")
    if group["members"]:
        lines.append("  members:")
        member_rows = []
        for m in group["members"]:
            assigned = _partition_sets(m["assigned"]) or "(nothing)"
            extra = []
            if m["standbys"]:
                extra.append(f"standby {_partition_sets(m['standbys'])}")
            if m["url"]:
                extra.append(f"web {m['url']}")
            member_rows.append(
                [
                    m["client_id"],
                    m["client_host"],
                    assigned + ("; " + "; ".join(extra) if extra else ""),
                ]
            )
        lines += _table(["client id", "host", "assigned"], member_rows, indent=4)
    elif not group["error"]:
        lines.append("  no members: nothing consumes for this group right now")
    return lines


def _state(group: Mapping[str, Any]) -> str:
    if group["state"] == "Dead" and not group["members"]:
        return "Dead (the coordinator does not know the group)"
    return str(group["state"])


def _render_pending(pending: Mapping[str, Any]) -> list[str]:
    lines = [f"PENDING EVENTS ({pending['topic']})"]
    if pending["missing"]:
        return [*lines, "  topic MISSING: no snapshots to read"]
    if pending["events"] == 0:
        lines.append(f"  none pending on {pending['assets']:,} asset(s)")
    else:
        age = pending["oldest_age_seconds"]
        lines.append(
            f"  {pending['events']:,} pending on {pending['assets_with_pending']:,} of "
            f"{pending['assets']:,} asset(s); oldest pending for at least {_age(age)} "
            f"({pending['oldest_event_id']} on {pending['oldest_asset_id']})"
        )
        lines += _table(
            ["reason", "pending"], [[r, f"{n:,}"] for r, n in pending["by_reason"].items()]
        )
    if pending["unreadable_records"]:
        lines.append(f"  {pending['unreadable_records']:,} record(s) were not readable snapshots")
    if pending["note"]:
        lines.append(f"  note: {pending['note']}")
    return lines


def _render_dead_letters(dead: Mapping[str, Any]) -> list[str]:
    since = dead.get("since_seconds")
    window = f", last {_age(since)}" if since is not None else ""
    lines = [f"DEAD LETTERS ({dead['topic']}{window})"]
    if dead["missing"]:
        return [*lines, "  topic MISSING: nothing was dead-lettered"]
    if dead["total"] == 0:
        lines.append("  none")
    else:
        rows = [[r, f"{n:,}", dead["latest"].get(r, "")] for r, n in dead["by_reason"].items()]
        rows.append(["total", f"{dead['total']:,}", ""])
        lines += _table(["reason", "count", "latest dead_lettered_at"], rows)
    if dead["note"]:
        lines.append(f"  note: {dead['note']}")
    return lines


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], indent: int = 2) -> list[str]:
    cells = [[printable(c) for c in headers], *([printable(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    pad = " " * indent
    return [
        pad + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _partition_sets(by_topic: Mapping[str, Sequence[int]]) -> str:
    return ", ".join(f"{topic}[{_ranges(parts)}]" for topic, parts in by_topic.items() if parts)


def _ranges(numbers: Sequence[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> "0-2,5,7-8"."""
    parts: list[str] = []
    ordered = sorted(set(numbers))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _age(seconds: float | None) -> str:
    """3725 -> "1h 2m"; 45 -> "45s"; 200000 -> "2d 7h"."""
    if seconds is None:
        return "-"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
