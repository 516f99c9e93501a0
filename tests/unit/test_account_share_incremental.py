"""The account share built incrementally is the value and the bytes built from scratch.

`contribution_from_fold` reuses the spans of the periods it saw at the asset's previous
call, `streams.records` the bytes of the spans it encoded, and `apply` replaces an asset's
contribution by its differences; the treap updates in one walk. None may change a result.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from fractions import Fraction

import msgspec

import domain.accounts as accounts
import streams.records as streams_records
from domain.accounts import (
    AssetContribution,
    AssetRemoval,
    MrrSpan,
    apply,
    contribution_from_fold,
    contribution_from_snapshot,
    empty_book,
    shared_prefix,
)
from domain.ledger import new_ledger, receive
from schemas.snapshot_render import SnapshotRenderer
from service.messages import AccountChange
from streams.records import (
    contribution_to_list,
    decode_commands,
    decode_share,
    encode_command,
    encode_share,
)
from tests.support.builders import T0, changed, created, d, delivery, voided

AS_OF = d("2025-09-01")


def _events() -> list[object]:
    """A creation, upsells and downsells in order, backdated ones, a repricing, a void."""
    events: list[object] = [created(quantity="5", price="49.99", end="2027-08-10")]
    day = d("2025-08-20")
    for n in range(1, 25):
        events.append(changed(f"e{n}", day.isoformat(), "2" if n % 3 else "-1"))
        day += timedelta(days=11)
    events += [
        changed("back1", "2025-09-03", "1"),  # backdated: re-folds from there
        changed("price", "2026-01-05", "1", price="59.99"),
        voided("v1", "e7"),
        changed("late", "2027-01-01", "4"),
    ]
    return events


def test_the_fold_s_share_is_the_published_snapshot_s_and_its_bytes_the_uncached_ones() -> None:
    ledger = new_ledger("A")
    renderer = SnapshotRenderer()
    for event in _events():
        ledger = receive(ledger, delivery(event), as_of=AS_OF, now=T0).ledger
        incremental = contribution_from_fold("A", ledger.fold, AS_OF)
        accounts._FOLD_SPANS.clear()
        fresh = contribution_from_fold("A", ledger.fold, AS_OF)
        assert incremental == fresh
        raw = renderer.render(ledger, limit=10**7)
        assert raw is not None
        assert incremental == contribution_from_snapshot(json.loads(raw))
        assert incremental is not None and fresh is not None
        change = AccountChange("ACC-1", "A", ledger.version, incremental)
        plain = msgspec.json.encode(["account-change/1", "ACC-1", "A", ledger.version,
                                     contribution_to_list(incremental)])  # fmt: skip
        assert encode_command(change) == plain
        assert decode_commands(b"[" + plain + b"]") == [change]
        share = encode_share("A", ledger.version, fresh)
        assert share == msgspec.json.encode(["share/1", "A", ledger.version,
                                             contribution_to_list(fresh)])  # fmt: skip
        assert decode_share(share) == ("A", ledger.version, fresh)


def test_shared_prefix_counts_the_equal_leading_items() -> None:
    rnd = random.Random(5)
    for _ in range(3000):
        old = tuple(rnd.randint(0, 2) for _ in range(rnd.randint(0, 9)))
        new = old[: rnd.randint(0, len(old))] + tuple(rnd.randint(0, 2) for _ in range(3))
        expected = 0
        while expected < min(len(old), len(new)) and old[expected] == new[expected]:
            expected += 1
        assert shared_prefix(old, new) == expected


def _random_contribution(rnd: random.Random, asset_id: str) -> AssetContribution:
    day = date(2025, 1, 1) + timedelta(days=rnd.randint(0, 40))
    spans = []
    for _ in range(rnd.randint(0, 4)):
        end = day + timedelta(days=rnd.randint(1, 20))
        spans.append(MrrSpan(day, end, Fraction(rnd.choice([0, 100, 250, 250, 1999]), 100)))
        day = end + timedelta(days=rnd.choice([0, 0, 3]))
    if spans and rnd.random() < 0.3:
        spans[-1] = MrrSpan(spans[-1].start, None, spans[-1].mrr)
    currency = rnd.choice(["USD", "USD", "USD", "EUR"])
    return AssetContribution(asset_id, "ACC-1", currency, tuple(spans), rnd.random() < 0.5)


def test_replacing_a_contribution_is_removing_it_then_adding_the_new_one() -> None:
    rnd = random.Random(7)
    for _ in range(300):
        book = empty_book("ACC-1")
        for n in range(rnd.randint(1, 6)):
            book = apply(book, _random_contribution(rnd, f"A{n}"))
        target = f"A{rnd.randint(0, 5)}"
        new = _random_contribution(rnd, target)
        held = accounts.contribution_of(book, target)
        if held is not None and held.spans and rnd.random() < 0.5:  # keeps its leading spans
            keep = rnd.randint(0, len(held.spans))
            tail = (
                new.spans
                if keep == 0
                else tuple(
                    s for s in new.spans if s.start >= (held.spans[keep - 1].end or date.max)
                )
            )
            new = AssetContribution(target, "ACC-1", held.currency,
                                    held.spans[:keep] + tail, new.active)  # fmt: skip
        replaced = apply(book, new)
        assert replaced == apply(apply(book, AssetRemoval(target)), new)


def test_a_treap_s_shape_depends_only_on_its_keys() -> None:
    rnd = random.Random(9)
    for _ in range(300):
        tree, reference = None, {}
        for _ in range(rnd.randint(0, 60)):
            key = date(2025, 1, 1) + timedelta(days=rnd.randint(0, 30))
            value = rnd.choice([None, 1, 2])
            tree = accounts._put(tree, key, value)
            if value is None:
                reference.pop(key, None)
            else:
                reference[key] = value
        assert dict(accounts._items(tree)) == reference
        items = list(reference.items())
        rnd.shuffle(items)
        rebuilt = None
        for key, value in items:
            rebuilt = accounts._put(rebuilt, key, value)
        assert rebuilt == tree
        stack = [tree]
        while stack:
            node = stack.pop()
            if node is not None:
                assert node.priority == accounts._priority(node.key)
                for child in (node.left, node.right):
                    assert child is None or accounts._outranks(node, child)
                stack += [node.left, node.right]


def _change_bytes(spans: list[list[object]], currency: str = "USD") -> bytes:
    return msgspec.json.encode(
        [["account-change/1", "ACC-1", "A", 1, ["A", "ACC-1", currency, True, spans]]]
    )


def _decode_fresh(raw: bytes) -> object:
    streams_records._DECODED_SPANS._cache.clear()
    try:
        return decode_commands(raw)
    except Exception as exc:
        return type(exc)
    finally:
        streams_records._DECODED_SPANS._cache.clear()


def test_decoding_reuses_the_asset_s_spans_and_still_refuses_bad_new_ones() -> None:
    good = [["2025-01-01", "2025-02-01", "10"], ["2025-02-01", "2025-03-01", "12"]]
    cases = [
        [*good, ["2025-03-01", None, "13"]],
        [*good, ["2025-03-01", None, "1/300"]],  # unrounded
        [*good, ["2025-02-15", None, "13"]],  # overlapping the reused span
        [*good[:1], ["2025-02-01", "2025-03-01", "-1"]],  # negative
        good,
    ]
    for currency in ("USD", "JPY"):
        for spans in cases:
            decode_commands(_change_bytes(good))  # the cache holds the good spans
            try:
                cached: object = decode_commands(_change_bytes(spans, currency))
            except Exception as exc:
                cached = type(exc)
            assert cached == _decode_fresh(_change_bytes(spans, currency))
    # Reused spans are the very objects decoded before.
    (first,) = decode_commands(_change_bytes(good))
    (second,) = decode_commands(_change_bytes([*good, ["2025-03-01", None, "13"]]))
    assert isinstance(first, AccountChange) and isinstance(second, AccountChange)
    assert first.contribution is not None and second.contribution is not None
    assert second.contribution.spans[0] is first.contribution.spans[0]
