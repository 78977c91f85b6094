"""parsers/, ocr/ and rules/ take plain values and never import the daemon (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {"inbox_daemon", "sqlmodel", "sqlalchemy", "alembic", "pydantic"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ["parsers", "ocr", "rules"])
def test_pure_packages_do_not_import_the_daemon(package):
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offenders = {
        str(f.relative_to(REPO)): sorted(imported_modules(f) & FORBIDDEN)
        for f in files
        if imported_modules(f) & FORBIDDEN
    }
    assert offenders == {}


def test_the_check_sees_a_forbidden_import(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import os\nfrom inbox_daemon.config import Config\n")
    assert "inbox_daemon" in imported_modules(sample)
