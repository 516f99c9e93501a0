"""Human-readable rendering of Kafka records for `assetstream inspect`.

Snapshots and dead letters get a summary an operator can read at a glance
(money with its currency, date spans as `start → end`); any other JSON is
indented; bytes that are not UTF-8 are shown as base64.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any


def render_message(record: Any, *, as_json: bool = False) -> str:
    """One aiokafka ConsumerRecord as text (or as one JSON line with `as_json`)."""
    key = _text(record.key)
    headers = [(name, _text(value)) for name, value in (record.headers or ())]
    value = _decode(record.value)
    if as_json:
        return json.dumps({"topic": record.topic, "partition": record.partition,
                           "offset": record.offset, "timestamp": record.timestamp,
                           "key": key, "headers": dict(headers), "value": value})  # fmt: skip
    stamp = datetime.fromtimestamp(record.timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    lines = [f"── {record.topic} [partition {record.partition} @ offset {record.offset}]  "
             f"key={key if key is not None else '∅'}  {stamp}"]  # fmt: skip
    for name, text in headers:
        lines.append(f"   header {name}: {text}")
    if record.value is None:
        lines.append("   (tombstone: the key is deleted)")
    elif isinstance(value, dict) and "state_periods" in value:
        lines += _snapshot(value)
    elif isinstance(value, dict) and "reason_code" in value:
        lines += _dead_letter(value)
    elif isinstance(value, dict | list):
        lines += ["   " + line for line in json.dumps(value, indent=2).splitlines()]
    else:
        lines.append(f"   {value}")
    return "\n".join(lines)


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode()


def _decode(raw: bytes | None) -> Any:
    text = _text(raw)
    if text is None or text.startswith("base64:"):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _money(amount: Any, currency: str) -> str:
    return f"{amount} {currency}"


def _signed(amount: Any) -> str:
    text = str(amount)
    return text if text.startswith("-") else f"+{text}"


def _snapshot(s: dict[str, Any]) -> list[str]:
    cur = s.get("currency", "")
    product = " ".join(p for p in (s.get("product_code"), s.get("product_name")) if p)
    lines = [
        f"   ASSET {s.get('asset_id')}  v{s.get('version')}  {str(s.get('status')).upper()} "
        f"as of {s.get('as_of')}   account {s.get('account_id')}   {product}",
        f"   now: quantity {s.get('current_quantity')}, MRR {_money(s.get('current_mrr'), cur)}"
        f"   lifecycle {s.get('lifecycle_start_date')} → {s.get('lifecycle_end_date')}"
        f"   total {_money(s.get('total_lifecycle_amount'), cur)}",
        "   state periods:",
    ]
    for p in s.get("state_periods") or []:
        lines.append(f"     {p['start_date']} → {p['end_date']}   qty {p['quantity']:>6}   "
                     f"MRR {p['mrr']:>10}   amount {p['amount']:>12}")  # fmt: skip
    lines.append("   actions:")
    for a in s.get("actions") or []:
        kind = a["category"] + (f"/{a['subtype']}" if a.get("subtype") else "")
        lines.append(f"     {a['effective_date']}  {kind:<22} {a['action_id']:<28} "
                     f"qty {_signed(a['quantity_change']):>6}  MRR {_signed(a['mrr_change']):>10}"
                     f"  amount {_signed(a['amount_change']):>12}")  # fmt: skip
    pending = s.get("pending_events") or []
    if pending:
        lines.append("   pending:")
        for p in pending:
            lines.append(f"     {p.get('event_id')}  {p.get('reason_code')}: {p.get('reason', '')}")
    if s.get("updated_by_event_id"):
        lines.append(f"   updated by event {s['updated_by_event_id']}")
    return lines


def _dead_letter(d: dict[str, Any]) -> list[str]:
    payload = str(d.get("payload"))
    if len(payload) > 300:
        payload = payload[:300] + f"… ({len(payload)} chars)"
    encoding = f" ({d['payload_encoding']})" if d.get("payload_encoding") else ""
    return [
        f"   DEAD LETTER {d.get('reason_code')}   event {d.get('event_id') or '∅'}   "
        f"at {d.get('dead_lettered_at')}",
        f"   reason: {d.get('reason')}",
        f"   from {d.get('source_topic')} [partition {d.get('source_partition')} @ offset "
        f"{d.get('source_offset')}]  key={d.get('key')}",
        f"   payload{encoding}: {payload}",
    ]
