"""Every golden scenario reproduced by `assetstream replay` (SPEC §7), judged by compare.py.

The scenarios are vendored in tests/scenarios/ so a fresh clone is self-contained;
any extra scenario in ../shared/scenarios (beside the repository) is run too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import pytest

from streams.cli import main

HERE = Path(__file__).resolve().parent
VENDORED = HERE.parent / "scenarios"
SHARED = HERE.parents[2] / "shared" / "scenarios"


def _scenarios() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in (VENDORED, SHARED):
        if folder.is_dir():
            for path in sorted(folder.glob("*.events.jsonl")):
                found.setdefault(path.name.removesuffix(".events.jsonl"), path)
    return found


def _compare_module() -> object:
    spec = importlib.util.spec_from_file_location("scenario_compare", VENDORED / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCENARIOS = _scenarios()


def test_the_vendored_scenarios_are_all_present() -> None:
    assert len(SCENARIOS) >= 6


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_replay_reproduces_the_golden_scenario(name: str, tmp_path: Path) -> None:
    events = SCENARIOS[name]
    expected = events.with_name(f"{name}.expected.json")
    as_of = json.loads(expected.read_text())["as_of"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["replay", str(events), "--as-of", as_of, "--out", str(tmp_path)]) == 0
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        status = _compare_module().main(str(tmp_path), str(expected))  # type: ignore[attr-defined]
    assert status == 0, report.getvalue()
