"""`assetstream project`: the Redis projection (asset snapshots, account records), on its own."""

from __future__ import annotations

import argparse

HELP = (
    "Copy the highest-version snapshot of every asset and record of every account from Kafka "
    "into Redis (runs until stopped)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level", default="INFO", choices=["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal
    import sys

    from streams.app import quiet_connection_floods
    from streams.commands import load_settings_or_say
    from streams.connectivity import KafkaConnectError, check_kafka
    from streams.sinks.redis_projection import run_projection
    from streams.terminal import printable

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    settings = load_settings_or_say("project")
    if settings is None:
        return 2
    quiet_connection_floods()
    try:
        asyncio.run(check_kafka(settings))  # a wrong password or no broker: one clear line
    except KafkaConnectError as exc:
        print(f"assetstream project: {printable(str(exc))}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_projection(settings, stop)

    asyncio.run(main())
    return 0
