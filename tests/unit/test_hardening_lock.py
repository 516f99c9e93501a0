"""The whole dependency tree is locked with hashes, and make venv installs only from the lock.

Found in review (issue 12): only direct dependencies were pinned, so a fresh clone could
install transitive versions nobody tested, unverified. requirements.lock now pins every
package of runtime + dev (Python 3.11, Linux x86_64) with sha256 hashes; pyproject.toml
keeps compatible ranges for library users.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\]+)")


def locked() -> dict[str, tuple[str, list[str]]]:
    """Package name → (version, hashes), from the lock's entries."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = _ENTRY.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            entries[current] = (match.group(2), [])
        elif line.strip().startswith("--hash=") and current:
            entries[current][1].append(line.strip().removeprefix("--hash=").rstrip(" \\"))
    return entries


def project() -> dict[str, list[Requirement]]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        "runtime": [Requirement(r) for r in data["dependencies"]],
        "dev": [Requirement(r) for r in data["optional-dependencies"]["dev"]],
    }


def test_every_locked_package_is_pinned_exactly_with_sha256_hashes() -> None:
    entries = locked()
    assert len(entries) > 40  # the tree, not just the direct dependencies
    for name, (version, hashes) in entries.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), (name, version)
        assert hashes, f"{name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_the_lock_holds_the_whole_tree_of_runtime_and_dev_dependencies() -> None:
    """Walk the installed metadata from pyproject's requirements: every node is locked."""
    entries = locked()
    environment = {**default_environment(), "python_version": "3.11", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "x86_64"}  # fmt: skip
    pending = [(r, ()) for group in project().values() for r in group]
    seen: set[str] = set()
    while pending:
        requirement, extras = pending.pop()
        markers_hold = requirement.marker is None or any(
            requirement.marker.evaluate({**environment, "extra": extra})
            for extra in extras or ("",)
        )
        name = canonicalize_name(requirement.name)
        if not markers_hold or name in seen:
            continue
        seen.add(name)
        assert name in entries, f"{name} ({requirement}) is not in {LOCK.name}: run make lock"
        version = entries[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
        for child in importlib.metadata.requires(requirement.name) or []:
            pending.append((Requirement(child), tuple(requirement.extras)))
    for tool in ("pip", "setuptools", "wheel"):  # pip itself and the build backend
        assert tool in entries, tool


def test_what_is_installed_is_what_is_locked() -> None:
    for name, (version, _) in locked().items():
        assert importlib.metadata.version(name) == version, f"{name}: run make venv"


def test_pyproject_keeps_compatible_ranges_and_the_new_runtime_dependencies() -> None:
    groups = project()
    runtime = {canonicalize_name(r.name): str(r.specifier) for r in groups["runtime"]}
    assert runtime["faust-streaming"] == "==0.15.3"
    assert runtime["aiokafka"] == "<0.15,>=0.14"
    for name in ("cramjam", "msgspec", "orjson"):
        assert name in runtime
    exact = [
        str(r)
        for group in groups.values()
        for r in group
        if any(s.operator == "==" for s in r.specifier) and r.name != "faust-streaming"
    ]
    assert exact == [], "only faust-streaming is exact; the lock pins the rest"
    for group in groups.values():
        for requirement in group:
            assert any(s.operator in (">=", "==") for s in requirement.specifier), requirement
    entries = locked()
    assert {n: entries[n][0] for n in ("cramjam", "msgspec", "orjson")} == {
        "cramjam": "2.14.0", "msgspec": "0.23.0", "orjson": "3.13.0",
    }  # fmt: skip


def test_make_venv_installs_from_the_lock_with_hashes_and_reinstalls_when_it_changes(
    tmp_path: Path,
) -> None:
    installed_at = 1_700_000_000
    for name in ("Makefile", "pyproject.toml", LOCK.name):
        shutil.copy(REPO / name, tmp_path / name)
        os.utime(tmp_path / name, (installed_at - 60,) * 2)
    (tmp_path / ".venv").mkdir()
    stamp = tmp_path / ".venv" / ".installed"
    stamp.touch()
    os.utime(stamp, (installed_at,) * 2)  # installed after the lock and pyproject changed

    def dry_run(*args: str) -> str:
        result = subprocess.run(["make", "-n", "venv", *args], cwd=tmp_path, capture_output=True,
                                text=True, timeout=30, check=True)  # fmt: skip
        return result.stdout

    assert "pip" not in dry_run()  # up to date: nothing to install
    for changed in (LOCK.name, "pyproject.toml"):
        commands = dry_run("-W", changed).splitlines()
        installs = [c for c in commands if " install " in c]
        assert len(installs) == 2, commands
        assert installs[0].endswith(f"install --require-hashes -r {LOCK.name}")
        assert "--no-deps" in installs[1] and installs[1].endswith("-e .")
