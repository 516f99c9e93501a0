"""The Capricorn Coffee snapshot of SPEC §5, exactly as the worker publishes it.

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
