"""deploy/: the Grafana dashboard and the Prometheus rules load, and name only real metrics.

The exported names come from the code's registry (prometheus_client.REGISTRY after the
modules that define metrics in the worker are imported), never from a list kept here.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "assetstream-dashboard.json"
RULES = REPO_ROOT / "deploy" / "prometheus" / "assetstream-alerts.yml"

# Modules whose metrics the worker's /metrics serves (the projection runs in the worker).
METRIC_MODULES = ("streams.metrics", "streams.sinks.redis_projection")

# Sample names each metric type produces in the exposition format.
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "enum": ("",),
    "unknown": ("",),
}
_METRIC = re.compile(r"\b(assetstream_[a-zA-Z0-9_]+)\b")
# PromQL functions, aggregations and keywords that may precede "(" in these files.
_FUNCTIONS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "delta", "deriv", "changes",
    "histogram_quantile", "absent", "time", "by", "on", "without", "ignoring", "and", "or",
    "unless",
}  # fmt: skip


def exported_names() -> set[str]:
    for module in METRIC_MODULES:
        importlib.import_module(module)
    names: set[str] = set()
    for family in REGISTRY.collect():
        for suffix in _SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> Iterator[tuple[str, str]]:
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", ()):
            yield panel["title"], target["expr"]


def all_exprs() -> list[tuple[str, str]]:
    exprs = list(dashboard_exprs())
    exprs += [(rule["alert"], rule["expr"]) for rule in rules()]
    return exprs


def test_the_registry_has_the_operator_metrics() -> None:
    names = exported_names()
    for name in (
        "assetstream_consumer_lag",
        "assetstream_consumer_group_lag",
        "assetstream_pending_events",
        "assetstream_pending_oldest_age_seconds",
        "assetstream_last_snapshot_published_timestamp_seconds",
        "assetstream_messages_total",
        "assetstream_processing_seconds_bucket",
    ):
        assert name in names


def test_dashboard_is_grafana_json_with_unique_panel_ids() -> None:
    board = dashboard()
    assert board["title"] and board["uid"] and isinstance(board["schemaVersion"], int)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid) and grid["x"] + grid["w"] <= 24
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert all(t["expr"].strip() and t["refId"] for t in panel["targets"])
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "job"} <= variables


def test_dashboard_covers_what_operators_need() -> None:
    text = " ".join(expr for _, expr in dashboard_exprs())
    for needle in (
        "assetstream_consumer_lag{",  # lag per partition
        "assetstream_messages_total{",  # throughput by outcome
        'outcome="dead_lettered"',  # dead letters by reason
        "assetstream_pending_events",
        "assetstream_pending_oldest_age_seconds",
        "histogram_quantile(0.99",  # latency quantiles
        "assetstream_last_snapshot_published_timestamp_seconds",
        "assetstream_internal_errors_total",
    ):
        assert needle in text, needle


def test_rules_are_prometheus_rule_groups() -> None:
    document = yaml.safe_load(RULES.read_text())
    assert isinstance(document["groups"], list) and document["groups"]
    seen: set[str] = set()
    for group in document["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert rule["alert"] not in seen
            seen.add(rule["alert"])
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert rule["annotations"]["summary"]
            if "for" in rule:
                assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]


def test_rules_cover_lag_dead_letters_pending_and_worker_down() -> None:
    by_name = {rule["alert"]: rule["expr"] for rule in rules()}
    assert "deriv(assetstream_consumer_group_lag" in by_name["AssetstreamConsumerLagGrowing"]
    assert 'outcome="dead_lettered"' in by_name["AssetstreamDeadLetters"]
    pending = by_name["AssetstreamPendingPastHalfGrace"]
    assert "0.5 * max by (job) (assetstream_pending_grace_seconds" in pending
    assert "up{" in by_name["AssetstreamWorkerDown"] and "== 0" in by_name["AssetstreamWorkerDown"]
    assert "absent(" in by_name["AssetstreamNoWorker"]


@pytest.mark.parametrize("where,expr", all_exprs())
def test_every_metric_named_is_exported(where: str, expr: str) -> None:
    names = exported_names()
    unknown = sorted(set(_METRIC.findall(expr)) - names)
    assert not unknown, f"{where}: {unknown} are not registered by {METRIC_MODULES}"


@pytest.mark.parametrize("where,expr", all_exprs())
def test_every_expression_is_balanced_and_uses_known_functions(where: str, expr: str) -> None:
    stripped = re.sub(r'"[^"]*"', '""', expr)  # label values may hold any character
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in stripped:
        if char in "([{":
            stack.append(char)
        elif char in pairs:
            assert stack and stack.pop() == pairs[char], f"{where}: unbalanced {char!r}"
    assert not stack, f"{where}: unclosed {stack}"
    called = set(re.findall(r"\b([a-z_]+)\s*\(", stripped))
    assert called <= _FUNCTIONS, f"{where}: unknown functions {called - _FUNCTIONS}"
