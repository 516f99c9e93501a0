"""Redis read model of asset snapshots: key layout, the versioned write, reads.

Layout (every key starts with the namespace, `{ASSETSTREAM_TOPIC_PREFIX}assetstream:`,
so several runs can share one Redis as they share one broker):

- `{ns}asset:{asset_id}` — a hash: `version`, `as_of`, `account_id`, `json`
  (the snapshot exactly as published, so money strings are never re-encoded).
- `{ns}account:{account_id}:assets` — a set of the account's asset ids.

Both are written by one Lua script, so a reader never sees an asset that its
account's index lacks, and two projections racing on one key cannot let an
older version win. On Redis Cluster the two keys would need a common hash tag;
this project targets a single Redis (or a replicated primary).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from redis.asyncio import Redis

# Returns 1 when written, 0 when the stored copy is as new or newer.
# A copy is newer when its version is higher, or the version is equal and its
# `as_of` is later: a republish at a date boundary (a term ends) may keep the
# version but changes status and current fields. ISO dates compare as strings.
_PUT_SCRIPT: Final = """
local stored_version = redis.call('HGET', KEYS[1], 'version')
local version = tonumber(ARGV[1])
if stored_version then
  stored_version = tonumber(stored_version)
  if version < stored_version then return 0 end
  if version == stored_version then
    local stored_as_of = redis.call('HGET', KEYS[1], 'as_of') or ''
    if ARGV[2] <= stored_as_of then return 0 end
  end
  local old_account = redis.call('HGET', KEYS[1], 'account_id')
  if old_account and old_account ~= ARGV[3] then
    redis.call('SREM', ARGV[5] .. old_account .. ARGV[6], ARGV[7])
  end
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'as_of', ARGV[2],
           'account_id', ARGV[3], 'json', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[7])
return 1
"""

# A tombstone on the compacted topic removes the asset and its index entry.
_DELETE_SCRIPT: Final = """
local account = redis.call('HGET', KEYS[1], 'account_id')
if account then
  redis.call('SREM', ARGV[1] .. account .. ARGV[2], ARGV[3])
end
return redis.call('DEL', KEYS[1])
"""

_ACCOUNT_PREFIX: Final = "account:"
_ACCOUNT_SUFFIX: Final = ":assets"


class SnapshotFormatError(ValueError):
    """A snapshot record that lacks the fields the read model keys on."""


@dataclass(frozen=True, slots=True)
class SnapshotKeyFields:
    """The few fields the versioned write needs, read from a snapshot record."""

    asset_id: str
    account_id: str
    version: int
    as_of: str


def namespace_for(topic_prefix: str) -> str:
    """Key namespace for a run: the topic prefix, then `assetstream:`."""
    return f"{topic_prefix}assetstream:"


def parse_snapshot(raw: bytes | str) -> dict[str, Any]:
    """Parse a snapshot's JSON; any JSON number becomes a Decimal, never a float."""
    value = json.loads(raw, parse_float=Decimal)
    if not isinstance(value, dict):
        raise SnapshotFormatError("a snapshot must be a JSON object")
    return value


def key_fields(snapshot: Mapping[str, Any]) -> SnapshotKeyFields:
    """Pick and check the fields the write compares on."""
    asset_id = snapshot.get("asset_id")
    account_id = snapshot.get("account_id")
    version = snapshot.get("version")
    as_of = snapshot.get("as_of")
    if not isinstance(asset_id, str) or not asset_id:
        raise SnapshotFormatError("asset_id must be a non-empty string")
    if not isinstance(account_id, str) or not account_id:
        raise SnapshotFormatError("account_id must be a non-empty string")
    # bool is an int in Python; a version of `true` is a producer bug.
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise SnapshotFormatError("version must be a non-negative integer")
    if not isinstance(as_of, str):
        raise SnapshotFormatError("as_of must be an ISO date string")
    return SnapshotKeyFields(asset_id, account_id, version, as_of)


def _as_bytes(value: bytes | str) -> bytes:
    # The client is built without decode_responses, so Redis answers bytes;
    # a client that decodes is accepted too.
    return value if isinstance(value, bytes) else value.encode("utf-8")


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A null value on the compacted topic: the asset no longer exists."""

    asset_id: str


def check(raw: bytes | str) -> SnapshotKeyFields:
    """Validate a snapshot record without writing it; raises SnapshotFormatError/ValueError."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return key_fields(parse_snapshot(text))


