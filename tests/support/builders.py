"""Terse builders for domain events in tests (strings in, exact Fractions out)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetRenewed,
    AssetRepriced,
    AssetSwapped,
    AssetTransferred,
    Category,
    EventVoided,
    Movement,
    QuantityChanged,
)
from domain.ledger_types import Delivery, Source

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def d(text: str) -> date:
    return date.fromisoformat(text)


def q(text: str | int) -> Fraction:
    return Fraction(Decimal(str(text)))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def created(
    event_id: str = "e1",
    *,
    asset_id: str = "A",
    quantity: str = "5",
    price: str = "49.99",
    start: str = "2025-08-10",
    end: str = "2026-08-10",
    term: int = 12,
    renewal: int | None = 12,
    currency: str = "USD",
    category: Category = Category.INITIAL_SALE,
    line_id: str = "1",
    time: datetime = T0,
    account_id: str = "ACC",
    auto_renew: bool = False,
    uplift: str = "0",
    product: str = "P",
) -> AssetCreated:
    return AssetCreated(
        event_id=event_id, line_id=line_id, asset_id=asset_id, time=time, order_id="O-" + event_id,
        account_id=account_id, currency=currency, product_code=product, product_name="Product",
        quantity=q(quantity), unit_price=q(price), price_term_months=term, start_date=d(start),
        end_date=d(end), renewal_term_months=renewal, category=category, auto_renew=auto_renew,
        renewal_uplift_percent=q(uplift),
    )  # fmt: skip


def changed(
    event_id: str,
    on: str,
    change: str,
    *,
    price: str | None = None,
    asset_id: str = "A",
    time: datetime = T0,
) -> QuantityChanged:
    return QuantityChanged(
        event_id=event_id, asset_id=asset_id, time=time, effective_date=d(on),
        quantity_change=q(change), unit_price=q(price) if price is not None else None,
        order_id=None,
    )  # fmt: skip


def renewed(
    event_id: str,
    start: str,
    *,
    end: str | None = None,
    price: str | None = None,
    uplift: str | None = None,
    asset_id: str = "A",
    time: datetime = T0,
) -> AssetRenewed:
    return AssetRenewed(
        event_id=event_id, asset_id=asset_id, time=time, start_date=d(start),
        end_date=d(end) if end else None, unit_price=q(price) if price is not None else None,
        uplift_percent=q(uplift) if uplift is not None else None, order_id=None,
    )  # fmt: skip


def cancelled(
    event_id: str, on: str, *, asset_id: str = "A", time: datetime = T0
) -> AssetCancelled:
    return AssetCancelled(
        event_id=event_id, asset_id=asset_id, time=time, effective_date=d(on), order_id=None
    )


def transferred(
    event_id: str,
    on: str,
    quantity: str,
    *,
    asset_id: str = "A",
    target: str = "B",
    target_account: str = "ACC-2",
    time: datetime = T0,
) -> AssetTransferred:
    return AssetTransferred(
        event_id=event_id, asset_id=asset_id, time=time, effective_date=d(on),
        quantity=q(quantity), target_account_id=target_account, target_asset_id=target,
        order_id=None,
    )  # fmt: skip


def repriced(
    event_id: str,
    on: str,
    *,
    price: str | None = None,
    uplift: str | None = None,
    asset_id: str = "A",
    time: datetime = T0,
) -> AssetRepriced:
    return AssetRepriced(
        event_id=event_id, asset_id=asset_id, time=time, effective_date=d(on),
        unit_price=q(price) if price is not None else None,
        uplift_percent=q(uplift) if uplift is not None else None, order_id=None,
    )  # fmt: skip


def swapped(
    event_id: str,
    on: str,
    quantity: str,
    *,
    price: str = "100",
    kind: Movement = Movement.UPGRADE,
    asset_id: str = "A",
    target: str = "B",
    product: str = "P2",
    time: datetime = T0,
) -> AssetSwapped:
    return AssetSwapped(
        event_id=event_id, asset_id=asset_id, time=time, effective_date=d(on),
        quantity=q(quantity), kind=kind, product_code=product, product_name=product,
        unit_price=q(price), target_asset_id=target, order_id=None,
    )  # fmt: skip


def voided(
    event_id: str, target: str, *, asset_id: str = "A", reason: str | None = None,
    time: datetime = T0,
) -> EventVoided:  # fmt: skip
    return EventVoided(
        event_id=event_id, asset_id=asset_id, time=time, voided_event_id=target, reason=reason,
        order_id=None,
    )  # fmt: skip


def delivery(event: object, fingerprint: str | None = None, received_at: datetime = T0) -> Delivery:
    """A delivery whose fingerprint defaults to the event's repr (same content, same digest)."""
    source = Source(topic="test", partition=0, offset=0, key=None, payload="{}")
    return Delivery(
        event=event,  # type: ignore[arg-type]
        fingerprint=fingerprint or repr(event),
        source=source,
        received_at=received_at,
    )
