"""Demo events loaded by `make run` (scripts/run-demo.sh) with `assetstream produce`.

`events.jsonl` holds CloudEvents (SPEC §3) for five accounts, dated so that on
2026-11-26 the assets show every status but `transferred`:

- Capricorn Coffee: the SPEC §1/§5 example (5 QuickBooks Online licences, an
  upsell of 3 on 2026-02-01, a renewal on 2026-08-10); total 728.48 USD.
- Northwind Traders: a two-line order (seats + cross-sold support), an upsell, a
  downsell, and a cross-sell starting in 2027 (scheduled).
- Bluebird Logistics (EUR): ERP cancelled mid-term; an onboarding package that
  has expired.
- Acme Corp: 4 of 12 licences transferred to ACC-ACME-EU.
- Sakura Cafe (JPY): a renewal with a 5 % uplift.

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
}
