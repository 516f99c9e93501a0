"""The one codec of internal records: commands on internal topics and rows in the tables.

JSON (msgspec), so an operator can read any internal topic or changelog with
`assetstream inspect` or kcat. Every record is a JSON array whose first item is a
stable tag — `"deliver/1"`, `"entry/1"`, … — written here and never derived from
a class name, so renaming a class cannot break changelog recovery. The `/N` is
the format version of that record: a new field means a new version, decoded
beside the old one (`_DECODERS` keeps every version ever written); writers
always write the newest. A test holds each event's field list to its dataclass,
so adding a field without a new version fails. Retired versions are decoded by
`_LEGACY_EVENTS` into today's classes (`created/1` lacked the auto-renewal
fields, `transfer-in/1` spelled the target's terms out field by field).

The JSON layer, measured (`benchmarks/codec_bench.py`, a batch of 10 deliveries):
msgspec and orjson are within 1.6× of each other (encode 5.3 vs 3.3 µs, decode 13.7 vs
11.4 µs; orjson ahead), the standard library is 1.4–7.5× slower. Either is under 1 % of
an event's path (≈ 600 µs), so the codec stays msgspec; JSON keeps the internal topics
readable with any Kafka tool.

Stored asset state (SPEC §6, issue 8): per asset a small head row under the
asset id and one row per entry under `asset id + "\\x00" + seq` (see
`entry_key`); an event writes its entry and the head, whatever the history's
length. The first release's format — one JSON document per asset (written by a
state codec since removed) — is not read: `decode_head` refuses it with a message
saying how to migrate (rebuild the state by replaying the input topics under a
new `ASSETSTREAM_TOPIC_PREFIX`; docs/state.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from fractions import Fraction
from typing import Any

import msgspec

from domain.accounts import (
    AssetContribution,
    MrrSpan,
    contribution_checking_from,
    shared_prefix,
)
from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetEvent,
    AssetRenewed,
    AssetRepriced,
    AssetSwapped,
    AssetTerms,
    AssetTransferred,
    Category,
    EventVoided,
    Movement,
    Period,
    QuantityChanged,
    TargetRefusal,
    Tranche,
    TransferReceived,
)
from domain.ledger import Entry, EntryStatus, PendingClock, PublishedHead
from domain.ledger_types import Delivery, Source
from domain.reasons import ReasonCode
from service.assets import Position, RecentCommand
from service.messages import (
    AccountChange,
    AccountTick,
    Claim,
    Command,
    Deliver,
    Revoke,
    TargetRefused,
    Tick,
)

_encode = msgspec.json.encode
_decode = msgspec.json.decode


class RecordError(ValueError):
    """Bytes that are not a record this codec wrote (or a format it no longer reads)."""


# --- scalar kinds ---------------------------------------------------------------------------


def _fraction(value: Fraction) -> str:
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def _to_fraction(text: str) -> Fraction:
    numerator, _, denominator = text.partition("/")
    return Fraction(int(numerator), int(denominator) if denominator else 1)


def _periods(periods: tuple[Period, ...]) -> list[Any]:
    return [
        [p.start.isoformat(), p.end.isoformat(),
         [[_fraction(t.quantity), _fraction(t.unit_price)] for t in p.tranches]]
        for p in periods
    ]  # fmt: skip


def _to_periods(items: list[Any]) -> tuple[Period, ...]:
    return tuple(
        Period.of(date.fromisoformat(start), date.fromisoformat(end),
                  tuple(Tranche(_to_fraction(q), _to_fraction(p)) for q, p in tranches))
        for start, end, tranches in items
    )  # fmt: skip


def _terms(terms: AssetTerms) -> list[Any]:
    return [terms.account_id, terms.currency, terms.product_code, terms.product_name,
            terms.price_term_months, terms.renewal_term_months, terms.billing_anchor.isoformat(),
            terms.lifecycle_start.isoformat(), terms.auto_renew,
            _fraction(terms.renewal_uplift_percent)]  # fmt: skip


def _to_terms(item: list[Any]) -> AssetTerms:
    (account, currency, code, name, price_term, renewal_term, anchor, start, auto_renew,
     uplift) = item  # fmt: skip
    return AssetTerms(account, currency, code, name, price_term, renewal_term,
                      date.fromisoformat(anchor), date.fromisoformat(start), auto_renew,
                      _to_fraction(uplift))  # fmt: skip


def _opt(encode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else encode(v)


_KINDS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "str": (lambda v: v, lambda v: v),
    "int": (lambda v: v, lambda v: v),
    "bool": (lambda v: v, lambda v: v),
    "movement": (lambda v: v.value, Movement),
    "terms": (_terms, _to_terms),
    "date": (date.isoformat, date.fromisoformat),
    "time": (datetime.isoformat, datetime.fromisoformat),
    "fraction": (_fraction, _to_fraction),
    "category": (lambda v: v.value, Category),
    "periods": (_periods, _to_periods),
}
for _name in list(_KINDS):
    _encoder, _decoder = _KINDS[_name]
    _KINDS[_name + "?"] = (_opt(_encoder), _opt(_decoder))


# --- events: tag, class, fields in dataclass order ---------------------------------------------

EVENT_FIELDS: dict[str, tuple[type, tuple[tuple[str, str], ...]]] = {
    "created/2": (AssetCreated, (
        ("event_id", "str"), ("line_id", "str"), ("asset_id", "str"), ("time", "time"),
        ("order_id", "str"), ("account_id", "str"), ("currency", "str"),
        ("product_code", "str"), ("product_name", "str?"), ("quantity", "fraction"),
        ("unit_price", "fraction"), ("price_term_months", "int"), ("start_date", "date"),
        ("end_date", "date"), ("renewal_term_months", "int?"), ("category", "category"),
        ("auto_renew", "bool"), ("renewal_uplift_percent", "fraction"))),
    "quantity/1": (QuantityChanged, (
        ("event_id", "str"), ("asset_id", "str"), ("time", "time"), ("effective_date", "date"),
        ("quantity_change", "fraction"), ("unit_price", "fraction?"), ("order_id", "str?"))),
    "renewed/1": (AssetRenewed, (
        ("event_id", "str"), ("asset_id", "str"), ("time", "time"), ("start_date", "date"),
        ("end_date", "date?"), ("unit_price", "fraction?"), ("uplift_percent", "fraction?"),
        ("order_id", "str?"))),
    "cancelled/1": (AssetCancelled, (
        ("event_id", "str"), ("asset_id", "str"), ("time", "time"), ("effective_date", "date"),
        ("order_id", "str?"))),
    "transferred/1": (AssetTransferred, (
        ("event_id", "str"), ("asset_id", "str"), ("time", "time"), ("effective_date", "date"),
        ("quantity", "fraction"), ("target_account_id", "str"), ("target_asset_id", "str"),
        ("order_id", "str?"))),
    "repriced/1": (AssetRepriced, (
        ("event_id", "str"), ("asset_id", "str"), ("time", "time"), ("effective_date", "date"),
        ("unit_price", "fraction?"), ("uplift_percent", "fraction?"), ("order_id", "str?"))),
    "swapped/1": (AssetSwapped, (
        ("event_id", "str"), ("asset_id", "str"), ("time", "time"), ("effective_date", "date"),
        ("quantity", "fraction"), ("kind", "movement"), ("product_code", "str"),
        ("product_name", "str?"), ("unit_price", "fraction"), ("target_asset_id", "str"),
        ("order_id", "str?"))),
    "voided/1": (EventVoided, (
        ("event_id", "str"), ("asset_id", "str"), ("time", "time"),
        ("voided_event_id", "str"), ("reason", "str?"), ("order_id", "str?"))),
    "transfer-in/2": (TransferReceived, (
        ("event_id", "str"), ("asset_id", "str"), ("source_asset_id", "str"), ("time", "time"),
        ("effective_date", "date"), ("terms", "terms"), ("periods", "periods"),
        ("source_revision", "int"), ("order_id", "str?"), ("kind", "movement"))),
    "refusal/1": (TargetRefusal, (
        ("event_id", "str"), ("asset_id", "str"), ("target_asset_id", "str"),
        ("refused", "bool"), ("revision", "int"), ("reason", "str"))),
}  # fmt: skip


def _created_v1(item: list[Any]) -> AssetEvent:
    """`created/1`: an order line before auto-renewal existed (it did not renew itself)."""
    _, decoders = _EVENT_DECODERS["created/2"]
    return AssetCreated(*(decode(v) for decode, v in zip(decoders[:16], item[1:], strict=True)))


def _transfer_in_v1(item: list[Any]) -> AssetEvent:
    """`transfer-in/1`: a transfer target with its terms spelled out field by field."""
    (_, event_id, asset_id, source, time, effective, account, currency, code, name, price_term,
     renewal_term, anchor, periods, revision, order_id) = item  # fmt: skip
    start = date.fromisoformat(effective)
    terms = AssetTerms(account, currency, code, name, price_term, renewal_term,
                       date.fromisoformat(anchor), start)  # fmt: skip
    return TransferReceived(event_id, asset_id, source, datetime.fromisoformat(time), start,
                            terms, _to_periods(periods), revision, order_id)  # fmt: skip


# Versions no longer written, decoded into today's classes (changelogs keep them for ever).
_LEGACY_EVENTS: dict[str, Callable[[list[Any]], AssetEvent]] = {
    "created/1": _created_v1,
    "transfer-in/1": _transfer_in_v1,
}

_EVENT_TAGS = {cls: tag for tag, (cls, _) in EVENT_FIELDS.items()}
_EVENT_ENCODERS = {
    cls: [(name, _KINDS[kind][0]) for name, kind in fields] for cls, fields in EVENT_FIELDS.values()
}
_EVENT_DECODERS = {
    tag: (cls, [_KINDS[kind][1] for _, kind in fields])
    for tag, (cls, fields) in EVENT_FIELDS.items()
}


def event_to_list(event: AssetEvent) -> list[Any]:
    encoders = _EVENT_ENCODERS[type(event)]
    return [_EVENT_TAGS[type(event)], *(encode(getattr(event, name)) for name, encode in encoders)]


def event_from_list(item: list[Any]) -> AssetEvent:
    legacy = _LEGACY_EVENTS.get(item[0])
    if legacy is not None:
        return legacy(item)
    cls, decoders = _EVENT_DECODERS[item[0]]
    event: AssetEvent = cls(*(decode(v) for decode, v in zip(decoders, item[1:], strict=True)))
    return event


def _source(source: Source | None) -> list[Any] | None:
    if source is None:
        return None
    return [source.topic, source.partition, source.offset, source.key, source.payload,
            source.payload_encoding]  # fmt: skip


def _to_source(item: list[Any] | None) -> Source | None:
    return None if item is None else Source(*item)


def _delivery(d: Delivery) -> list[Any]:
    return [event_to_list(d.event), d.fingerprint, _source(d.source), d.received_at.isoformat()]


def _to_delivery(item: list[Any]) -> Delivery:
    event, fingerprint, source, received = item
    return Delivery(event_from_list(event), fingerprint, _to_source(source),
                    datetime.fromisoformat(received))  # fmt: skip


# --- commands (internal topics) -------------------------------------------------------------


def command_to_list(command: Command) -> list[Any]:
    if isinstance(command, Deliver):
        return ["deliver/1", _delivery(command.delivery)]
    if isinstance(command, Revoke):
        return ["revoke/1", command.asset_id, command.event_id, command.fingerprint]
    if isinstance(command, Tick):
        return ["tick/1", command.asset_id]
    if isinstance(command, TargetRefused):
        return ["refused/1", event_to_list(command.refusal)]
    if isinstance(command, AccountChange):
        return ["account-change/1", command.account_id, command.asset_id, command.version,
                contribution_to_list(command.contribution, _COMMAND_SPANS)]  # fmt: skip
    if isinstance(command, AccountTick):
        return ["account-tick/1", command.account_id]
    return ["claim/1", command.event_id, command.fingerprint, list(command.asset_ids),
            _source(command.source), command.received_at.isoformat()]  # fmt: skip


def command_from_list(item: list[Any]) -> Command:
    tag = item[0]
    if tag == "deliver/1":
        return Deliver(_to_delivery(item[1]))
    if tag == "revoke/1":
        return Revoke(item[1], item[2], item[3])
    if tag == "tick/1":
        return Tick(item[1])
    if tag == "refused/1":
        refusal = event_from_list(item[1])
        if not isinstance(refusal, TargetRefusal):
            raise RecordError(f"a refused/1 command holds a {type(refusal).__name__}")
        return TargetRefused(refusal)
    if tag == "account-change/1":
        return AccountChange(item[1], item[2], item[3], contribution_from_list(item[4]))
    if tag == "account-tick/1":
        return AccountTick(item[1])
    if tag == "claim/1":
        source = _to_source(item[4])
        if source is None:
            raise RecordError("a claim without its source")
        return Claim(item[1], item[2], tuple(item[3]), source, datetime.fromisoformat(item[5]))
    raise RecordError(f"unknown command tag {tag!r}")


def contribution_to_list(
    contribution: AssetContribution | None, spans_cache: _SpanRows | None = None
) -> list[Any] | None:
    """The contribution's list; with a `spans_cache` the spans come as the bytes they encode
    to (`msgspec.Raw`), encoded again only where they changed since the asset's last call."""
    if contribution is None:
        return None
    spans: Any = (
        [_span_to_list(s) for s in contribution.spans]
        if spans_cache is None
        else spans_cache.encoded(contribution.asset_id, contribution.spans)
    )
    return [contribution.asset_id, contribution.account_id, contribution.currency,
            contribution.active, spans]  # fmt: skip


