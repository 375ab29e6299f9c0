"""The code as CI wants it (`make format-check`): the rules as snakefmt writes them, the Python code
as ruff formats it, and ruff's lint (settings in pyproject.toml). Each check is also shown to catch
a file written otherwise, so a broken invocation cannot pass quietly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PY_CODE = [
    "src",
    "tests",
    "workflow",
    "benchmarks",
    "studies",
    "tools",
    "rehearsals",
]  # the Makefile's PY_CODE


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e .[test])")
    return found


def run(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, encoding="utf-8")


def test_rules_are_formatted_by_snakefmt():
    res = run(tool("snakefmt"), "--check", "Snakefile", "rules/")
    assert res.returncode == 0, res.stdout + res.stderr  # `snakefmt Snakefile rules/` formats them


def test_python_code_is_formatted_by_ruff():
    res = run(tool("ruff"), "format", "--check", *PY_CODE)
    assert res.returncode == 0, res.stdout + res.stderr  # `ruff format src tests workflow ...` formats it


def test_python_code_passes_ruff_check():
    res = run(tool("ruff"), "check", "--output-format", "concise", *PY_CODE)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_checks_catch_a_badly_written_file(tmp_path):
    """The same commands with the repository's settings reject a misformatted, unused import."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "bad.py").write_text("import os\nx = {  'a':1 }\n", encoding="utf-8")
    assert run(tool("ruff"), "format", "--check", "bad.py", cwd=tmp_path).returncode == 1
    res = run(tool("ruff"), "check", "--output-format", "concise", "bad.py", cwd=tmp_path)
    assert res.returncode == 1 and "F401" in res.stdout, res.stdout + res.stderr
