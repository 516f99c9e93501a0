"""Account records in the faust `accounts` table: a head row, and one row per asset on the account.

| key | value |
|---|---|
| account id | head: position, version, as-of, existed, how many assets were seen |
| account id `\\x00` n | the n-th asset seen: id, version of its last change, contribution |
| account id `\\x01` asset id | n, written once, so a change finds its asset's row without a scan |

A change writes its asset's row and the head: a constant number of bytes
whatever the number of assets on the account. Loading an account reads every
row and rebuilds the book (`domain.accounts`), which then stays in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.accounts import AssetContribution, AssetVersions, build_book, contribution_of
from service.accounts import AccountRecord, empty_account
from streams.records import (
    ACCOUNT_INDEX_SEPARATOR,
    ENTRY_SEPARATOR,
    AccountHead,
    account_index_key,
    account_share_key,
    decode_account_head,
    decode_share,
    encode_account_head,
    encode_share,
)

CACHE_ACCOUNTS = 20_000


def is_account_head_key(key: bytes) -> bool:
    return ENTRY_SEPARATOR not in key and ACCOUNT_INDEX_SEPARATOR not in key


@dataclass(slots=True)
class _Cached:
    head: bytes
    record: AccountRecord
    seqs: dict[str, int] = field(default_factory=dict)  # asset id → its row number


class AccountStore:
    def __init__(self, table: Any) -> None:
        self.table = table
        self._cache: OrderedDict[bytes, _Cached] = OrderedDict()

    def load(self, key: bytes) -> AccountRecord:
        stored = self.table.get(key)
        if stored is None:
            self._cache.pop(key, None)
            return empty_account(key.decode())
        cached = self._cache.get(key)
        if cached is not None and cached.head == stored:
            self._cache.move_to_end(key)
            return cached.record
        cached = self._rebuild(key, stored)
        self._remember(key, cached)
        return cached.record

    def save(self, key: bytes, record: AccountRecord, changed_asset: str | None) -> list[
        tuple[bytes, bytes]
    ]:  # fmt: skip
        """The rows to write: the changed asset's (and its index row when new), then the head."""
        cached = self._cache.get(key)
        if cached is None:  # evicted since `load`: the row numbers come from the table
            stored = self.table.get(key)
            cached = self._rebuild(key, stored) if stored is not None else None
        seqs = cached.seqs if cached is not None else {}
        rows: list[tuple[bytes, bytes]] = []
        if changed_asset is not None:
            seq = seqs.get(changed_asset)
            if seq is None:
                seq = seqs[changed_asset] = len(seqs)
                rows.append((account_index_key(key, changed_asset), str(seq).encode()))
            version = record.versions.get(changed_asset) or 0
            contribution = contribution_of(record.book, changed_asset)
            rows.append((account_share_key(key, seq), encode_share(changed_asset, version,
                                                                   contribution)))  # fmt: skip
        head = encode_account_head(AccountHead(
            position=record.position, version=record.version,
            as_of=record.as_of.isoformat() if record.as_of else None, existed=record.existed,
            next_seq=len(seqs)))  # fmt: skip
        rows.append((key, head))
        self._remember(key, _Cached(head, record, seqs))
        return rows

    def cached(self, key: bytes) -> AccountRecord | None:
        entry = self._cache.get(key)
        return entry.record if entry is not None else None

    def _rebuild(self, key: bytes, stored: bytes) -> _Cached:
        head = decode_account_head(stored)
        seqs: dict[str, int] = {}
        versions = AssetVersions()
        shares: list[AssetContribution] = []
        for seq in range(head.next_seq):
            raw = self.table.get(account_share_key(key, seq))
            if raw is None:
                continue
            asset_id, version, contribution = decode_share(raw)
            seqs[asset_id] = seq
            versions = versions.with_version(asset_id, version)
            if contribution is not None:
                shares.append(contribution)
        record = AccountRecord(
            book=build_book(key.decode(), shares),
            versions=versions,
            version=head.version,
            as_of=date.fromisoformat(head.as_of) if head.as_of else None,
            position=tuple(head.position) if head.position else None,  # type: ignore[arg-type]
            existed=head.existed,
        )
        return _Cached(stored, record, seqs)

    def _remember(self, key: bytes, cached: _Cached) -> None:
        self._cache[key] = cached
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ACCOUNTS:
            self._cache.popitem(last=False)
