"""Demo events loaded by `make run` (scripts/run-demo.sh) with `assetstream produce`.

`events.jsonl` holds CloudEvents (SPEC §3, §9) for six accounts, dated so that on
2026-11-26 the assets show every status but `transferred`:

- Capricorn Coffee: the SPEC §1/§5 example (5 QuickBooks Online licences, an
  upsell of 3 on 2026-02-01, a renewal on 2026-08-10); total 728.48 USD.
- Northwind Traders: a two-line order (seats + cross-sold support), an upsell, a
  downsell, and a cross-sell starting in 2027 (scheduled).
- Bluebird Logistics (EUR): ERP cancelled mid-term; an onboarding package that
  has expired.
- Acme Corp: 4 of 12 licences transferred to ACC-ACME-EU.
- Sakura Cafe (JPY): a renewal with a 5 % uplift.
- Tailspin Toys (SPEC §9): CRM Standard (AST-CRM-TAILSPIN) with a +5 % price change on
  2026-04-01, a mistaken upsell of 50 seats voided (and the right 5 sent again), and 5
  seats upgraded on 2026-07-01 to CRM Enterprise (AST-CRM-ENT-TAILSPIN); a Help Desk
  subscription (AST-HELP-TAILSPIN) of 8 seats at 29.00 a month that renews itself every
  month from 2026-07-01 (next renewal 2026-12-01 as of 2026-11-26).

Event ids are fixed, so loading the file again only re-publishes snapshots.
"""

from __future__ import annotations

from pathlib import Path

EVENTS_PATH = Path(__file__).with_name("events.jsonl")

# Asset id -> account id of every asset the demo creates (the transfer target included).
DEMO_ASSETS: dict[str, str] = {
    "AST-QBO-CAPRICORN": "ACC-CAPRICORN",
    "AST-CRM-NORTHWIND": "ACC-NORTHWIND",
    "AST-SUP-NORTHWIND": "ACC-NORTHWIND",
    "AST-DATA-NORTHWIND": "ACC-NORTHWIND",
    "AST-ERP-BLUEBIRD": "ACC-BLUEBIRD",
    "AST-ONB-BLUEBIRD": "ACC-BLUEBIRD",
    "AST-LIC-ACME": "ACC-ACME",
    "AST-LIC-ACME-EU": "ACC-ACME-EU",
    "AST-POS-SAKURA": "ACC-SAKURA",
    "AST-CRM-TAILSPIN": "ACC-TAILSPIN",
    "AST-CRM-ENT-TAILSPIN": "ACC-TAILSPIN",
    "AST-HELP-TAILSPIN": "ACC-TAILSPIN",
}

# The assets that show SPEC §9: a price change, a voided mistake and an upgrade on the first,
# the upgrade's target, and a monthly subscription that renews itself.
SECTION_9_ASSETS: dict[str, str] = {
    "price change, voided mistake, upgrade source": "AST-CRM-TAILSPIN",
    "upgrade target": "AST-CRM-ENT-TAILSPIN",
    "auto-renewing monthly subscription": "AST-HELP-TAILSPIN",
}
