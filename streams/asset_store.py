"""Asset records in the faust table: a small head row per asset, one row per entry.

`load` returns the record from memory when the head row in the table is the
one this process last wrote (after a restart, a recovery or a rebalance the
table's copy wins and the record is rebuilt from its rows); `save` gives the
rows to write — the head and only the entry rows the command changed — so an
event at the end of a long history writes a constant number of bytes to the
changelog (the head, its entry) whatever the history's length. The caller
writes them (streams.changelog), in order, the head last.

The memory cache is bounded by an estimate of the bytes it holds (entries
dominate: each keeps its message's payload for a possible late dead letter).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from domain.ledger import restore
from domain.ledger_types import Entry
from service.assets import AssetRecord, empty_record
from streams.records import (
    decode_entry,
    decode_head,
    encode_entry,
    encode_head,
    entry_key,
    head_pending_since,
    head_published,
    head_recent,
    make_head,
)

CACHE_BYTES = 256 * 1024 * 1024
_ENTRY_OVERHEAD = 600  # bytes per entry besides its payload (objects, fold state)


@dataclass(slots=True)
class _Cached:
    head: bytes
    record: AssetRecord
    size: int


class AssetStore:
    """Reads and writes asset records in `table` (bytes keys and values)."""

    def __init__(self, table: Any, cache_bytes: int = CACHE_BYTES) -> None:
        self.table = table
        self._cache: OrderedDict[bytes, _Cached] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached_size = 0

    def load(self, key: bytes) -> AssetRecord:
        stored = self.table.get(key)
        if stored is None:
            self._forget(key)
            return empty_record(key.decode())
        cached = self._cache.get(key)
        if cached is not None and cached.head == stored:
            self._cache.move_to_end(key)
            return cached.record
        record = self._rebuild(key, stored)
        self._remember(key, stored, record)
        return record

    def save(
        self, key: bytes, record: AssetRecord, written: tuple[Entry, ...] | None
    ) -> list[tuple[bytes, bytes]]:
        """The rows to write: the entries in `written` (None: every entry), then the head.

        The memory cache takes the record now: the rows must be written before the next
        `load` of this key, which compares the table's head with the cached one.
        """
        ledger = record.ledger
        entries = ledger.entries if written is None else written
        rows = [(entry_key(key, entry.seq), encode_entry(entry)) for entry in entries]
        head = encode_head(make_head(
            position=record.position, next_seq=ledger.next_seq, version=ledger.version,
            published=ledger.published, updated_by=ledger.updated_by_event_id,
            pending_since=ledger.pending_since, revoked=ledger.revoked, recent=record.recent,
            account=record.account, left=record.left,
        ))  # fmt: skip
        rows.append((key, head))
        self._remember(key, head, record, None if written is None else _payload_bytes(written))
        return rows

    def cached(self, key: bytes) -> AssetRecord | None:
        entry = self._cache.get(key)
        return entry.record if entry is not None else None

    def _rebuild(self, key: bytes, stored: bytes) -> AssetRecord:
        head = decode_head(stored)
        entries = []
        for seq in range(head.next_seq):
            raw = self.table.get(entry_key(key, seq))
            if raw is not None:
                entries.append(decode_entry(raw))
        ledger = restore(
            key.decode(),
            tuple(entries),
            pending_since=head_pending_since(head),
            revoked=tuple((event_id, fingerprint) for event_id, fingerprint in head.revoked),
            version=head.version,
            published=head_published(head),
            updated_by_event_id=head.updated_by,
        )
        position = tuple(head.position) if head.position is not None else None
        return AssetRecord(ledger, position, head_recent(head), head.account,  # type: ignore[arg-type]
                           head.left)  # fmt: skip

    def _remember(
        self, key: bytes, head: bytes, record: AssetRecord, added: int | None = None
    ) -> None:
        """Cache `record`; `added`: bytes its last command added (None: measure it all)."""
        previous = self._cache.pop(key, None)
        if previous is not None:
            self._cached_size -= previous.size
        if previous is None or added is None:
            size = _payload_bytes(record.ledger.entries)
        else:
            size = previous.size + added  # entries only grow; re-measured on a reload
        self._cache[key] = _Cached(head, record, size)
        self._cached_size += size
        while self._cached_size > self._cache_bytes and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            self._cached_size -= evicted.size

    def _forget(self, key: bytes) -> None:
        previous = self._cache.pop(key, None)
        if previous is not None:
            self._cached_size -= previous.size


def _payload_bytes(entries: tuple[Entry, ...]) -> int:
    payloads = sum(len(e.delivery.source.payload) for e in entries if e.delivery.source)
    return payloads + _ENTRY_OVERHEAD * (len(entries) + 1)
