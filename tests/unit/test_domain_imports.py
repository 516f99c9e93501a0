"""`domain/` imports only the standard library and itself (STYLE.md: pure rules, no I/O)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | {"domain", "__future__"}
    files = sorted(DOMAIN.glob("*.py"))
    assert len(files) >= 10
    outside = {f.name: sorted(imported_roots(f) - allowed) for f in files}
    assert {name: roots for name, roots in outside.items() if roots} == {}


def test_the_check_sees_a_third_party_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import json\nfrom pydantic import BaseModel\nfrom . import x\n")
    assert imported_roots(sample) == {"json", "pydantic"}
