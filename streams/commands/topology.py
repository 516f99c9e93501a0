"""`assetstream topology`: the topics, agents and tables of the worker and how they connect."""

from __future__ import annotations

import argparse

HELP = "Print the worker's topics, agents and tables and how they connect."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: names come from the environment (prefix, partitions)


def run(args: argparse.Namespace) -> int:
    from streams.settings import app_id, load_settings
    from streams.topics import topic_names

    settings = load_settings()
    n = topic_names(settings)
    print(f"app id {app_id(settings)}   partitions {settings.partitions}   "
          f"store {settings.store}   grace {settings.pending_grace}   "
          f"as_of {settings.as_of or 'today (UTC)'}")  # fmt: skip
    print(f"""
input (key: order_id / asset_id; any partitioner, e.g. kcat's)
  {n.orders}
  {n.amendments}
      │  agents intake-orders, intake-amendments: decode + validate (schemas/)
      ├─ invalid_json / schema_violation / unknown_type ──▶ {n.deadletter}
      ▼  re-keyed by event id
  {n.by_event}          (internal)
      │  agent dedupe  ── table event-fingerprints (event id → fingerprint)
      │                   changelog {n.fingerprint_changelog} (compact, co-partitioned)
      ├─ same id, different content: duplicate_conflict ──▶ {n.deadletter}
      ▼  one "deliver" command per asset (an order fans out one per line), keyed by asset id
  {n.commands}          (internal)
      │  agent fold-assets (concurrency 1) ── table assets (asset id → ledger + last offset)
      │                   changelog {n.asset_changelog} (compact, co-partitioned)
      │  ▲ timer wake-assets: "tick" commands when a grace period ends or as_of crosses
      │  │ a boundary;  ▲ transfers: "deliver" to the target asset (same keyed path)
      ├─ snapshot (version +1 on change; re-published on duplicates) ──▶ {n.snapshots} (compact)
      └─ pending past grace, unknown asset, … (domain reasons) ──────▶ {n.deadletter}

co-partitioned (checked at start):""")
    for left, right in n.co_partitioned():
        print(f"  {left}  ⇔  {right}")
    print(f"\nmetrics: http://127.0.0.1:{settings.web_port}/metrics   "
          f"inspect: assetstream inspect assets.snapshots --key ASSET_ID")  # fmt: skip
    return 0
