"""Redis read model: key layout, versioned writes, the rebuild marker, reads.

Layout (every key starts with the namespace, `{ASSETSTREAM_TOPIC_PREFIX}assetstream:`,
so several runs can share one Redis as they share one broker):

- `{ns}asset:{asset_id}` — a hash: `version`, `as_of`, `account_id`, `json`
  (the snapshot exactly as published, so money strings are never re-encoded).
- `{ns}account:{account_id}:assets` — a set of the account's asset ids.
- `{ns}account-mrr:{account_id}` — a hash: `version`, `as_of`, `json` (an
  `accounts.mrr` record, SPEC §10, once that topic is projected).
- `{ns}epoch` — the marker: `id` (random, one per build of the read model),
  `state` (`rebuilding` or `complete`), `started_at`, `completed_at`, `topics`.
- `{ns}epoch:progress` — `{topic}:{partition}` → the offset below which every
  record of that partition is in Redis (where a projection resumes).
- `{ns}epoch:targets` — `{topic}:{partition}` → the end offset when the build
  began; the build is complete once every progress entry reaches its target.

Redis is a cache of compacted topics. A Redis that lost its data loses the
marker with it, which is how the projection notices and rebuilds from the
beginning of the topics (`streams.sinks.redis_projection`). The progress
entries are written in the same pipeline as the records, after them, so a
Redis that kept only part of its writes (an fsync window) never claims more
than it holds.

The versioned writes are Lua scripts, so a reader never sees an asset that
its account's index lacks, and two projections racing on one key cannot let
an older version win. On Redis Cluster the keys would need a common hash tag;
this project targets a single Redis (or a replicated primary).
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from redis.asyncio import Redis

# Returns 1 when written, 0 when the stored copy is as new or newer.
# A copy is newer when its version is higher, or the version is equal and its
# `as_of` is later: a republish at a date boundary (a term ends) may keep the
# version but changes status and current fields. ISO dates compare as strings.
_PUT_ASSET_SCRIPT: Final = """
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
_DELETE_ASSET_SCRIPT: Final = """
local account = redis.call('HGET', KEYS[1], 'account_id')
if account then
  redis.call('SREM', ARGV[1] .. account .. ARGV[2], ARGV[3])
end
return redis.call('DEL', KEYS[1])
"""

# The same versioned write for a record with no index (accounts.mrr).
_PUT_RECORD_SCRIPT: Final = """
local stored_version = redis.call('HGET', KEYS[1], 'version')
if stored_version then
  local version = tonumber(ARGV[1])
  stored_version = tonumber(stored_version)
  if version < stored_version then return 0 end
  if version == stored_version and ARGV[2] <= (redis.call('HGET', KEYS[1], 'as_of') or '') then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'as_of', ARGV[2], 'json', ARGV[3])
return 1
"""

# Begins a build unless one exists: wipes the progress of the build that was
# lost, records the targets, and answers the marker now in Redis (ours, or
# that of a projection that began first). Nothing to read means complete.
# ARGV: id, now, topics, then target field/offset pairs.
_BEGIN_EPOCH_SCRIPT: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGETALL', KEYS[1])
end
redis.call('DEL', KEYS[2], KEYS[3])
local state = 'complete'
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  if tonumber(ARGV[i + 1]) > 0 then state = 'rebuilding' end
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', state, 'started_at', ARGV[2],
           'topics', ARGV[3])
if state == 'complete' then redis.call('HSET', KEYS[1], 'completed_at', ARGV[2]) end
return redis.call('HGETALL', KEYS[1])
"""

# Records progress, only while the marker is the caller's build: -1 when it
# is missing (Redis lost its data) or another build began. Progress never
# moves back. Then 0 while rebuilding, 2 when this call completed the build,
# 1 when it was already complete. ARGV: id, now, then field/offset pairs.
_PROGRESS_SCRIPT: Final = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
for i = 3, #ARGV, 2 do
  local stored = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > stored then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
if redis.call('HGET', KEYS[1], 'state') == 'complete' then return 1 end
local targets = redis.call('HGETALL', KEYS[3])
for i = 1, #targets, 2 do
  if tonumber(redis.call('HGET', KEYS[2], targets[i]) or '0') < tonumber(targets[i + 1]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'state', 'complete', 'completed_at', ARGV[2])
return 2
"""

