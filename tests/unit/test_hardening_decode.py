"""decode is total (issue 12): adversarial JSON ends as a rejection with a reason, never a raise.

Found in review: a JSON number whose exponent Decimal cannot hold (≥ 10^19), even in
an ignored field, raised decimal.InvalidOperation; deep nesting plus a `\\ud800`
escape raised RecursionError. `replay` and `produce` then crashed and wrote nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import MAX_NESTING, Decoded, Rejection, decode

REPO = Path(__file__).resolve().parents[2]

ORDER: dict[str, Any] = {
    "specversion": "1.0", "id": "evt-1", "source": "orders.test", "type": "order.fulfilled",
    "time": "2025-08-10T15:00:00Z",
    "data": {"order_id": "ORD-1", "account_id": "ACC", "currency": "USD", "lines": [
        {"line_id": "1", "asset_id": "AST-1", "product_code": "QBO", "quantity": "5",
         "unit_price": "49.99", "start_date": "2025-08-10", "end_date": "2026-08-10"}]},
}  # fmt: skip
HOLE = '"__HOLE__"'


def order_with(where: str) -> str:
    """The order's JSON text with a hole (a raw JSON fragment goes there) at `where`."""
    document = json.loads(json.dumps(ORDER))
    if where == "ignored envelope field":
        document["x-extension"] = "__HOLE__"
    elif where == "ignored data field":
        document["data"]["note"] = "__HOLE__"
    elif where == "ignored line field":
        document["data"]["lines"][0]["discount"] = "__HOLE__"
    elif where == "id":
        document["id"] = "__HOLE__"
    else:  # a field the model reads
        document["data"]["lines"][0][where] = "__HOLE__"
    return json.dumps(document)


def decode_text(text: str) -> Decoded | Rejection:
    return decode(text.encode("utf-8"))


PLACES = ["ignored envelope field", "ignored data field", "ignored line field", "quantity",
          "price_term_months", "start_date", "id"]  # fmt: skip


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(
    "number",
    ["1e19", "1e10000000000000000000", "-2.5E+99999999999999999999", "1e-10000000000000000000"],
)
def test_a_number_whose_exponent_decimal_cannot_hold_is_rejected_not_raised(
    number: str, place: str
) -> None:
    exponent = int(number.lower().split("e")[1])
    result = decode_text(order_with(place).replace(HOLE, number))
    if abs(exponent) < 10**18:  # 1e19 is an ordinary number: read, and judged by its field
        assert isinstance(result, Decoded) or result.reason_code == "schema_violation"
        return
    assert isinstance(result, Rejection)
    assert (result.reason_code, result.event_id) == ("invalid_json", None)
    assert "exponent beyond ±10^18" in result.reason


def nested(depth: int, leaf: str) -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("depth", [MAX_NESTING, 991, 5000, 200_000])
def test_deep_nesting_with_a_lone_surrogate_is_invalid_json(depth: int) -> None:
    result = decode_text(order_with("ignored data field").replace(HOLE, nested(depth, '"\\ud800"')))
    assert isinstance(result, Rejection) and result.reason_code == "invalid_json"
    assert "nested deeper" in result.reason or "surrogate" in result.reason


def test_nesting_up_to_the_limit_is_read_and_one_level_more_is_invalid_json() -> None:
    # The document is level 1 and `data` level 2, so its field's value starts at level 3.
    inside = MAX_NESTING - 2
    assert isinstance(
        decode_text(order_with("ignored data field").replace(HOLE, nested(inside, "1"))), Decoded
    )
    deeper = decode_text(order_with("ignored data field").replace(HOLE, nested(inside + 1, "1")))
    assert isinstance(deeper, Rejection)
    assert (deeper.reason_code, deeper.reason) == (
        "invalid_json",
        f"JSON nested deeper than {MAX_NESTING} levels",
    )