def _span_to_list(span: MrrSpan) -> list[Any]:
    return [span.start.isoformat(), span.end.isoformat() if span.end else None, _fraction(span.mrr)]


class _SpanRows:
    """Per asset, its spans last encoded and the bytes of each: a change re-encodes only the
    spans that are not the very same objects as last time (spans are immutable values).
    The bytes are what `_encode` writes for the list of spans: the record is unchanged."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._cache: dict[str, tuple[tuple[MrrSpan, ...], list[bytes], msgspec.Raw]] = {}

    def encoded(self, asset_id: str, spans: tuple[MrrSpan, ...]) -> msgspec.Raw:
        cached = self._cache.pop(asset_id, None)
        if cached is not None and cached[0] is spans:
            raw = cached[2]
            parts = cached[1]
        else:
            reused = 0
            if cached is not None:
                reused = shared_prefix(cached[0], spans)
            parts = cached[1][:reused] if cached is not None else []
            parts += [_encode(_span_to_list(s)) for s in spans[reused:]]
            raw = msgspec.Raw(b"[" + b",".join(parts) + b"]")
        self._cache[asset_id] = (spans, parts, raw)
        if len(self._cache) > self._limit:
            del self._cache[next(iter(self._cache))]  # the least recently used
        return raw


# One per kind of sender: the fold's changes and the account rows hold different span objects.
SPAN_ROWS_CACHE = 5_000
_COMMAND_SPANS = _SpanRows(SPAN_ROWS_CACHE)
_SHARE_SPANS = _SpanRows(SPAN_ROWS_CACHE)


def contribution_from_list(item: list[Any] | None) -> AssetContribution | None:
    if item is None:
        return None
    asset_id, account_id, currency, active, spans = item
    return _DECODED_SPANS.decoded(asset_id, account_id, currency, active, spans)


class _DecodedSpans:
    """Per asset, the spans it last decoded to: the leading ones whose encoded form is the
    same as last time are the very same (checked) `MrrSpan`s, so a change parses and checks
    only its new spans, and the account's `apply` and row encoding find the rest shared."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._cache: dict[str, tuple[str, list[Any], tuple[MrrSpan, ...]]] = {}

    def decoded(self, asset_id: str, account_id: str, currency: str, active: bool,
                items: list[Any]) -> AssetContribution:  # fmt: skip
        cached = self._cache.pop(asset_id, None)
        reused = 0
        if cached is not None and cached[0] == currency:
            reused = shared_prefix(cached[1], items)
        spans = (cached[2][:reused] if cached is not None else ()) + tuple(
            MrrSpan(date.fromisoformat(start), date.fromisoformat(end) if end else None,
                    _to_fraction(mrr)) for start, end, mrr in items[reused:])  # fmt: skip
        contribution = contribution_checking_from(asset_id, account_id, currency, spans,
                                                  active, reused)  # fmt: skip
        self._cache[asset_id] = (currency, list(items), spans)  # once checked
        if len(self._cache) > self._limit:
            del self._cache[next(iter(self._cache))]  # the least recently used
        return contribution