_ACCOUNT_PREFIX: Final = "account:"
_ACCOUNT_SUFFIX: Final = ":assets"
_ACCOUNT_MRR_PREFIX: Final = "account-mrr:"
_EPOCH: Final = "epoch"
_PROGRESS: Final = "epoch:progress"
_TARGETS: Final = "epoch:targets"


class SnapshotFormatError(ValueError):
    """A record that lacks the fields the read model keys on."""


class RecordKind(enum.Enum):
    """What a compacted topic holds, which decides how its records are written."""

    ASSET_SNAPSHOT = "asset snapshot"  # assets.snapshots, key asset_id (SPEC §5)
    ACCOUNT_MRR = "account record"  # accounts.mrr, key account_id (SPEC §10)


class ReadModelState(enum.Enum):
    """How far the read model is built, from its marker."""

    COMPLETE = "complete"
    REBUILDING = "rebuilding"
    MISSING = "missing"  # no marker: never built, or Redis lost its data


class Progress(enum.Enum):
    """The answer to recording progress (see `ReadModel.apply_all`)."""

    LOST = "lost"  # the marker is gone or names another build: do not commit, rebuild
    REBUILDING = "rebuilding"
    COMPLETED = "completed"  # this write completed the build
    COMPLETE = "complete"


_PROGRESS_CODES: Final = {
    -1: Progress.LOST,
    0: Progress.REBUILDING,
    1: Progress.COMPLETE,
    2: Progress.COMPLETED,
}


@dataclass(frozen=True, slots=True)
class Epoch:
    """The marker of one build of the read model."""

    id: str
    state: ReadModelState
    started_at: str
    completed_at: str | None
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SnapshotKeyFields:
    """The few fields the versioned write needs, read from a snapshot record."""

    asset_id: str
    account_id: str
    version: int
    as_of: str


@dataclass(frozen=True, slots=True)
class Put:
    """A record to store unless a newer one is stored."""

    kind: RecordKind
    raw: bytes


@dataclass(frozen=True, slots=True)
class Delete:
    """A null value (tombstone) on a compacted topic: the key no longer exists."""

    kind: RecordKind
    key: str


Change = Put | Delete


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """Offsets to record after a batch, if `epoch_id` is still the build in Redis."""

    epoch_id: str
    offsets: Mapping[str, int]


def namespace_for(topic_prefix: str) -> str:
    """Key namespace for a run: the topic prefix, then `assetstream:`."""
    return f"{topic_prefix}assetstream:"


def progress_field(topic: str, partition: int) -> str:
    """The field of a partition in the progress and target hashes (topic names have no ':')."""
    return f"{topic}:{partition}"


def parse_snapshot(raw: bytes | str) -> dict[str, Any]:
    """Parse a record's JSON; any JSON number becomes a Decimal, never a float."""
    value = json.loads(raw, parse_float=Decimal)
    if not isinstance(value, dict):
        raise SnapshotFormatError("a record must be a JSON object")
    return value


def _version_and_as_of(record: Mapping[str, Any]) -> tuple[int, str]:
    version = record.get("version")
    as_of = record.get("as_of")
    # bool is an int in Python; a version of `true` is a producer bug.
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise SnapshotFormatError("version must be a non-negative integer")
    if not isinstance(as_of, str):
        raise SnapshotFormatError("as_of must be an ISO date string")
    return version, as_of


