"""`assetstream produce`: validate events and send each to its topic with its key (SPEC §3).

Every line it prints goes through `streams.terminal.printable`: ids and reasons come from
the input file and error texts from the broker, and must not drive the terminal.
"""

from __future__ import annotations

import argparse

HELP = "Validate a JSONL file of events and send each to the right topic and key."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="events, one CloudEvent per line ('-' for stdin)")
    parser.add_argument(
        "--raw", action="store_true", help="send lines unvalidated (for DLQ tests); needs --topic"
    )
    parser.add_argument("--topic", help="with --raw: base topic name, e.g. assets.amendments")
    parser.add_argument("--key", help="with --raw: the Kafka key for every line")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    if args.raw and not args.topic:
        print("assetstream produce: --raw needs --topic", file=sys.stderr)
        return 2
    return asyncio.run(_produce(args))


async def _produce(args: argparse.Namespace) -> int:
    import asyncio
    import sys
    from collections import Counter
    from typing import Any

    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    from schemas.decode import Rejection, decode, partition_key
    from schemas.events import EVENT_TOPICS
    from streams.commands import load_settings_or_say
    from streams.connectivity import KafkaConnectError, check_kafka
    from streams.settings import aiokafka_kwargs
    from streams.terminal import printable
    from streams.topics import resolve

    def say(text: str) -> None:
        print(printable(text), file=sys.stderr)

    settings = load_settings_or_say("produce")
    if settings is None:
        return 2
    stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    with stream:
        lines = stream.read().splitlines()
    # Above the broker's 1 MiB default, so an oversized --raw line reaches the broker and
    # gets its verdict (the point of testing the dead-letter path with one).
    try:
        await check_kafka(settings)  # a wrong password or no broker: one line, never a traceback
    except KafkaConnectError as exc:
        say(f"assetstream produce: {exc}")
        return 2
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), acks="all", enable_idempotence=True,
                                max_request_size=4 * 1024 * 1024)  # fmt: skip
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        say(f"assetstream produce: cannot connect to Kafka: {exc}")
        return 2
    sent: Counter[str] = Counter()
    refused = failed = 0
    # Sends are pipelined (the idempotent producer keeps each partition's order) and awaited
    # at the end, so a large file does not pay one broker round trip per line.
    pending: list[tuple[int, str, asyncio.Future[Any]]] = []
    try:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            if args.raw:
                topic = resolve(settings, args.topic)
                key = args.key.encode() if args.key else None
            else:
                decoded = decode(raw)
                if isinstance(decoded, Rejection):
                    refused += 1
                    label = decoded.event_id or "no id"
                    say(f"line {number} ({label}): refused, {decoded.reason_code}: "
                        f"{decoded.reason}")  # fmt: skip
                    continue
                topic = resolve(settings, EVENT_TOPICS[decoded.event_type])
                key = partition_key(decoded.model).encode()
            try:
                pending.append((number, topic, await producer.send(topic, raw, key=key)))
            except KafkaError as exc:
                failed += 1
                say(f"line {number}: not sent to {topic}: {exc}")
        for number, topic, future in pending:
            try:
                await future
                sent[topic] += 1
            except KafkaError as exc:
                failed += 1
                say(f"line {number}: the broker refused it ({topic}): {exc}")
    finally:
        await producer.stop()
    for topic, count in sorted(sent.items()):
        print(printable(f"sent {count} to {topic}"))
    if refused:
        say(f"refused {refused} invalid line(s); nothing was sent for them")
    if failed:
        say(f"{failed} line(s) could not be sent")
    return 1 if refused or failed else 0