_DECODED_SPANS = _DecodedSpans(SPAN_ROWS_CACHE)


def encode_commands(commands: list[Command]) -> bytes:
    """One internal message: a JSON array of commands (a batch for one partition)."""
    return _encode([command_to_list(c) for c in commands])


def encode_encoded(items: list[bytes]) -> bytes:
    """A batch from commands already encoded one by one (`encode_command`)."""
    return b"[" + b",".join(items) + b"]"


def encode_command(command: Command) -> bytes:
    return _encode(command_to_list(command))


def decode_commands(raw: bytes) -> list[Command]:
    try:
        items = _decode(raw)
        if not isinstance(items, list):
            raise RecordError("an internal message must be a JSON array of commands")
        return [command_from_list(item) for item in items]
    except RecordError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, msgspec.DecodeError) as exc:
        raise RecordError(f"malformed internal message: {exc}") from exc


# --- rows (tables) --------------------------------------------------------------------------

ENTRY_SEPARATOR = b"\x00"


def entry_key(asset_key: bytes, seq: int) -> bytes:
    """An entry row's key: the asset id, a NUL (never in an id), the sequence number."""
    return asset_key + ENTRY_SEPARATOR + str(seq).encode()


def is_head_key(key: bytes) -> bool:
    return ENTRY_SEPARATOR not in key


