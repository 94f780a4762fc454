"""`make lint` keeps the architecture: a planted import breaks a contract.

The import contracts of pyproject.toml (lint-imports) are run on a copy of
the code: as it is, every contract holds; with one import that breaks a
rule, the check fails and names the import. The size report runs too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    copy.mkdir()
    for folder in ("lib", "geo", "views"):
        shutil.copytree(
            ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _lint(copy: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=copy,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    copy = _copy(tmp_path_factory.mktemp("lint"))
    return copy, _lint(copy)


def test_contracts_hold_on_the_code(clean):
    _copy_dir, result = clean
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("lib/domain/model.py", "import folium", "folium only in web rendering"),
        ("lib/analysis/stats.py", "import sqlalchemy", "SQLAlchemy only in the store"),
        ("lib/rendering/vue.py", "import streamlit", "Streamlit only in app.py"),
        ("lib/domain/selection.py", "import lib.store.ptce", "Domain, then store"),
        ("lib/rendering/web/maps.py", "import matplotlib", "matplotlib only in print"),
    ],
)
def test_a_planted_import_breaks_its_contract(tmp_path, module, planted, contract):
    copy = _copy(tmp_path)
    target = copy / module
    text = target.read_text(encoding="utf-8")
    head, sep, rest = text.partition("from __future__ import annotations\n")
    target.write_text(f"{head}{sep}\n{planted}  # planted by the test\n{rest}")
    result = _lint(copy)
    assert result.returncode != 0
    assert contract in result.stdout
    assert "BROKEN" in result.stdout


def test_long_modules_and_functions_are_split_or_justified():
    from scripts.sizes import report

    unjustified = [row for row in report(ROOT) if not row[3]]
    assert unjustified == []
