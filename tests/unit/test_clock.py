"""The worker's clock (streams.clock) and its test-only date file, ASSETSTREAM_AS_OF_FILE."""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from streams.clock import MAX_FILE_BYTES, Clock
from streams.settings import Settings, SettingsError, load_settings

ALL_VARIABLES = [field.alias for field in Settings.model_fields.values() if field.alias is not None]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _write(path: Path, text: str) -> None:
    """Move the clock the way a test should: a new file renamed over the old one."""
    fresh = path.with_suffix(".tmp")
    fresh.write_text(text)
    os.replace(fresh, path)


def _utc_today() -> date:
    return datetime.now(UTC).date()


def test_without_settings_the_clock_is_todays_utc_date() -> None:
    assert Clock().today() == _utc_today()
    assert Clock().now().tzinfo is UTC


def test_a_fixed_date_is_the_date() -> None:
    assert Clock(date(2026, 3, 1)).today() == date(2026, 3, 1)


def test_the_file_is_read_on_every_call_so_a_test_can_move_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "as-of"
    clock = Clock(None, path)
    _write(path, "2025-03-31\n")
    assert clock.today() == date(2025, 3, 31)
    _write(path, "2025-04-01")
    assert clock.today() == date(2025, 4, 1)
    path.write_text("  2025-07-01 \n")  # rewritten in place, with spaces: still read
    assert clock.today() == date(2025, 7, 1)


def test_the_file_wins_over_the_fixed_date_and_its_absence_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "as-of"
    assert Clock(None, path).today() == _utc_today()  # absent, nothing fixed: UTC today
    clock = Clock(date(2026, 3, 1), path)
    assert clock.today() == date(2026, 3, 1)  # absent: the fixed date
    _write(path, "2027-01-01")
    assert clock.today() == date(2027, 1, 1)
    path.unlink()
    assert clock.today() == date(2026, 3, 1)


@pytest.mark.parametrize(
    "text",
    ["", "\n", "2025-02-30", "tomorrow", "20250401", "2025-W14-2", "2025-04-01T00:00:00",
     "٢٠٢٥-٠٤-٠١", "x" * (MAX_FILE_BYTES + 1)],
)  # fmt: skip
def test_text_that_is_not_a_date_keeps_the_last_good_date_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    path = tmp_path / "as-of"
    clock = Clock(date(2026, 3, 1), path)
    _write(path, "2025-05-01")
    assert clock.today() == date(2025, 5, 1)
    _write(path, text)
    with caplog.at_level(logging.WARNING, logger="streams.clock"):
        assert clock.today() == date(2025, 5, 1)
        assert clock.today() == date(2025, 5, 1)
    warnings = [r for r in caplog.records if "keeping" in r.getMessage()]
    assert len(warnings) == 1 and "keeping 2025-05-01" in warnings[0].getMessage()
    _write(path, "2025-06-01")  # a good date again is read at once
    assert clock.today() == date(2025, 6, 1)


def test_a_bad_file_before_any_good_one_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "as-of"
    _write(path, "not a date")
    assert Clock(date(2026, 3, 1), path).today() == date(2026, 3, 1)
    assert Clock(None, path).today() == _utc_today()


def test_an_unreadable_file_falls_back_instead_of_raising(tmp_path: Path) -> None:
    path = tmp_path / "as-of"
    path.mkdir()  # reading a folder raises IsADirectoryError
    assert Clock(date(2026, 3, 1), path).today() == date(2026, 3, 1)


def test_now_is_the_wall_clock_whatever_the_file_says(tmp_path: Path) -> None:
    path = tmp_path / "as-of"
    _write(path, "2030-01-01")
    before = datetime.now(UTC)
    now = Clock(None, path).now()
    assert before <= now <= datetime.now(UTC)


def test_the_worker_says_at_start_that_its_date_comes_from_a_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="streams.clock"):
        Clock(None, tmp_path / "as-of")
        Clock(date(2026, 3, 1))
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "ASSETSTREAM_AS_OF_FILE" in said[0] and "for tests" in said[0]


# ---- the setting -------------------------------------------------------------------


def test_the_setting_is_unset_by_default() -> None:
    assert load_settings().as_of_file is None


def test_the_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ASSETSTREAM_AS_OF_FILE", str(tmp_path / "as-of"))
    assert load_settings().as_of_file == tmp_path / "as-of"  # need not exist yet
    monkeypatch.setenv("ASSETSTREAM_AS_OF_FILE", "")
    assert load_settings().as_of_file is None


def test_a_path_in_a_missing_folder_or_a_folder_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^ASSETSTREAM_AS_OF_FILE: folder not found"):
        load_settings(ASSETSTREAM_AS_OF_FILE=str(tmp_path / "nowhere" / "as-of"))
    with pytest.raises(SettingsError, match=r"^ASSETSTREAM_AS_OF_FILE: is a folder"):
        load_settings(ASSETSTREAM_AS_OF_FILE=str(tmp_path))