def encode_entry(entry: Entry) -> bytes:
    return _encode(["entry/1", entry.seq, entry.status.value, _delivery(entry.delivery)])


def decode_entry(raw: bytes) -> Entry:
    try:
        tag, seq, status, delivery = _decode(raw)
        if tag != "entry/1":
            raise RecordError(f"unknown entry tag {tag!r}")
        return Entry(seq, _to_delivery(delivery), EntryStatus(status))
    except RecordError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, msgspec.DecodeError) as exc:
        raise RecordError(f"malformed entry row: {exc}") from exc


class Head(msgspec.Struct, frozen=True, kw_only=True):
    """An asset's head row: everything of its record but the entries (small, bounded)."""

    position: tuple[int, int] | None
    next_seq: int
    version: int
    published: tuple[str, str, str, str] | None  # as_of, status, quantity, mrr
    updated_by: str | None
    pending_since: list[tuple[str, str]]  # (action_id, RFC 3339)
    revoked: list[tuple[str, str]]  # (event_id, fingerprint)
    recent: list[tuple[tuple[int, int], list[int], list[tuple[int | None, str, str, str]], bool]]
    # Added within head/1 (absent in older rows, hence the defaults): the account the asset
    # counts on, and the one its last change left (SPEC §10).
    account: str | None = None
    left: str | None = None