def _non_empty(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise SnapshotFormatError(f"{name} must be a non-empty string")
    return value


def key_fields(snapshot: Mapping[str, Any]) -> SnapshotKeyFields:
    """Pick and check the fields the write compares on."""
    asset_id = _non_empty(snapshot, "asset_id")
    account_id = _non_empty(snapshot, "account_id")
    version, as_of = _version_and_as_of(snapshot)
    return SnapshotKeyFields(asset_id, account_id, version, as_of)


def _as_bytes(value: bytes | str) -> bytes:
    # The client is built without decode_responses, so Redis answers bytes;
    # a client that decodes is accepted too.
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _as_text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def check(raw: bytes | str, kind: RecordKind = RecordKind.ASSET_SNAPSHOT) -> None:
    """Validate a record without writing it; raises SnapshotFormatError/ValueError."""
    record = parse_snapshot(_as_text(raw))
    if kind is RecordKind.ASSET_SNAPSHOT:
        key_fields(record)
    else:
        _non_empty(record, "account_id")
        _version_and_as_of(record)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _epoch_of(fields: Mapping[bytes | str, bytes | str]) -> Epoch | None:
    values = {_as_text(k): _as_text(v) for k, v in fields.items()}
    if "id" not in values:
        return None
    try:
        state = ReadModelState(values.get("state", ""))
    except ValueError:
        state = ReadModelState.REBUILDING  # unknown state: never claim complete
    topics = tuple(t for t in values.get("topics", "").split(",") if t)
    return Epoch(
        values["id"], state, values.get("started_at", ""), values.get("completed_at"), topics
    )


class ReadModel:
    """Async access to the read model in one Redis namespace."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace
        self._put_asset = redis.register_script(_PUT_ASSET_SCRIPT)
        self._delete_asset = redis.register_script(_DELETE_ASSET_SCRIPT)
        self._put_record = redis.register_script(_PUT_RECORD_SCRIPT)
        self._begin = redis.register_script(_BEGIN_EPOCH_SCRIPT)
        self._progress = redis.register_script(_PROGRESS_SCRIPT)

    @property
    def redis(self) -> Redis:
        return self._redis

    def asset_key(self, asset_id: str) -> str:
        return f"{self._ns}asset:{asset_id}"

    def account_key(self, account_id: str) -> str:
        return f"{self._ns}{_ACCOUNT_PREFIX}{account_id}{_ACCOUNT_SUFFIX}"

    def account_mrr_key(self, account_id: str) -> str:
        return f"{self._ns}{_ACCOUNT_MRR_PREFIX}{account_id}"

    @property
    def epoch_key(self) -> str:
        return f"{self._ns}{_EPOCH}"

    def _epoch_keys(self) -> list[str]:
        return [self.epoch_key, f"{self._ns}{_PROGRESS}", f"{self._ns}{_TARGETS}"]

    # ---- writes ---------------------------------------------------------------

    def _put_asset_call(self, raw: bytes | str) -> tuple[list[str], list[str | int]]:
        """Keys and arguments of the versioned asset write; raises SnapshotFormatError."""
        text = _as_text(raw)
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

    def _delete_asset_call(self, asset_id: str) -> tuple[list[str], list[str | int]]:
        return [self.asset_key(asset_id)], [
            f"{self._ns}{_ACCOUNT_PREFIX}",
            _ACCOUNT_SUFFIX,
            asset_id,
        ]

    async def _queue(self, change: Change, client: Any) -> Any:
        """Send (or, on a pipeline, queue) one change."""
        if isinstance(change, Delete):
            if change.kind is RecordKind.ASSET_SNAPSHOT:
                keys, args = self._delete_asset_call(change.key)
                return await self._delete_asset(keys=keys, args=args, client=client)
            return await client.delete(self.account_mrr_key(change.key))
        if change.kind is RecordKind.ASSET_SNAPSHOT:
            keys, args = self._put_asset_call(change.raw)
            return await self._put_asset(keys=keys, args=args, client=client)
        text = _as_text(change.raw)
        record = parse_snapshot(text)
        version, as_of = _version_and_as_of(record)
        key = self.account_mrr_key(_non_empty(record, "account_id"))
        return await self._put_record(keys=[key], args=[version, as_of, text], client=client)

    async def put_snapshot(self, raw: bytes | str) -> bool:
        """Store a published snapshot unless a newer one is stored; True if written.

        Raises SnapshotFormatError for a record that is not a snapshot, and
        redis errors (ConnectionError, TimeoutError) when Redis is unreachable.
        """
        put = Put(RecordKind.ASSET_SNAPSHOT, _as_bytes(raw))
        return bool(await self._queue(put, self._redis))

    async def delete_asset(self, asset_id: str) -> bool:
        """Remove an asset (a tombstone on the compacted topic); True if it existed."""
        return bool(await self._queue(Delete(RecordKind.ASSET_SNAPSHOT, asset_id), self._redis))

    async def apply_all(
        self, changes: Sequence[Change], progress: ProgressUpdate | None = None
    ) -> tuple[list[bool], Progress | None]:
        """Apply puts and deletes in order, then record `progress`, in one round trip.

        Answers True where a change changed something, and the progress answer
        (None when no progress was given). Every change must already be valid
        (see `check`): a pipeline cannot skip one bad record. Each script call
        stays atomic on its own; the batch is not a transaction and need not
        be, since every write is versioned and idempotent, and the progress
        comes last.
        """
        if not changes and progress is None:
            return [], None
        # The context manager gives the connection back to the pool on every
        # path: a pipeline whose script preload fails keeps it otherwise
        # ("Unclosed Pipeline client" during outages).
        async with self._redis.pipeline(transaction=False) as pipe:
            for change in changes:
                await self._queue(change, pipe)
            if progress is not None:
                await self._progress(
                    keys=self._epoch_keys(),
                    args=[progress.epoch_id, _now(), *_pairs(progress.offsets)],
                    client=pipe,
                )
            results = await pipe.execute()
        if progress is None:
            return [bool(r) for r in results], None
        return [bool(r) for r in results[:-1]], _PROGRESS_CODES[int(results[-1])]

    # ---- the marker -------------------------------------------------------------

    async def epoch(self) -> Epoch | None:
        """The marker of the current build, or None when Redis has none."""
        return _epoch_of(await self._redis.hgetall(self.epoch_key))

    async def state(self) -> ReadModelState:
        raw = await self._redis.hget(self.epoch_key, "state")
        if raw is None:
            return ReadModelState.MISSING
        try:
            return ReadModelState(_as_text(raw))
        except ValueError:
            return ReadModelState.REBUILDING

    async def begin_epoch(
        self, *, targets: Mapping[str, int], topics: Sequence[str] = ()
    ) -> tuple[Epoch, bool]:
        """Begin a build unless one exists; the marker now in Redis, and whether we began it.

        Wipes the progress entries (the build they belonged to is gone), so
        every partition is read again from its beginning. With no target
        above zero there is nothing to read and the build is complete at once.
        """
        epoch_id = uuid.uuid4().hex
        fields = await self._begin(
            keys=self._epoch_keys(), args=[epoch_id, _now(), ",".join(topics), *_pairs(targets)]
        )
        pairs = iter(fields)
        epoch = _epoch_of(dict(zip(pairs, pairs, strict=True)))
        if epoch is None:  # the script always writes `id`
            raise RuntimeError("the epoch marker has no id after begin")
        return epoch, epoch.id == epoch_id

    async def record_progress(self, progress: ProgressUpdate) -> Progress:
        """Record progress with no records (partitions read to their end while rebuilding)."""
        _, answer = await self.apply_all([], progress)
        if answer is None:  # apply_all always answers when given progress
            raise RuntimeError("no progress answer")
        return answer

    async def progress(self, fields: Sequence[str]) -> dict[str, int]:
        """Recorded progress of the given partitions; absent ones are left out."""
        if not fields:
            return {}
        values = await self._redis.hmget(f"{self._ns}{_PROGRESS}", list(fields))
        return {f: int(v) for f, v in zip(fields, values, strict=True) if v is not None}

    # ---- reads ----------------------------------------------------------------

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

    async def get_account_mrr_json(self, account_id: str) -> bytes | None:
        """The stored `accounts.mrr` record of an account, exactly as published, or None."""
        raw = await self._redis.hget(self.account_mrr_key(account_id), "json")
        return None if raw is None else _as_bytes(raw)

    async def account_asset_ids(self, account_id: str) -> list[str]:
        """The account's asset ids, sorted."""
        members = await self._redis.smembers(self.account_key(account_id))
        return sorted(_as_bytes(m).decode("utf-8") for m in members)

    async def get_snapshots(self, asset_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Snapshots of the given assets in one round trip; missing ones are skipped."""
        if not asset_ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for asset_id in asset_ids:
                pipe.hget(self.asset_key(asset_id), "json")
            raws: list[bytes | None] = await pipe.execute()
        return [parse_snapshot(raw) for raw in raws if raw is not None]

    async def ping(self) -> bool:
        return bool(await self._redis.ping())


def _pairs(offsets: Mapping[str, int]) -> list[str | int]:
    """Flatten field → offset for a script's ARGV."""
    flat: list[str | int] = []
    for field_name, offset in offsets.items():
        flat += [field_name, offset]
    return flat
