"""Read-side fixtures: SPEC §5's Capricorn snapshot, an account record, §9 snapshots.

`CAPRICORN` is exactly what the worker published before §9 (no `auto_renew`,
`next_renewal_date`, `voided_events`, `ended_by`): the read side must tolerate it.

Shared by the read-side tests and the API benchmark, so a change to the record's
shape is made once.
"""

from __future__ import annotations

from typing import Any

CAPRICORN: dict[str, Any] = {
    "asset_id": "AST-QBO-CAPRICORN",
    "account_id": "ACC-CAPRICORN",
    "currency": "USD",
    "product_code": "QBO",
    "product_name": "QuickBooks Online",
    "price_term_months": 12,
    "renewal_term_months": 12,
    "billing_anchor_date": "2025-08-10",
    "version": 2,
    "as_of": "2026-03-01",
    "status": "active",
    "current_quantity": "8",
    "current_mrr": "33.33",
    "lifecycle_start_date": "2025-08-10",
    "lifecycle_end_date": "2026-08-10",
    "total_lifecycle_amount": "328.56",
    "state_periods": [
        {
            "start_date": "2025-08-10",
            "end_date": "2026-02-01",
            "quantity": "5",
            "mrr": "20.83",
            "amount": "118.93",
        },
        {
            "start_date": "2026-02-01",
            "end_date": "2026-08-10",
            "quantity": "8",
            "mrr": "33.33",
            "amount": "209.63",
        },
    ],
    "actions": [
        {
            "action_id": "evt-capricorn-0001/1",
            "event_id": "evt-capricorn-0001",
            "category": "initial_sale",
            "subtype": None,
            "effective_date": "2025-08-10",
            "action_time": "2025-08-10T15:00:00Z",
            "quantity_change": "5",
            "mrr_change": "20.83",
            "amount_change": "249.95",
            "order_id": "ORD-1001",
        },
        {
            "action_id": "evt-capricorn-0002",
            "event_id": "evt-capricorn-0002",
            "category": "upsell",
            "subtype": None,
            "effective_date": "2026-02-01",
            "action_time": "2026-01-20T10:00:00Z",
            "quantity_change": "3",
            "mrr_change": "12.50",
            "amount_change": "78.61",
            "order_id": None,
        },
    ],
    "pending_events": [],
    "updated_by_event_id": "evt-capricorn-0002",
}


# ---- an account record (SPEC §10) ------------------------------------------------------

# What domain.accounts computes for an account holding only CAPRICORN, as of its
# as_of (tests/unit/test_web_models.py derives it again): an open last span, a
# scheduled churn at the term end.
CAPRICORN_ACCOUNT: dict[str, Any] = {
    "account_id": "ACC-CAPRICORN",
    "version": 2,
    "as_of": "2026-03-01",
    "currencies": [
        {
            "currency": "USD",
            "current_mrr": "33.33",
            "current_arr": "399.96",
            "active_assets": 1,
            "mrr_timeline": [
                {"start_date": "2025-08-10", "end_date": "2026-02-01", "mrr": "20.83"},
                {"start_date": "2026-02-01", "end_date": "2026-08-10", "mrr": "33.33"},
                {"start_date": "2026-08-10", "end_date": None, "mrr": "0.00"},
            ],
            "movements": [
                {"date": "2025-08-10", "type": "new_business", "mrr_before": "0.00",
                 "mrr_after": "20.83", "mrr_change": "20.83", "scheduled": False},
                {"date": "2026-02-01", "type": "expansion", "mrr_before": "20.83",
                 "mrr_after": "33.33", "mrr_change": "12.50", "scheduled": False},
                {"date": "2026-08-10", "type": "churn", "mrr_before": "33.33",
                 "mrr_after": "0.00", "mrr_change": "-33.33", "scheduled": True},
            ],
        }
    ],
}  # fmt: skip


# ---- SPEC §9 snapshots (the shared scenarios' assets, with every published field) ------


def _action(
    action_id: str,
    category: str,
    subtype: str | None,
    day: str,
    quantity: str,
    mrr: str,
    amount: str,
    *,
    related: str | None = None,
    order_id: str | None = None,
) -> dict[str, Any]:
    # An automatic renewal has no event of its own; an order line's action is "{event}/{line}".
    event_id = None if "/auto-renewal/" in action_id else action_id.split("/")[0]
    action: dict[str, Any] = {
        "action_id": action_id, "event_id": event_id, "category": category,
        "subtype": subtype, "effective_date": day, "action_time": f"{day}T09:00:00Z",
        "quantity_change": quantity, "mrr_change": mrr, "amount_change": amount,
        "order_id": order_id,
    }  # fmt: skip
    if related is not None:
        action["related_asset_id"] = related
    return action


def _period(start: str, end: str, quantity: str, mrr: str, amount: str) -> dict[str, Any]:
    return {"start_date": start, "end_date": end, "quantity": quantity, "mrr": mrr,
            "amount": amount}  # fmt: skip


def _asset(**fields: Any) -> dict[str, Any]:
    """A §9 snapshot: the given fields over the defaults every snapshot carries."""
    snapshot: dict[str, Any] = {
        "price_term_months": 12, "renewal_term_months": 12, "version": 1,
        "pending_events": [], "auto_renew": False, "next_renewal_date": None,
        "voided_events": [], "ended_by": None, "updated_by_event_id": None,
    }  # fmt: skip
    snapshot.update(fields)
    snapshot.setdefault("billing_anchor_date", snapshot["lifecycle_start_date"])
    return snapshot


SWAP_TARGET_ID = "AST-CTO-PHONE/swap/cto-0003"