def test_a_500_line_order_is_not_mistaken_for_deep_nesting() -> None:
    line = ORDER["data"]["lines"][0]
    lines = [{**line, "line_id": str(i), "asset_id": f"AST-{i}"} for i in range(500)]
    document = {**ORDER, "data": {**ORDER["data"], "lines": lines}}
    assert isinstance(decode(json.dumps(document).encode()), Decoded)


@pytest.mark.parametrize("place", ["ignored data field", "id"])
def test_a_lone_surrogate_in_a_key_or_value_is_invalid_json(place: str) -> None:
    as_key = order_with(place).replace(HOLE, '{"\\udc00": 1}')
    as_value = order_with(place).replace(HOLE, '["ok", "\\udfff"]')
    for text in (as_key, as_value):
        result = decode_text(text)
        assert isinstance(result, Rejection) and result.reason_code == "invalid_json"
        assert "surrogate" in result.reason


# --- decode never raises ---------------------------------------------------------------

exponents = st.integers(min_value=-(10**25), max_value=10**25) | st.sampled_from(
    [10**18, 10**18 - 1, -(10**18), 10**19, -(10**19), 2**63, -(2**63)]
)
huge_exponent = st.builds(
    lambda mantissa, exponent: f"{mantissa}e{exponent}",
    st.sampled_from(["1", "-1", "9.99", "0", "0.0", "-0.5"]),
    exponents,
)
huge_int = st.integers(min_value=1, max_value=6000).map(lambda n: "-" * (n % 2) + "9" * n)
surrogate = st.sampled_from(["\\ud800", "\\udfff", "\\ud83d\\ude00", "\\ude00\\ud83d", "\\\\ud800"])
text_with_surrogates = st.lists(surrogate | st.sampled_from(["a", "é", " "]), max_size=4).map(
    lambda parts: '"' + "".join(parts) + '"'
)
leaf = (
    huge_exponent
    | huge_int
    | text_with_surrogates
    | st.sampled_from(
        ["NaN", "Infinity", "-Infinity", "true", "null", '"9999-12-31"', "1E+31", "12"]
    )
)
fragment = st.builds(
    lambda depth, brackets, inner: (
        ("[" if brackets else '{"k":') * depth + inner + ("]" if brackets else "}") * depth
    ),
    st.integers(min_value=0, max_value=3000)
    | st.sampled_from([MAX_NESTING - 3, MAX_NESTING - 2, 990]),
    st.booleans(),
    leaf,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([*PLACES, "end_date", "unit_price", "line_id"]), fragment)
def test_decode_never_raises_on_adversarial_json(place: str, inner: str) -> None:
    result = decode_text(order_with(place).replace(HOLE, inner))
    assert isinstance(result, Decoded | Rejection)
    if isinstance(result, Rejection):
        assert result.reason_code in ("invalid_json", "schema_violation")
        assert result.reason


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_decode_never_raises_on_arbitrary_bytes(payload: bytes) -> None:
    result = decode(payload)
    assert isinstance(result, Decoded | Rejection)


# --- replay writes every line somewhere -----------------------------------------------

BAD_LINES = [
    order_with("ignored data field").replace(HOLE, "1e10000000000000000000"),
    order_with("quantity").replace(HOLE, "-1E-99999999999999999999"),
    order_with("ignored data field").replace(HOLE, nested(991, '"\\ud800"')),
    order_with("ignored line field").replace(HOLE, nested(100_000, "1")),
]


def test_replay_rejects_every_adversarial_line_with_a_reason_and_keeps_the_good_one(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([*BAD_LINES, json.dumps(ORDER)]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", str(events), "--as-of", "2026-01-01",
         "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["source_offset"], r["reason_code"]) for r in rejected] == [
        (1, "invalid_json"), (2, "invalid_json"), (3, "invalid_json"), (4, "invalid_json"),
    ]  # fmt: skip
    assert all(r["reason"] for r in rejected)
    snapshots = [json.loads(line) for line in (out / "snapshots.jsonl").read_text().splitlines()]
    assert [s["asset_id"] for s in snapshots] == ["AST-1"]
    assert "dead_lettered:invalid_json" in result.stdout
