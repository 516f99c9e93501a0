"""Protocol-level readiness checks used by scripts/kafka.sh and scripts/redis.sh.

    python scripts/probe.py kafka [BOOTSTRAP] [--timeout S]   # a Metadata request answered
    python scripts/probe.py redis [URL] [--timeout S]         # PING answered with PONG

Exit 0 when the service answered, 1 otherwise (the reason goes to stderr).
Security settings (SASL/TLS) come from the same environment variables as the app.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys


async def _kafka_ready(bootstrap: str | None, timeout: float) -> str:
    from aiokafka import AIOKafkaClient

    from streams.settings import aiokafka_kwargs, load_settings

    overrides = {"kafka_bootstrap_servers": bootstrap} if bootstrap else {}
    kwargs = aiokafka_kwargs(load_settings(**overrides))
    client = AIOKafkaClient(request_timeout_ms=int(timeout * 1000), **kwargs)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), timeout)
        brokers = metadata.brokers()
        if not brokers:
            raise RuntimeError("metadata lists no brokers yet")
        if metadata.controller is None:
            raise RuntimeError("metadata names no active controller yet")
        return f"kafka ready: {len(brokers)} broker(s), {len(metadata.topics())} topic(s)"
    finally:
        await client.close()


def _redis_ready(url: str | None, timeout: float) -> str:
    import redis

    from streams.settings import load_settings

    overrides = {"redis_url": url} if url else {}
    settings = load_settings(**overrides)
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        if not client.ping():
            raise RuntimeError("PING not answered")
        version = client.info("server").get("redis_version", "?")
        return f"redis ready: version {version}"
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=["kafka", "redis"])
    parser.add_argument("address", nargs="?", default=None)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    # aiokafka logs every refused connection; the one-line verdict below is enough.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        if args.service == "kafka":
            message = asyncio.run(_kafka_ready(args.address, args.timeout))
        else:
            message = _redis_ready(args.address, args.timeout)
    except Exception as exc:
        print(f"{args.service} not ready: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
