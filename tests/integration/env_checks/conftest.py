"""Environment checks: they test the infrastructure (Redis answers, a faust worker runs
against the broker), not assetstream.

They stay useful when setting up a machine (`pytest tests/integration/env_checks`),
but they are not product tests: every test here carries the `env_check` marker,
so `pytest -m "not env_check"` counts only tests of the project.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "env_check: checks the environment (Redis, Kafka), not the project's code"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.env_check)
