"""Worker throughput against its ceiling, measured in one run on one broker with one message set.

    .venv/bin/python -m benchmarks.worker_throughput --assets 2000 --seed 11

The machine is shared and noisy, so absolute rates mean little: the ratios do.
Every stage consumes the same generated events (tests/support/generate_events.py),
pre-loaded on topics with the same partition count (4), before its consumers start:

1. **raw aiokafka relay**: a consumer and a producer in one process, consume → send.
2. **bare faust relay**: a faust worker whose only agent sends each message on
   (benchmarks/relay_app.py), with the worker's own faust settings.
3. **one assetstream worker** (memory store unless `--store`), clocked from
   "Worker ready" until its metrics count every delivery (an order counts once
   per line) as applied, pending or duplicate.
4. **two assetstream workers in one group**, the same way.

It prints each rate, worker ÷ faust relay, two workers ÷ one, and the command.
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
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.decode import Decoded, decode, partition_key
from schemas.events import EVENT_TOPICS
from tests.support.generate_events import generate

REPO = Path(__file__).resolve().parents[1]
METRIC = re.compile(r'^assetstream_messages_total\{outcome="([a-z_]+)",reason="[^"]*"\} (\S+)$')
PARTITIONS = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _create(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics])
    finally:
        await admin.close()


async def _produce(bootstrap: str, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _raw_relay(bootstrap: str, source: str, target: str, count: int) -> float:
    """Stage 1: seconds per message consumed and copied (steady state, as `_steady`)."""
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=f"raw-{source}",
                                auto_offset_reset="earliest", enable_auto_commit=True)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await consumer.start()
    await producer.start()
    try:
        done = 0
        pending = []
        samples: list[tuple[float, float]] = []
        while done < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=100)
            for records in batches.values():
                for record in records:
                    pending.append(await producer.send(target, record.value, key=record.key))
                    done += 1
            samples.append((time.monotonic(), done))
        await asyncio.gather(*pending)
        samples.append((time.monotonic(), done))
        return _steady(samples, count)
    finally:
        await consumer.stop()
        await producer.stop()


def _wait_until(done: Callable[[], float], target: float, process: subprocess.Popen[bytes],
                log: Path, timeout: float) -> float:  # fmt: skip
    """Seconds per message in steady state, from polling `done()` until it reaches `target`.

    The rate is taken between 10 % and 90 % of `target`: a consumer's first fetch after
    it joins its group and the last stragglers would otherwise weigh on a short run
    (the relays finish in seconds) far more than on a long one.
    """
    deadline = time.monotonic() + timeout
    samples: list[tuple[float, float]] = []
    while True:
        count = done()
        samples.append((time.monotonic(), count))
        if count >= target:
            break
        if process.poll() is not None or time.monotonic() > deadline:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise SystemExit(f"stopped at {count:.0f}/{target}")
        time.sleep(0.05)
    return _steady(samples, target)


def _steady(samples: list[tuple[float, float]], target: float) -> float:
    """Seconds per message between the first samples at or past 10 % and 90 % of `target`."""
    low = next(s for s in samples if s[1] >= 0.1 * target)
    high = next(s for s in samples if s[1] >= 0.9 * target)
    if high[1] <= low[1]:
        return max(high[0] - low[0], 1e-6) / max(target, 1)
    return (high[0] - low[0]) / (high[1] - low[1])


def _wait_ready(process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while "Worker ready" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise SystemExit("a worker did not start")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text: str = response.read().decode()
            return text
    except OSError:
        return ""


def _faust_relay(env: dict[str, str], source: str, count: int, tmp: Path, timeout: float) -> float:
    """Stage 2: a bare faust agent relaying `count` messages."""
    port = _free_port()
    relay_env = {**env, "RELAY_IN": source, "RELAY_OUT": source + ".out",
                 "RELAY_APP": f"relay-{uuid.uuid4().hex[:6]}", "RELAY_PORT": str(port),
                 "RELAY_DATA": str(tmp / "relay")}  # fmt: skip
    log = tmp / "relay.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "benchmarks.relay_app", "worker", "-l",
                                    "info"], env=relay_env, cwd=REPO, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_ready(process, log, timeout)

        def relayed() -> float:
            text = _get(f"http://127.0.0.1:{port}/count")
            return float(json.loads(text)["count"]) if text else 0.0

        return _wait_until(relayed, count, process, log, timeout)
    finally:
        _stop(process)


def _processed(port: int) -> float:
    text = _get(f"http://127.0.0.1:{port}/metrics")
    return sum(float(m.group(2)) for line in text.splitlines() if (m := METRIC.match(line)))


def _workers(env: dict[str, str], records: list[tuple[str, bytes, bytes]], deliveries: int,
             workers: int, store: str, tmp: Path, timeout: float) -> float:  # fmt: skip
    """Stages 3 and 4: seconds per input event of `workers` workers in one group."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    base = {**env, "ASSETSTREAM_TOPIC_PREFIX": prefix, "ASSETSTREAM_PARTITIONS": str(PARTITIONS),
            "ASSETSTREAM_STORE": store}  # fmt: skip
    # Create the topics (the worker's own start-up step) so the events can go first.
    subprocess.run([sys.executable, "-c", "import asyncio; from streams.admin import "
                    "ensure_topics; from streams.settings import load_settings; "
                    "from streams.topics import topic_names; s = load_settings(); "
                    "asyncio.run(ensure_topics(s, topic_names(s)))"],
                   env=base, check=True, cwd=REPO)  # fmt: skip
    asyncio.run(_produce(env["KAFKA_BOOTSTRAP_SERVERS"],
                         [(prefix + t, k, v) for t, k, v in records]))  # fmt: skip
    processes, ports, logs = [], [], []
    try:
        for number in range(workers):
            port = _free_port()
            log = tmp / f"{prefix}worker-{number}.log"
            worker_env = {**base, "ASSETSTREAM_WEB_PORT": str(port),
                          "ASSETSTREAM_DATA_DIR": str(tmp / f"{prefix}{number}")}  # fmt: skip
            with log.open("wb") as out:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "streams.cli", "worker", "--no-projection"],
                    env=worker_env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT))  # fmt: skip
            ports.append(port)
            logs.append(log)
        for process, log in zip(processes, logs, strict=True):
            _wait_ready(process, log, timeout)
        per_delivery = _wait_until(lambda: sum(_processed(p) for p in ports), deliveries,
                                   processes[0], logs[0], timeout)  # fmt: skip
        return per_delivery * deliveries / len(records)  # seconds per input event
    finally:
        for process in processes:
            _stop(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--as-of", default="2026-06-01")
    parser.add_argument("--store", default="memory://")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--skip-two", action="store_true", help="do not measure two workers")
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "ASSETSTREAM_AS_OF": args.as_of,
           "PYTHONUNBUFFERED": "1"}  # fmt: skip

    records: list[tuple[str, bytes, bytes]] = []
    deliveries = 0
    for event in generate(args.assets, args.seed):
        raw = json.dumps(event).encode()
        decoded = decode(raw)
        if not isinstance(decoded, Decoded):
            continue
        deliveries += len(decoded.events)
        records.append((EVENT_TOPICS[decoded.event_type], partition_key(decoded.model).encode(),
                        raw))  # fmt: skip
    count = len(records)
    print(f"{count} events ({deliveries} deliveries), {PARTITIONS} partitions, broker {bootstrap}")

    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        relay_in = f"bench-relay-{uuid.uuid4().hex[:8]}"
        asyncio.run(_create(bootstrap, [relay_in, relay_in + ".raw", relay_in + ".out",
                                        relay_in + ".raw-out"]))  # fmt: skip
        asyncio.run(_produce(bootstrap, [(relay_in, k, v) for _, k, v in records]
                             + [(relay_in + ".raw", k, v) for _, k, v in records]))  # fmt: skip
        raw = asyncio.run(_raw_relay(bootstrap, relay_in + ".raw", relay_in + ".raw-out", count))
        relay = _faust_relay(env, relay_in, count, tmp, args.timeout)
        one = _workers(env, records, deliveries, 1, args.store, tmp, args.timeout)
        two = None if args.skip_two else _workers(env, records, deliveries, 2, args.store, tmp,
                                                  args.timeout)  # fmt: skip

    rows = [("raw aiokafka relay", raw), ("bare faust relay", relay), ("one worker", one)]
    if two is not None:
        rows.append(("two workers, one group", two))
    for name, per_message in rows:
        print(f"  {name:<24} {1 / per_message:9.0f} messages/s   (steady state, 10–90 %)")
    print(f"  worker / faust relay     {relay / one:9.2f}x   (target ≥ 0.33x)")
    print(f"  worker / raw relay       {raw / one:9.2f}x")
    if two is not None:
        print(f"  two workers / one        {one / two:9.2f}x   (target ≥ 1.6x)")
    print(f"reproduce: .venv/bin/python -m benchmarks.worker_throughput --assets {args.assets} "
          f"--seed {args.seed} --store {args.store}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
