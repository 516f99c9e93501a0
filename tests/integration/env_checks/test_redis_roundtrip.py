"""Environment check: the real Redis answers; a value, a hash and a sorted set round-trip.

Not a test of assetstream (see conftest.py: marked `env_check`).
"""

from __future__ import annotations

import uuid

import pytest
import redis

pytestmark = pytest.mark.integration


def test_redis_stores_and_returns_values_under_a_unique_key(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    base = f"it:{uuid.uuid4().hex}"
    try:
        client.set(f"{base}:plain", "20.83", ex=60)
        client.hset(f"{base}:hash", mapping={"asset_id": "AST-1", "version": "2"})
        client.zadd(f"{base}:zset", {"AST-2": 2.0, "AST-1": 1.0})

        assert client.get(f"{base}:plain") == "20.83"
        assert client.hgetall(f"{base}:hash") == {"asset_id": "AST-1", "version": "2"}
        assert client.zrange(f"{base}:zset", 0, -1) == ["AST-1", "AST-2"]
        assert 0 < client.ttl(f"{base}:plain") <= 60
    finally:
        client.delete(f"{base}:plain", f"{base}:hash", f"{base}:zset")
        client.close()
