"""Events per second of one `assetstream worker` on a generated event set, through real Kafka.

    .venv/bin/python -m benchmarks.worker_throughput --assets 2000 --seed 11

1. Generate the events (tests/support/generate_events.py) and create a fresh
   topic prefix; produce every event to its input topic before the worker starts.
2. Start one worker (memory store, ASSETSTREAM_PARTITIONS=4, fixed as_of) and
   clock from "Worker ready" until its metrics count every delivery (an order
   counts once per line) as applied, pending or duplicate.
3. Print events/s and deliveries/s; stop the worker.

Needs a broker at KAFKA_BOOTSTRAP_SERVERS (`make up`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from schemas.decode import Decoded, decode, partition_key
from schemas.events import EVENT_TOPICS
from tests.support.generate_events import generate

REPO = Path(__file__).resolve().parents[1]
METRIC = re.compile(r'^assetstream_messages_total\{outcome="([a-z_]+)",reason="[^"]*"\} (\S+)$')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _produce(bootstrap: str, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _processed(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    return sum(float(m.group(2)) for line in text.splitlines() if (m := METRIC.match(line)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--as-of", default="2026-06-01")
    parser.add_argument("--store", default="memory://")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = f"bench-{uuid.uuid4().hex[:8]}."

    # Step 1
    records: list[tuple[str, bytes, bytes]] = []
    deliveries = 0
    for event in generate(args.assets, args.seed):
        raw = json.dumps(event).encode()
        decoded = decode(raw)
        if not isinstance(decoded, Decoded):
            continue
        deliveries += len(decoded.events)
        topic = prefix + EVENT_TOPICS[decoded.event_type]
        records.append((topic, partition_key(decoded.model).encode(), raw))
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
               "ASSETSTREAM_TOPIC_PREFIX": prefix, "ASSETSTREAM_PARTITIONS": "4",
               "ASSETSTREAM_AS_OF": args.as_of, "ASSETSTREAM_STORE": args.store,
               "ASSETSTREAM_DATA_DIR": tmp, "ASSETSTREAM_WEB_PORT": str(port),
               "PYTHONUNBUFFERED": "1"}  # fmt: skip
        # Create the topics (the worker's own start-up step) so the events can go first.
        subprocess.run([sys.executable, "-c", "import asyncio; from streams.admin import "
                        "ensure_topics; from streams.settings import load_settings; "
                        "from streams.topics import topic_names; s = load_settings(); "
                        "asyncio.run(ensure_topics(s, topic_names(s)))"],
                       env=env, check=True, cwd=REPO)  # fmt: skip
        asyncio.run(_produce(bootstrap, records))
        print(f"{len(records)} events ({deliveries} deliveries) produced under {prefix}")

        # Step 2
        log_path = Path(tmp) / "worker.log"
        with log_path.open("wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker",
                                       "--no-projection"], env=env, cwd=REPO, stdout=log,
                                      stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + args.timeout
            while "Worker ready" not in log_path.read_text(errors="replace"):
                if worker.poll() is not None or time.monotonic() > deadline:
                    print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
                    return 1
                time.sleep(0.1)
            started = time.monotonic()
            done = 0.0
            while (done := _processed(port)) < deliveries:
                if worker.poll() is not None or time.monotonic() > deadline:
                    print(f"stopped at {done:.0f}/{deliveries} deliveries", file=sys.stderr)
                    print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
                    return 1
                time.sleep(0.2)
            elapsed = time.monotonic() - started
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()

    # Step 3
    rate = len(records) / elapsed
    print(f"one worker, {args.store}, 4 partitions: {len(records)} events in {elapsed:.1f}s = "
          f"{rate:.0f} events/s ({deliveries / elapsed:.0f} deliveries/s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