def make_head(
    *,
    position: Position | None,
    next_seq: int,
    version: int,
    published: PublishedHead | None,
    updated_by: str | None,
    pending_since: tuple[PendingClock, ...],
    revoked: tuple[tuple[str, str], ...],
    recent: tuple[RecentCommand, ...],
    account: str | None = None,
    left: str | None = None,
) -> Head:
    return Head(
        account=account,
        left=left,
        position=position,
        next_seq=next_seq,
        version=version,
        published=None if published is None else (
            published.as_of.isoformat(), published.status, published.current_quantity,
            published.current_mrr),
        updated_by=updated_by,
        pending_since=[(c.action_id, c.since.isoformat()) for c in pending_since],
        revoked=list(revoked),
        recent=[(c.position, list(c.written),
                 [(seq, code.value, reason, at.isoformat()) for seq, code, reason, at
                  in c.dead_letters], c.sent_transfers) for c in recent],
    )  # fmt: skip


def head_published(head: Head) -> PublishedHead | None:
    if head.published is None:
        return None
    as_of, status, quantity, mrr = head.published
    return PublishedHead(date.fromisoformat(as_of), status, quantity, mrr)


def head_pending_since(head: Head) -> tuple[PendingClock, ...]:
    return tuple(PendingClock(a, datetime.fromisoformat(t)) for a, t in head.pending_since)