class ReadModel:
    """Async access to the snapshot read model in one Redis namespace."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace
        self._put = redis.register_script(_PUT_SCRIPT)
        self._delete = redis.register_script(_DELETE_SCRIPT)

    @property
    def redis(self) -> Redis:
        return self._redis

    def asset_key(self, asset_id: str) -> str:
        return f"{self._ns}asset:{asset_id}"

    def account_key(self, account_id: str) -> str:
        return f"{self._ns}{_ACCOUNT_PREFIX}{account_id}{_ACCOUNT_SUFFIX}"

    def _put_call(self, raw: bytes | str) -> tuple[list[str], list[str | int]]:
        """Keys and arguments of the versioned write; raises SnapshotFormatError."""
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        fields = key_fields(parse_snapshot(text))
        keys = [self.asset_key(fields.asset_id), self.account_key(fields.account_id)]
        args: list[str | int] = [
            fields.version,
            fields.as_of,
            fields.account_id,
            text,
            f"{self._ns}{_ACCOUNT_PREFIX}",
            _ACCOUNT_SUFFIX,
            fields.asset_id,
        ]
        return keys, args

    def _delete_call(self, asset_id: str) -> tuple[list[str], list[str | int]]:
        return [self.asset_key(asset_id)], [
            f"{self._ns}{_ACCOUNT_PREFIX}",
            _ACCOUNT_SUFFIX,
            asset_id,
        ]

    async def put_snapshot(self, raw: bytes | str) -> bool:
        """Store a published snapshot unless a newer one is stored; True if written.

        Raises SnapshotFormatError for a record that is not a snapshot, and
        redis errors (ConnectionError, TimeoutError) when Redis is unreachable.
        """
        keys, args = self._put_call(raw)
        return bool(await self._put(keys=keys, args=args))

    async def delete_asset(self, asset_id: str) -> bool:
        """Remove an asset (a tombstone on the compacted topic); True if it existed."""
        keys, args = self._delete_call(asset_id)
        return bool(await self._delete(keys=keys, args=args))

    async def apply_all(self, changes: Sequence[bytes | str | Tombstone]) -> list[bool]:
        """Apply snapshots and tombstones in order, in one round trip; True where changed.

        Every change must already be valid (see `check`): a pipeline cannot
        skip one bad record. Each script call stays atomic on its own; the
        batch is not a transaction, and need not be, since every write is
        versioned and idempotent.
        """
        if not changes:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for change in changes:
            if isinstance(change, Tombstone):
                keys, args = self._delete_call(change.asset_id)
                await self._delete(keys=keys, args=args, client=pipe)
            else:
                keys, args = self._put_call(change)
                await self._put(keys=keys, args=args, client=pipe)
        return [bool(result) for result in await pipe.execute()]

    async def get_snapshot_json(self, asset_id: str) -> bytes | None:
        """The stored snapshot's JSON bytes, exactly as published, or None."""
        raw = await self._redis.hget(self.asset_key(asset_id), "json")
        return None if raw is None else _as_bytes(raw)

    async def get_snapshot(self, asset_id: str) -> dict[str, Any] | None:
        raw = await self.get_snapshot_json(asset_id)
        return None if raw is None else parse_snapshot(raw)

    async def get_version(self, asset_id: str) -> int | None:
        raw = await self._redis.hget(self.asset_key(asset_id), "version")
        return None if raw is None else int(raw)

    async def account_asset_ids(self, account_id: str) -> list[str]:
        """The account's asset ids, sorted."""
        members = await self._redis.smembers(self.account_key(account_id))
        return sorted(_as_bytes(m).decode("utf-8") for m in members)

    async def get_snapshots(self, asset_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Snapshots of the given assets in one round trip; missing ones are skipped."""
        if not asset_ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for asset_id in asset_ids:
            pipe.hget(self.asset_key(asset_id), "json")
        raws: list[bytes | None] = await pipe.execute()
        return [parse_snapshot(raw) for raw in raws if raw is not None]

    async def ping(self) -> bool:
        return bool(await self._redis.ping())
