"""Suite-wide pytest setup.

Tests under tests/integration/ and tests/e2e/ get the ``integration`` / ``e2e``
marker from their directory, so ``pytest -m "not integration and not e2e"`` runs
only the fast, infrastructure-free part.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

_DIRECTORY_MARKERS = {"integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test by the tests/ subdirectory it lives in."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO_ROOT).parts
        if len(parts) > 1 and parts[0] == "tests" and parts[1] in _DIRECTORY_MARKERS:
            item.add_marker(getattr(pytest.mark, _DIRECTORY_MARKERS[parts[1]]))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root directory (where pyproject.toml is)."""
    return REPO_ROOT
