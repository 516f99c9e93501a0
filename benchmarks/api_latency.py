"""Latency of the read API under a short local load; prints p50/p99.

Run (needs a Redis; `make up` starts one):

    .venv/bin/python benchmarks/api_latency.py [--route asset] [--requests 5000] [--concurrency 16]
    .venv/bin/python benchmarks/api_latency.py --route account --account-assets 200
    .venv/bin/python benchmarks/api_latency.py --route account-assets --account-assets 20000

Routes: `asset` is GET /assets/{id} (SPEC §5's Capricorn snapshot); `account` is
GET /accounts/{id}, the account record (SPEC §10) that `domain.accounts` computes
for `--account-assets` assets whose terms start and end on different dates
(so its timeline and movements are long); `account-assets` is the first page
(100) of GET /accounts/{id}/assets on that account.

Steps: seed Redis under a throw-away namespace, start `assetstream api` as a
separate process on a free loopback port (so the load generator does not share
its event loop or GIL), send a bounded number of requests, print the
percentiles, clean up. Loopback only: `--url` must point at 127.0.0.1 or
localhost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from domain.months import add_months  # noqa: E402
from tests.support.snapshots import CAPRICORN  # noqa: E402

START_TIMEOUT_S = 20.0
ASSET_ID = "AST-QBO-CAPRICORN"
ACCOUNT_ID = "ACC-BENCH"
SEED_BATCH = 1000
ROUTES = {
    "asset": f"/assets/{ASSET_ID}",
    "account": f"/accounts/{ACCOUNT_ID}",
    "account-assets": f"/accounts/{ACCOUNT_ID}/assets",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="measured requests")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured requests first")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--url", default=None, help="an already running API on loopback (skips seed and start)"
    )
    parser.add_argument("--asset-id", default=ASSET_ID, help="asset to fetch with --url")
    parser.add_argument("--route", choices=sorted(ROUTES), default="asset", help="what to GET")
    parser.add_argument(
        "--account-assets",
        type=int,
        default=200,
        help="assets on the benchmark account (routes account, account-assets)",
    )
    args = parser.parse_args()
    if args.requests < 1 or args.requests > 200_000 or args.concurrency < 1:
        parser.error("--requests must be 1..200000 and --concurrency ≥ 1")
    if not 1 <= args.account_assets <= 100_000:
        parser.error("--account-assets must be 1..100000")
    if args.url and urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--url must be a loopback address: this is a local benchmark")
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def account_assets(count: int) -> list[dict[str, Any]]:
    """`count` one-period assets on one account, starting and ending on spread-out dates.

    Starts fall on the 1st or 15th of 36 months and terms last 6 to 24 months,
    so the account's MRR changes on many dates, as a large customer's does.
    """
    snapshots = []
    for i in range(count):
        start = date(2024 + (i % 36) // 12, (i % 36) % 12 + 1, 1 if i % 2 else 15)
        end = add_months(start, 6 + (i * 7) % 19)
        mrr = f"{10 + (i * 37) % 490}.{(i * 13) % 100:02d}"
        period = {"start_date": start.isoformat(), "end_date": end.isoformat(),
                  "quantity": "1", "mrr": mrr, "amount": "0.00"}  # fmt: skip
        snapshots.append(
            {
                **CAPRICORN,
                "asset_id": f"AST-BENCH-{i:06d}",
                "account_id": ACCOUNT_ID,
                "version": 1,
                "as_of": "2026-03-01",
                "current_mrr": mrr,
                "lifecycle_start_date": start.isoformat(),
                "lifecycle_end_date": end.isoformat(),
                "state_periods": [period],
                "actions": [],
            }
        )
    return snapshots


def account_record(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """The account record (SPEC §10) the domain computes for the snapshots."""
    from domain.accounts import build_book, contribution_from_snapshot, record_to_dict, render

    book = build_book(ACCOUNT_ID, [contribution_from_snapshot(s) for s in snapshots])
    record = render(book, date(2026, 3, 1))
    if record is None:
        raise SystemExit("no account record for the seeded assets")
    return record_to_dict(record, version=1)


async def seed(redis_url: str, namespace: str, route: str, assets: int) -> str:
    """Seed what `route` reads; a line describing it."""
    from redis.asyncio import Redis

    from streams.readmodel import ReadModel, prepare

    client = Redis.from_url(redis_url)
    try:
        model = ReadModel(client, namespace)
        await model.put_snapshot(json.dumps(CAPRICORN))
        if route == "asset":
            return f"one snapshot of {len(json.dumps(CAPRICORN))} bytes"
        snapshots = account_assets(assets)
        for start in range(0, len(snapshots), SEED_BATCH):
            chunk = snapshots[start : start + SEED_BATCH]
            await model.apply_all([prepare(json.dumps(s)) for s in chunk])
        record = account_record(snapshots)
        raw = json.dumps(record)
        await model.put_account_record(raw)
        await model.begin_epoch(targets={})  # a finished build: accounts are served
        part = record["currencies"][0]
        return (
            f"an account of {assets} assets; its record: {len(raw)} bytes, "
            f"{len(part['mrr_timeline'])} timeline spans, {len(part['movements'])} movements"
        )
    finally:
        await client.aclose()


async def cleanup(redis_url: str, namespace: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def start_api(redis_url: str, prefix: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, REDIS_URL=redis_url, ASSETSTREAM_TOPIC_PREFIX=prefix)
    env.pop("ASSETSTREAM_API_TOKEN", None)
    cmd = [sys.executable, "-m", "streams.cli", "api", "--host", "127.0.0.1"]
    return subprocess.Popen(
        [*cmd, "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def wait_ready(base_url: str, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{base_url}/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the API exited with {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise SystemExit(f"the API at {base_url} was not ready after {START_TIMEOUT_S}s")
        time.sleep(0.1)


async def load(base_url: str, path: str, total: int, concurrency: int) -> tuple[list[float], float]:
    """Send `total` GETs over `concurrency` keep-alive connections; latencies and wall time.

    A minimal HTTP/1.1 client on asyncio streams: httpx costs more CPU per
    request than the server does, and on a small machine it would measure itself.
    """
    url = urlparse(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    latencies: list[float] = []
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"GET {path} answered {head.splitlines()[0]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


def server_cpu_s(proc: subprocess.Popen[bytes] | None) -> float:
    """User + system CPU seconds of the API process so far (Linux /proc), 0 if unknown."""
    if proc is None:
        return 0.0
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat(5), counted after the ")" that ends the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> int:
    args = parse_args()
    proc: subprocess.Popen[bytes] | None = None
    namespace = ""
    seeded = "an already running API"
    if args.url:
        base_url = args.url.rstrip("/")
    else:
        prefix = f"bench-{uuid.uuid4().hex[:8]}."
        namespace = f"{prefix}assetstream:"
        seeded = asyncio.run(seed(args.redis_url, namespace, args.route, args.account_assets))
        base_url = f"http://127.0.0.1:{free_port()}"
        proc = start_api(args.redis_url, prefix, int(base_url.rsplit(":", 1)[1]))
    try:
        wait_ready(base_url, proc)
        path = f"/assets/{args.asset_id}" if args.url else ROUTES[args.route]
        asyncio.run(load(base_url, path, args.warmup, args.concurrency))
        cpu_before = server_cpu_s(proc)
        latencies, wall = asyncio.run(load(base_url, path, args.requests, args.concurrency))
        cpu_used = server_cpu_s(proc) - cpu_before
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        if namespace:
            asyncio.run(cleanup(args.redis_url, namespace))

    ms = sorted(x * 1000 for x in latencies)
    import importlib.util

    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    print(
        f"GET {path}: {len(ms)} requests, concurrency {args.concurrency}, "
        f"one uvicorn worker ({parser}, {loop}); seeded {seeded}"
    )
    print(
        f"p50 {percentile(ms, 50):.2f} ms  p90 {percentile(ms, 90):.2f} ms  "
        f"p99 {percentile(ms, 99):.2f} ms  max {ms[-1]:.2f} ms  "
        f"mean {statistics.fmean(ms):.2f} ms  throughput {len(ms) / wall:.0f} req/s"
    )
    if proc is not None:
        # Server CPU per request, apart from the load generator's own cost
        # (both share this machine's cores).
        print(f"server CPU {cpu_used * 1000 / len(ms):.2f} ms per request")
    account = f" --account-assets {args.account_assets}" if args.route != "asset" else ""
    print(
        "reproduce: .venv/bin/python benchmarks/api_latency.py "
        f"--route {args.route}{account} --requests {args.requests} "
        f"--concurrency {args.concurrency}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
