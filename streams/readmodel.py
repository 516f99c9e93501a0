"""Redis read model: key layout, versioned writes, the rebuild marker, reads.

Layout 2 (every key starts with the namespace, `{ASSETSTREAM_TOPIC_PREFIX}assetstream:`,
so several runs can share one Redis as they share one broker):

- `{ns}asset:{asset_id}` — a hash: `version`, `as_of`, `account_id`, `json`
  (the snapshot exactly as published, so money strings are never re-encoded)
  and `summary` (the few fields an account's asset list shows, `asset_summary`).
- `{ns}account-assets:{account_id}` — a sorted set of the account's asset ids
  (all scores 0, so ordered by id): the account's index, read a page at a time.
- `{ns}account-mrr:{account_id}` — a hash: `version`, `as_of`, `json` (the
  `accounts.mrr` record, SPEC §10).
- `{ns}epoch` — the marker: `id` (random, one per build of the read model),
  `layout` (`LAYOUT`), `state` (`rebuilding` or `complete`), `started_at`,
  `completed_at`, `topics` (the topics in the build).
- `{ns}epoch:progress` — `{topic}:{partition}` → the offset below which every
  record of that partition is in Redis (where a projection resumes).
- `{ns}epoch:targets` — `{topic}:{partition}` → the end offset when the build
  (or the topic's part of it) began; the build is complete once every
  progress entry reaches its target.

Redis is a cache of compacted topics. A Redis that lost its data loses the
marker with it, which is how the projection notices and rebuilds from the
beginning of the topics (`streams.sinks.redis_projection`). A marker of
another layout counts as missing too: the build is redone, and an asset hash
written by layout 1 (it has no `summary`) is overwritten whatever its version,
so the new index is filled in. The progress entries are written in the same
pipeline as the records, after them, so a Redis that kept only part of its
writes (an fsync window) never claims more than it holds.

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

# The key layout this code reads and writes; a marker of another layout means "rebuild".
LAYOUT: Final = "2"

# Returns 1 when written, 0 when the stored copy is as new or newer.
# A copy is newer when its version is higher, or the version is equal and its
# `as_of` is later: a republish at a date boundary (a term ends) may keep the
# version but changes status and current fields. ISO dates compare as strings.
# A hash without `summary` was written by layout 1: it is overwritten, and
# the layout-1 set of its account (no longer read) is dropped.
# KEYS: asset hash, the account's index. ARGV: version, as_of, account_id,
# json, summary, index prefix, layout-1 set prefix, layout-1 set suffix, asset_id.
_PUT_ASSET_SCRIPT: Final = """
local stored_version = redis.call('HGET', KEYS[1], 'version')
if stored_version then
  local old_account = redis.call('HGET', KEYS[1], 'account_id')
  if redis.call('HEXISTS', KEYS[1], 'summary') == 1 then
    local version = tonumber(ARGV[1])
    stored_version = tonumber(stored_version)
    if version < stored_version then return 0 end
    if version == stored_version then
      local stored_as_of = redis.call('HGET', KEYS[1], 'as_of') or ''
      if ARGV[2] <= stored_as_of then return 0 end
    end
    if old_account and old_account ~= ARGV[3] then
      redis.call('ZREM', ARGV[6] .. old_account, ARGV[9])
    end
  elseif old_account then
    redis.call('DEL', ARGV[7] .. old_account .. ARGV[8])
  end
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'as_of', ARGV[2],
           'account_id', ARGV[3], 'json', ARGV[4], 'summary', ARGV[5])
redis.call('ZADD', KEYS[2], 0, ARGV[9])
return 1
"""

# A tombstone on the compacted topic removes the asset and its index entry.
# ARGV: index prefix, asset_id.
_DELETE_ASSET_SCRIPT: Final = """
local account = redis.call('HGET', KEYS[1], 'account_id')
if account then
  redis.call('ZREM', ARGV[1] .. account, ARGV[2])
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

