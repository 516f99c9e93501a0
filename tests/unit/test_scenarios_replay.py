"""Every golden scenario reproduced by `assetstream replay` (SPEC §7), judged by compare.py.

The scenarios are vendored in tests/scenarios/ so a fresh clone is self-contained;
any extra scenario in ../shared/scenarios (beside the repository) is run too. The
account records (SPEC §10) are compared once replay writes `accounts.jsonl`; until
then the assets and rejections of the §10 scenarios still are.
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
    assert len(SCENARIOS) >= 10
    assert {"reprice-and-void", "upgrade-swap", "auto-renewal", "account-movements"} <= set(
        SCENARIOS
    )


def test_the_vendored_scenarios_are_identical_to_upstream() -> None:
    if not SHARED.is_dir():
        pytest.skip("no ../shared/scenarios beside this checkout")
    for path in sorted(SHARED.iterdir()):
        if path.is_file():
            assert (VENDORED / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_replay_reproduces_the_golden_scenario(name: str, tmp_path: Path) -> None:
    events = SCENARIOS[name]
    expected = events.with_name(f"{name}.expected.json")
    as_of = json.loads(expected.read_text())["as_of"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["replay", str(events), "--as-of", as_of, "--out", str(tmp_path)]) == 0
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        status = _compare_module().main(  # type: ignore[attr-defined]
            str(tmp_path), str(expected), skip_accounts=not (tmp_path / "accounts.jsonl").exists()
        )
    assert status == 0, report.getvalue()