def head_recent(head: Head) -> tuple[RecentCommand, ...]:
    return tuple(
        RecentCommand(tuple(position), tuple(written),  # type: ignore[arg-type]
                      tuple((seq, ReasonCode(code), reason, datetime.fromisoformat(at))
                            for seq, code, reason, at in letters), sent)
        for position, written, letters, sent in head.recent
    )  # fmt: skip


def encode_head(head: Head) -> bytes:
    return b'["head/1",' + _encode(head) + b"]"


_HEAD_DECODER = msgspec.json.Decoder(tuple[str, Head])


def decode_head(raw: bytes) -> Head:
    if raw.startswith(b'["head/1",'):
        try:
            return _HEAD_DECODER.decode(raw)[1]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise RecordError(f"malformed head row: {exc}") from exc
    if (raw.startswith(b"[") and raw[1:2].isdigit()) or raw.startswith(b"[-1,"):
        raise RecordError(
            "this table row is in the first release's format (one document per asset), which "
            "this version does not read; rebuild the state by replaying the input topics "
            "under a new ASSETSTREAM_TOPIC_PREFIX (see docs/state.md)"
        )
    raise RecordError(f"not a head row: {raw[:40]!r}")


# --- account rows (SPEC §10) -------------------------------------------------------------

ACCOUNT_INDEX_SEPARATOR = b"\x01"


def account_share_key(account_key: bytes, seq: int) -> bytes:
    """The row of the `seq`-th asset seen on an account (its contribution and version)."""
    return account_key + ENTRY_SEPARATOR + str(seq).encode()


def account_index_key(account_key: bytes, asset_id: str) -> bytes:
    """The row giving an asset's `seq` on an account (written once, when it first arrives)."""
    return account_key + ACCOUNT_INDEX_SEPARATOR + asset_id.encode()


class AccountHead(msgspec.Struct, frozen=True, kw_only=True):
    """An account's head row: bounded, whatever the number of its assets."""

    position: tuple[int, int] | None
    version: int
    as_of: str | None
    existed: bool
    next_seq: int


def encode_account_head(head: AccountHead) -> bytes:
    return b'["account/1",' + _encode(head) + b"]"


_ACCOUNT_HEAD_DECODER = msgspec.json.Decoder(tuple[str, AccountHead])


def decode_account_head(raw: bytes) -> AccountHead:
    if not raw.startswith(b'["account/1",'):
        raise RecordError(f"not an account head row: {raw[:40]!r}")
    try:
        return _ACCOUNT_HEAD_DECODER.decode(raw)[1]
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RecordError(f"malformed account head row: {exc}") from exc


def encode_share(asset_id: str, version: int, contribution: AssetContribution | None) -> bytes:
    return _encode(["share/1", asset_id, version,
                    contribution_to_list(contribution, _SHARE_SPANS)])  # fmt: skip


def decode_share(raw: bytes) -> tuple[str, int, AssetContribution | None]:
    try:
        tag, asset_id, version, contribution = _decode(raw)
        if tag != "share/1":
            raise RecordError(f"unknown account row tag {tag!r}")
        return asset_id, version, contribution_from_list(contribution)
    except RecordError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, msgspec.DecodeError) as exc:
        raise RecordError(f"malformed account row: {exc}") from exc
