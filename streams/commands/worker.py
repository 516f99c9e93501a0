"""`assetstream worker`: the stream processor."""

from __future__ import annotations

import argparse

HELP = "Run the stream processor (Faust worker) and, by default, the Redis projection."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-projection", action="store_true",
                        help="do not run the Redis projection in this process")  # fmt: skip
    parser.add_argument("--loglevel", default="info", help="worker log level (default info)")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from faust.worker import Worker

    from streams.admin import PartitionMismatchError, ensure_topics
    from streams.app import build_app, quiet_connection_floods
    from streams.commands import load_settings_or_say
    from streams.connectivity import (
        KafkaConnectError,
        ReplicationError,
        check_kafka,
        check_replication,
    )
    from streams.terminal import printable
    from streams.topics import topic_names

    settings = load_settings_or_say("worker")
    if settings is None:
        return 2
    quiet_connection_floods()

    async def prepare() -> dict[str, int]:
        # A wrong password or an unreachable cluster is one clear line, never a hang.
        brokers = await check_kafka(settings)
        await check_replication(settings, brokers=brokers)
        return await ensure_topics(settings, topic_names(settings))

    try:
        partitions = asyncio.run(prepare())
    except (PartitionMismatchError, KafkaConnectError, ReplicationError) as exc:
        print(f"assetstream worker: {printable(str(exc))}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings, with_projection=not args.no_projection, partitions=partitions)
    worker = Worker(app, loglevel=args.loglevel, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0