# Begins a build unless one of this layout exists: wipes the progress of the
# build that was lost, records the targets, and answers the marker now in
# Redis (ours, or that of a projection that began first). Nothing to read
# means complete. ARGV: id, now, topics, layout, then target field/offset pairs.
_BEGIN_EPOCH_SCRIPT: Final = """
if redis.call('HGET', KEYS[1], 'layout') == ARGV[4] then
  return redis.call('HGETALL', KEYS[1])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local state = 'complete'
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  if tonumber(ARGV[i + 1]) > 0 then state = 'rebuilding' end
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', state, 'started_at', ARGV[2],
           'topics', ARGV[3], 'layout', ARGV[4])
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

# A topic that appeared after the build began (accounts.mrr, created by a
# newer worker) joins it: listed in `topics`, its partitions' end offsets as
# targets, and the build is not complete until they are read. Once per topic
# and build: a second projection of the group finds it listed. -1 when the
# marker is not the caller's, else 0 rebuilding / 1 complete.
# ARGV: id, topic, then target field/offset pairs.
_JOIN_TOPIC_SCRIPT: Final = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
local topics = redis.call('HGET', KEYS[1], 'topics') or ''
local listed = false
for name in string.gmatch(topics, '[^,]+') do
  if name == ARGV[2] then listed = true end
end
if not listed then
  if topics == '' then topics = ARGV[2] else topics = topics .. ',' .. ARGV[2] end
  redis.call('HSET', KEYS[1], 'topics', topics)
  local behind = false
  for i = 3, #ARGV, 2 do
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
    if tonumber(ARGV[i + 1]) > tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0') then
      behind = true
    end
  end
  if behind then
    redis.call('HSET', KEYS[1], 'state', 'rebuilding')
    redis.call('HDEL', KEYS[1], 'completed_at')
  end
end
if redis.call('HGET', KEYS[1], 'state') == 'complete' then return 1 end
return 0
"""

# One page of an account's index with each asset's summary, read atomically.
# Answers the index's size, the page's summaries as one JSON array (one reply
# to parse, not two per asset), and the last id on the page when a next page
# exists (false on the last page). ARGV: lower bound ('-' or '(' .. last id
# seen), limit, asset key prefix.
_ASSET_PAGE_SCRIPT: Final = """
local limit = tonumber(ARGV[2])
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, limit + 1)
local shown = math.min(#ids, limit)
local parts = {}
for i = 1, shown do
  local summary = redis.call('HGET', ARGV[3] .. ids[i], 'summary')
  if summary then parts[#parts + 1] = summary end
end
local next_after = false
if #ids > limit then next_after = ids[shown] end
return {redis.call('ZCARD', KEYS[1]), '[' .. table.concat(parts, ',') .. ']', next_after}
"""

_ASSET_PREFIX: Final = "asset:"
_ACCOUNT_INDEX_PREFIX: Final = "account-assets:"
# Layout 1's account sets, dropped when their assets are rewritten.
_LAYOUT1_ACCOUNT_PREFIX: Final = "account:"
_LAYOUT1_ACCOUNT_SUFFIX: Final = ":assets"
_ACCOUNT_MRR_PREFIX: Final = "account-mrr:"
_EPOCH: Final = "epoch"
_PROGRESS: Final = "epoch:progress"
_TARGETS: Final = "epoch:targets"

# What `asset_summary` keeps of a snapshot: enough for a row of the account's
# list and for its state on any date (`streams.web.state.state_at`).
SUMMARY_FIELDS: Final = (
    "asset_id",
    "product_code",
    "product_name",
    "currency",
    "status",
    "current_quantity",
    "current_mrr",
    "lifecycle_start_date",
    "lifecycle_end_date",
    "version",
    "as_of",
    "ended_by",
    "auto_renew",
    "next_renewal_date",
)
_SUMMARY_PERIOD_FIELDS: Final = ("start_date", "end_date", "quantity", "mrr", "amount")


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
    MISSING = "missing"  # no marker of this layout: never built, or Redis lost its data


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
    layout: str | None = LAYOUT


@dataclass(frozen=True, slots=True)
class Put:
    """A valid record to store unless a newer one is stored; made by `prepare` (one parse)."""

    kind: RecordKind
    raw: bytes
    key: str  # asset_id or account_id
    version: int
    as_of: str
    account_id: str
    summary: str | None = None  # asset snapshots: the JSON of `asset_summary`


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


@dataclass(frozen=True, slots=True)
class AssetPage:
    """One page of an account's assets, in asset id order."""

    summaries: tuple[dict[str, Any], ...]
    count: int  # assets on the account in all
    next_after: str | None  # the `after` of the next page; None on the last one


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