# upgrade-swap: a full swap of Phone Support into Chat Support (status replaced).
PHONE_SWAPPED = _asset(
    asset_id="AST-CTO-PHONE", account_id="ACC-CONTOSO", currency="EUR",
    product_code="SUP-PHONE", product_name="Phone Support", version=2, as_of="2025-10-01",
    status="replaced", ended_by="swap", current_quantity="0", current_mrr="0.00",
    lifecycle_start_date="2025-03-01", lifecycle_end_date="2025-09-15",
    total_lifecycle_amount="646.67",
    state_periods=[_period("2025-03-01", "2025-09-15", "1", "100.00", "646.67")],
    actions=[
        _action("cto-0001/2", "initial_sale", None, "2025-03-01", "1", "100.00", "1200.00",
                order_id="CTO-501"),
        _action("cto-0003", "swap", "swap_out", "2025-09-15", "-1", "-100.00", "-553.33",
                related=SWAP_TARGET_ID, order_id="CTO-503"),
    ],
)  # fmt: skip
PHONE_SWAP_TARGET = _asset(
    asset_id=SWAP_TARGET_ID, account_id="ACC-CONTOSO", currency="EUR",
    product_code="SUP-CHAT", product_name=None, as_of="2025-10-01", status="active",
    current_quantity="1", current_mrr="83.33", lifecycle_start_date="2025-09-15",
    lifecycle_end_date="2026-03-01", billing_anchor_date="2025-03-01",
    total_lifecycle_amount="461.11",
    state_periods=[_period("2025-09-15", "2026-03-01", "1", "83.33", "461.11")],
    actions=[
        _action("cto-0003/to", "swap", "swap_in", "2025-09-15", "1", "83.33", "461.11",
                related="AST-CTO-PHONE", order_id="CTO-503"),
    ],
)  # fmt: skip

# reprice-and-void: a +10 % price change and two voided upsells.
NORTHWIND_REPRICED = _asset(
    asset_id="AST-NW-ANALYTICS", account_id="ACC-NORTHWIND", currency="USD",
    product_code="ANL-PRO", product_name="Analytics Pro", version=7, as_of="2025-11-15",
    status="active", current_quantity="12", current_mrr="660.00",
    lifecycle_start_date="2025-01-01", lifecycle_end_date="2026-01-01",
    total_lifecycle_amount="6765.00",
    state_periods=[
        _period("2025-01-01", "2025-06-16", "10", "500.00", "2750.00"),
        _period("2025-06-16", "2025-09-01", "10", "550.00", "1375.00"),
        _period("2025-09-01", "2026-01-01", "12", "660.00", "2640.00"),
    ],
    actions=[
        _action("nw-0001/1", "initial_sale", None, "2025-01-01", "10", "500.00", "6000.00"),
        _action("nw-0004", "price_change", None, "2025-06-16", "0", "50.00", "325.00"),
        _action("nw-0005", "upsell", None, "2025-09-01", "2", "110.00", "440.00"),
    ],
    voided_events=[
        {"event_id": "nw-0002", "voided_by": "nw-0003",
         "reason": "order NW-1002 was entered in error"},
        {"event_id": "nw-0006", "voided_by": "nw-0007", "reason": None},
    ],
)  # fmt: skip

# auto-renewal: renewed twice by the clock, then a notice of non-renewal at the end.
FAB_SEATS = _asset(
    asset_id="AST-FAB-SEATS", account_id="ACC-FABRIKAM", currency="USD",
    product_code="DESK", product_name="Help Desk Seat", price_term_months=1,
    renewal_term_months=3, version=4, as_of="2025-10-15", status="cancelled",
    ended_by="cancellation", auto_renew=True, current_quantity="0", current_mrr="0.00",
    lifecycle_start_date="2025-01-01", lifecycle_end_date="2025-10-01",
    total_lifecycle_amount="1853.61",
    state_periods=[
        _period("2025-01-01", "2025-04-01", "10", "199.90", "599.70"),
        _period("2025-04-01", "2025-07-01", "10", "205.90", "617.69"),
        _period("2025-07-01", "2025-10-01", "10", "212.07", "636.22"),
    ],
    actions=[
        _action("fab-0001/1", "initial_sale", None, "2025-01-01", "10", "199.90", "599.70"),
        _action("AST-FAB-SEATS/auto-renewal/2025-04-01", "renewal", "auto_renewal",
                "2025-04-01", "0", "6.00", "617.69"),
        _action("AST-FAB-SEATS/auto-renewal/2025-07-01", "renewal", "auto_renewal",
                "2025-07-01", "0", "6.17", "636.22"),
        _action("fab-0002", "cancellation", None, "2025-10-01", "0", "0.00", "0.00"),
    ],
)  # fmt: skip
FAB_PRIORITY = _asset(
    asset_id="AST-FAB-PRIORITY", account_id="ACC-FABRIKAM", currency="USD",
    product_code="PRIO", product_name="Priority Support", price_term_months=1,
    as_of="2025-10-15", status="active", auto_renew=True, next_renewal_date="2026-01-01",
    current_quantity="1", current_mrr="50.00", lifecycle_start_date="2025-01-01",
    lifecycle_end_date="2026-01-01", total_lifecycle_amount="600.00",
    state_periods=[_period("2025-01-01", "2026-01-01", "1", "50.00", "600.00")],
    actions=[_action("fab-0001/2", "initial_sale", None, "2025-01-01", "1", "50.00", "600.00")],
)  # fmt: skip

SECTION9_SNAPSHOTS = (PHONE_SWAPPED, PHONE_SWAP_TARGET, NORTHWIND_REPRICED, FAB_SEATS,
                      FAB_PRIORITY)  # fmt: skip
