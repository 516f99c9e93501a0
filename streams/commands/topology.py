"""`assetstream topology`: the worker's topics, agents and tables, and the read side.

Everything is derived from the settings (prefix, partitions) and the names in
streams/topics.py; no Kafka connection is made.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.settings import Settings
    from streams.topics import TopicNames

HELP = "Print the topics, agents, tables and read side as a diagram (no Kafka needed)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: names come from the environment (ASSETSTREAM_TOPIC_PREFIX, …)


def run(args: argparse.Namespace) -> int:
    from streams.commands import load_settings_or_say
    from streams.topics import topic_names

    settings = load_settings_or_say("topology")
    if settings is None:
        return 2
    print(render(settings, topic_names(settings)))
    return 0


def _duration(seconds: float) -> str:
    """24h, 30m or 90s: the shortest exact unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _topic_table(settings: Settings, n: TopicNames) -> list[str]:
    p = settings.partitions
    rows = [
        (n.orders, p, "delete", "input: order.fulfilled, key order_id"),
        (n.amendments, p, "delete", "input: asset.* amendments, key asset_id"),
        (n.commands, p, "delete", "internal: batched per-asset commands, key asset_id"),
        (n.by_event, p, "delete", "internal: batched claims (event id → fingerprint)"),
        (n.account_changes, p, "delete", "internal: what each asset adds to its account"),
        (n.snapshots, p, "compact", "output: asset snapshots, key asset_id (billing)"),
        (n.accounts, p, "compact", "output: account MRR records, key account_id"),
        (n.deadletter, p, "delete", "output: dead letters, key = original key"),
        (n.asset_changelog, p, "compact", "changelog of table assets"),
        (n.fingerprint_changelog, p, "compact", "changelog of table event-fingerprints"),
        (n.account_changelog, p, "compact", "changelog of table accounts"),
    ]
    width = max(len(name) for name, *_ in rows)
    lines = [f"  {'topic':<{width}}  partitions  cleanup  purpose"]
    lines += [f"  {name:<{width}}  {parts:>10}  {policy:<7}  {what}" for name, parts, policy, what
              in rows]  # fmt: skip
    return lines


def render(settings: Settings, n: TopicNames) -> str:
    """The whole diagram as text, safe for a terminal: no password, no control characters.

    The prefix, hosts and Redis URL come from the environment, so each line is escaped
    (`streams.terminal.printable`) and the Redis URL's password is masked.
    """
    from streams.settings import app_id, redact_url
    from streams.terminal import printable

    app = app_id(settings)
    projection_group = f"{settings.topic_prefix}assetstream-projection"
    prefix = settings.topic_prefix or "(none)"
    header = [
        f"assetstream topology   app id / consumer group {app}   topic prefix {prefix}",
        f"partitions {settings.partitions}   store {settings.store} ({settings.data_dir})   "
        f"pending grace {_duration(settings.pending_grace.total_seconds())}   "
        f"tick {_duration(settings.tick_seconds)}",
        "",
        "Topics",
        *_topic_table(settings, n),
        "",
        f"Worker (assetstream worker, group {app})",
    ]
    diagram = f"""
  order systems (CloudEvents JSON; assetstream produce FILE.jsonl)
      │ key order_id                        │ key asset_id
      ▼                                     ▼
  {n.orders:<40}  {n.amendments}
      │ agent intake-orders                 │ agent intake-amendments
      └──────────────┬──────────────────────┘
                     │ decode once + validate ── invalid_json / schema_violation /
                     │                           unknown_type ─────────────▶ {n.deadletter}
        ┌────────────┴──────────────────────────┐
        ▼ one command per asset (an order       ▼ the message's claim: event id,
          fans out per line), key asset_id        fingerprint, the assets it names
  {n.commands:<40}{n.by_event}
        │  ◀── timer wake-assets: ticks (grace    │ agent registry ◀──▶ table event-fingerprints
        │      over, a boundary crossed today)    │   (first fingerprint wins; changelog
        │  ◀── transfer/swap targets, revokes     │    {n.fingerprint_changelog})
        │      (same keyed path)                  │ other content, same id: duplicate_conflict
        │                                         │   once ──▶ {n.deadletter}, and a revoke
        │                                         └──▶ to each asset it named ──▶ {n.commands}
        │ agent fold-assets ◀──▶ table assets (head + one row per event; changelog
        │                        {n.asset_changelog})
        ├──────────────────────────────┬──────────────────────────────┐
        ▼ key asset_id, version +1     ▼ pending past grace, …        ▼ key account_id
  {n.snapshots + " (compacted)":<31}{n.deadletter:<31}{n.account_changes}
        │                                                             │ agent accounts ◀──▶ table
        ├──▶ billing (keep the highest version per key)               │   accounts (changelog
        │                                                             │   {n.account_changelog})
        │                                                             ▼ key account_id
        │                                                     {n.accounts} (compacted)
        ▼ consumer group {projection_group} (both outputs)
  projection (in the worker, or assetstream project) ──▶ Redis {redact_url(settings.redis_url)}
                                                             │
                                                             ▼
  assetstream api ── http://{settings.api_host}:{settings.api_port}/ (JSON API, OpenAPI at /docs)
                     /ui/assets/ASSET_ID, /ui/accounts/ACCOUNT_ID (pages)
"""
    footer = [
        "Co-partitioned (checked at start):",
        *(f"  {left} ⇔ {right}" for left, right in n.co_partitioned()),
        "",
        f"Worker health and metrics: http://127.0.0.1:{settings.web_port}/healthz, /metrics",
        "Look inside: assetstream inspect assets.snapshots --from-beginning [--key ASSET_ID]",
        "             assetstream inspect accounts.mrr --from-beginning [--key ACCOUNT_ID]",
        "Operators:   assetstream status (lag, members, pending, dead letters)",
    ]
    text = "\n".join([*header, diagram.rstrip("\n"), "", *footer])
    return "\n".join(printable(line) for line in text.split("\n"))