def _as_bytes(value: bytes | str) -> bytes:
    # The client is built without decode_responses, so Redis answers bytes;
    # a client that decodes is accepted too.
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _as_text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _json_text(value: Any) -> str:
    # A Decimal (a producer that wrote a JSON number) keeps its digits.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def asset_summary(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `SUMMARY_FIELDS` and the state periods: what an asset list needs.

    Small whatever the asset's history (no actions, no pending events), so a
    page of an account's assets costs the same for an asset with 3 actions or
    3,000. Fields a record lacks (older snapshots have no `ended_by`) are left out,
    as in the snapshot, so readers tell "not published" from "null".
    """
    summary = {name: snapshot[name] for name in SUMMARY_FIELDS if name in snapshot}
    periods = snapshot.get("state_periods")
    summary["state_periods"] = [
        {name: period.get(name) for name in _SUMMARY_PERIOD_FIELDS}
        for period in (periods if isinstance(periods, list) else [])
        if isinstance(period, dict)
    ]
    return summary


def prepare(raw: bytes | str, kind: RecordKind = RecordKind.ASSET_SNAPSHOT) -> Put:
    """Parse and check a record once, for `ReadModel.apply_all`; raises SnapshotFormatError.

    (A JSON syntax error is a ValueError too.)
    """
    text = _as_text(raw)
    record = parse_snapshot(text)
    version, as_of = _version_and_as_of(record)
    account_id = _non_empty(record, "account_id")
    if kind is RecordKind.ACCOUNT_MRR:
        return Put(kind, _as_bytes(raw), account_id, version, as_of, account_id)
    asset_id = _non_empty(record, "asset_id")
    summary = _json_text(asset_summary(record))
    return Put(kind, _as_bytes(raw), asset_id, version, as_of, account_id, summary)


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
        values["id"],
        state,
        values.get("started_at", ""),
        values.get("completed_at"),
        topics,
        values.get("layout"),
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
        self._join = redis.register_script(_JOIN_TOPIC_SCRIPT)
        self._asset_page = redis.register_script(_ASSET_PAGE_SCRIPT)

    @property
    def redis(self) -> Redis:
        return self._redis

    def asset_key(self, asset_id: str) -> str:
        return f"{self._ns}{_ASSET_PREFIX}{asset_id}"

    def account_index_key(self, account_id: str) -> str:
        return f"{self._ns}{_ACCOUNT_INDEX_PREFIX}{account_id}"

    def account_mrr_key(self, account_id: str) -> str:
        return f"{self._ns}{_ACCOUNT_MRR_PREFIX}{account_id}"

    @property
    def epoch_key(self) -> str:
        return f"{self._ns}{_EPOCH}"

    def _epoch_keys(self) -> list[str]:
        return [self.epoch_key, f"{self._ns}{_PROGRESS}", f"{self._ns}{_TARGETS}"]

    # ---- writes ---------------------------------------------------------------

    async def _queue(self, change: Change, client: Any) -> Any:
        """Send (or, on a pipeline, queue) one change."""
        index_prefix = f"{self._ns}{_ACCOUNT_INDEX_PREFIX}"
        if isinstance(change, Delete):
            if change.kind is RecordKind.ASSET_SNAPSHOT:
                return await self._delete_asset(
                    keys=[self.asset_key(change.key)],
                    args=[index_prefix, change.key],
                    client=client,
                )
            return await client.delete(self.account_mrr_key(change.key))
        if change.kind is RecordKind.ACCOUNT_MRR:
            return await self._put_record(
                keys=[self.account_mrr_key(change.key)],
                args=[change.version, change.as_of, change.raw],
                client=client,
            )
        return await self._put_asset(
            keys=[self.asset_key(change.key), self.account_index_key(change.account_id)],
            args=[
                change.version,
                change.as_of,
                change.account_id,
                change.raw,
                change.summary or "{}",
                index_prefix,
                f"{self._ns}{_LAYOUT1_ACCOUNT_PREFIX}",
                _LAYOUT1_ACCOUNT_SUFFIX,
                change.key,
            ],
            client=client,
        )

    async def put_snapshot(self, raw: bytes | str) -> bool:
        """Store a published snapshot unless a newer one is stored; True if written.

        Raises SnapshotFormatError for a record that is not a snapshot, and
        redis errors (ConnectionError, TimeoutError) when Redis is unreachable.
        """
        return bool(await self._queue(prepare(raw), self._redis))

    async def put_account_record(self, raw: bytes | str) -> bool:
        """Store an `accounts.mrr` record unless a newer one is stored; True if written."""
        return bool(await self._queue(prepare(raw, RecordKind.ACCOUNT_MRR), self._redis))

    async def delete_asset(self, asset_id: str) -> bool:
        """Remove an asset (a tombstone on the compacted topic); True if it existed."""
        return bool(await self._queue(Delete(RecordKind.ASSET_SNAPSHOT, asset_id), self._redis))

    async def apply_all(
        self, changes: Sequence[Change], progress: ProgressUpdate | None = None
    ) -> tuple[list[bool], Progress | None]:
        """Apply puts and deletes in order, then record `progress`, in one round trip.

        Answers True where a change changed something, and the progress answer
        (None when no progress was given). Every put is already valid (made
        by `prepare`): a pipeline cannot skip one bad record. Each script call
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
        """The marker of the current build, or None when Redis has none of this layout."""
        epoch = _epoch_of(await self._redis.hgetall(self.epoch_key))
        return epoch if epoch is not None and epoch.layout == LAYOUT else None

    async def state(self) -> ReadModelState:
        raw_state, raw_layout = await self._redis.hmget(self.epoch_key, ["state", "layout"])
        if raw_state is None or raw_layout is None or _as_text(raw_layout) != LAYOUT:
            return ReadModelState.MISSING
        try:
            return ReadModelState(_as_text(raw_state))
        except ValueError:
            return ReadModelState.REBUILDING

    async def begin_epoch(
        self, *, targets: Mapping[str, int], topics: Sequence[str] = ()
    ) -> tuple[Epoch, bool]:
        """Begin a build unless one of this layout exists; the marker, and whether we began it.

        Wipes the progress entries (the build they belonged to is gone), so
        every partition is read again from its beginning. With no target
        above zero there is nothing to read and the build is complete at once.
        """
        epoch_id = uuid.uuid4().hex
        fields = await self._begin(
            keys=self._epoch_keys(),
            args=[epoch_id, _now(), ",".join(topics), LAYOUT, *_pairs(targets)],
        )
        pairs = iter(fields)
        epoch = _epoch_of(dict(zip(pairs, pairs, strict=True)))
        if epoch is None:  # the script always writes `id`
            raise RuntimeError("the epoch marker has no id after begin")
        return epoch, epoch.id == epoch_id

    async def join_topic(self, epoch_id: str, topic: str, targets: Mapping[str, int]) -> Progress:
        """Add a topic that appeared after the build began; LOST if the build is not ours.

        Its partitions' end offsets become targets, so the build is complete
        again only once they are read (REBUILDING until then).
        """
        code = await self._join(keys=self._epoch_keys(), args=[epoch_id, topic, *_pairs(targets)])
        return _PROGRESS_CODES[int(code)]

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

    async def get_account_mrr_json(self, account_id: str) -> bytes | None:
        """The stored `accounts.mrr` record of an account, exactly as published, or None."""
        raw = await self._redis.hget(self.account_mrr_key(account_id), "json")
        return None if raw is None else _as_bytes(raw)

    async def account_assets(
        self, account_id: str, *, after: str | None = None, limit: int = 100
    ) -> AssetPage:
        """Up to `limit` of the account's assets after `after` (by id), with their summaries.

        One round trip and O(log n + limit) in Redis, whatever the account's
        size; nothing of the assets but their summaries is read.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        lower = "-" if after is None else f"({after}"
        count, summaries, next_after = await self._asset_page(
            keys=[self.account_index_key(account_id)],
            args=[lower, limit, f"{self._ns}{_ASSET_PREFIX}"],
        )
        parsed = json.loads(summaries, parse_float=Decimal)
        return AssetPage(
            tuple(parsed), int(count), None if next_after is None else _as_text(next_after)
        )

    async def account_asset_ids(self, account_id: str) -> list[str]:
        """Every asset id of the account, sorted (for tests and tools; pages are for readers)."""
        members = await self._redis.zrange(self.account_index_key(account_id), 0, -1)
        return [_as_text(m) for m in members if isinstance(m, bytes | str)]

    async def ping(self) -> bool:
        return bool(await self._redis.ping())


def _pairs(offsets: Mapping[str, int]) -> list[str | int]:
    """Flatten field → offset for a script's ARGV."""
    flat: list[str | int] = []
    for field_name, offset in offsets.items():
        flat += [field_name, offset]
    return flat
