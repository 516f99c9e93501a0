"""`assetstream inspect TOPIC`: pretty-print or follow a topic, optionally for one key."""

from __future__ import annotations

import argparse

HELP = "Pretty-print or follow a topic (base name, the prefix is added), optionally by key."

# Without --from-beginning, show this many of the newest messages of each partition.
TAIL_PER_PARTITION = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="e.g. assets.snapshots, assets.deadletter, orders.fulfilled")
    parser.add_argument("--key", help="only messages with this key (e.g. an asset id)")
    parser.add_argument("--from-beginning", action="store_true",
                        help=f"read everything (default: the newest {TAIL_PER_PARTITION} "
                             "per partition)")  # fmt: skip
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep waiting for new messages (Ctrl-C to stop)")  # fmt: skip
    parser.add_argument("--max", type=int, default=None, help="stop after printing N messages")
    parser.add_argument("--timeout", type=float, default=None,
                        help="stop after S seconds (default: 2 s without new messages, "
                             "or never with --follow)")  # fmt: skip
    parser.add_argument("--latest", action="store_true",
                        help="only the newest message per key, as a compacted topic keeps "
                             "it (implies --from-beginning, no --follow)")  # fmt: skip
    parser.add_argument("--json", action="store_true",
                        help="print each message as one JSON line (for scripts)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    import asyncio

    try:
        return asyncio.run(_inspect(args))
    except KeyboardInterrupt:
        return 0


async def _inspect(args: argparse.Namespace) -> int:
    import sys
    import time
    from typing import Any

    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.render import render_message
    from streams.settings import aiokafka_kwargs, load_settings
    from streams.topics import resolve

    settings = load_settings()
    topic = resolve(settings, args.topic)
    consumer = AIOKafkaConsumer(**aiokafka_kwargs(settings), group_id=None,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        # Look the topic up in the full cluster metadata: a Metadata request naming a
        # missing topic would make a broker with auto-create enabled create it.
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(topic) or set()
        if not partitions:
            print(f"assetstream inspect: topic {topic!r} does not exist", file=sys.stderr)
            return 1
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if args.from_beginning or args.latest:
            await consumer.seek_to_beginning(*tps)
        else:
            starts = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                consumer.seek(tp, max(starts[tp], ends[tp] - TAIL_PER_PARTITION))
        printed = 0
        latest: dict[bytes | None, Any] = {}
        follow = args.follow and not args.latest
        key = args.key.encode() if args.key is not None else None
        started = last_seen = time.monotonic()
        idle = 2.0 if args.timeout is None else args.timeout
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            now = time.monotonic()
            records = sorted((r for rs in batch.values() for r in rs),
                             key=lambda r: (r.timestamp, r.partition, r.offset))  # fmt: skip
            if records:
                last_seen = now
            for record in records:
                if key is not None and record.key != key:
                    continue
                if args.latest:
                    latest[record.key] = record
                    continue
                print(render_message(record, as_json=args.json), flush=True)
                printed += 1
                if args.max is not None and printed >= args.max:
                    return 0
            if follow:
                if args.timeout is not None and now - started >= args.timeout:
                    break
            elif now - last_seen >= idle:
                break
        for record in sorted(latest.values(), key=lambda r: r.key or b""):
            if record.value is None:
                continue  # deleted key (tombstone), as compaction would drop it
            if args.max is not None and printed >= args.max:
                break
            print(render_message(record, as_json=args.json), flush=True)
            printed += 1
        if printed == 0 and not args.json:
            which = f" with key {args.key!r}" if args.key is not None else ""
            print(f"(no messages{which} in {topic})", file=sys.stderr)
        return 0
    finally:
        await consumer.stop()
