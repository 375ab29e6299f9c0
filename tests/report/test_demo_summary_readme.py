"""The demo's summary writes the README's table into its marked block only, and `make demo` exits
with its checks (patch2loc.evaluation.report.demo_summary)."""

from __future__ import annotations

from patch2loc.evaluation.report import demo_summary
from tests.helpers.demo_run import finished_demo_run as _run


def test_readme_block_is_replaced_and_nothing_else(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0)
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro ±\n<!-- demo-table:start -->\nold numbers\n<!-- demo-table:end -->\noutro\n", encoding="utf-8"
    )
    for _ in range(2):  # a second run gives the same file
        assert demo_summary.main([str(run), "--markdown-only", "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("intro ±\n<!-- demo-table:start -->\n| | BraTS21 |")
    assert text.endswith("<!-- demo-table:end -->\noutro\n") and "old numbers" not in text
    assert "| Patch2Loc | 30.00 ± 1.41 / 25.00 ± 1.41 |" in text


def test_a_named_block_is_replaced_and_the_default_one_kept(tmp_path):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0)
    readme = tmp_path / "README.md"
    original = (
        "<!-- demo-table:start -->\nshort demo\n<!-- demo-table:end -->\n"
        "<!-- demo-long-table:start -->\nold\n<!-- demo-long-table:end -->\n"
    )
    readme.write_text(original, encoding="utf-8")
    assert demo_summary.main([str(run), "--markdown-only", "--readme", str(readme), "--block", "demo-long-table"]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("<!-- demo-table:start -->\nshort demo\n<!-- demo-table:end -->\n")
    assert "<!-- demo-long-table:start -->\n| | BraTS21 |" in text and "\nold\n" not in text


def test_readme_without_markers_is_refused_unchanged(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0)
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n", encoding="utf-8")
    assert demo_summary.main([str(run), "--readme", str(readme)]) == 2
    assert readme.read_text(encoding="utf-8") == "no markers here\n"
    assert "demo-table:start" in capsys.readouterr().err


def _make_demo(tmp_path, ours_auprc: float):
    """`make demo` of the repository's Makefile, with stand-in snakemake (does nothing) and python
    (the real interpreter) in a fake venv, on a finished run written by `_run`."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    work = tmp_path / "work"
    (work / "results" / "demo").mkdir(parents=True)
    _run(work / "results" / "demo", ours_auprc=ours_auprc, val_error=9.0)
    (work / "pyproject.toml").write_text("", encoding="utf-8")
    bin_dir = work / "fakevenv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "snakemake").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    for tool in ("snakemake", "python"):
        (bin_dir / tool).chmod(0o755)
    (bin_dir / ".installed").touch()
    os.utime(work / "pyproject.toml", (0, 0))  # older than .installed: make installs nothing
    makefile = Path(__file__).resolve().parents[2] / "Makefile"
    return subprocess.run(
        ["make", "-f", str(makefile), "demo", "VENV=fakevenv", "PYTHON=true"],
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1"},
        timeout=120,
    )


def test_make_demo_exits_non_zero_when_a_check_fails(tmp_path):
    failed = _make_demo(tmp_path, ours_auprc=0.15)  # WMH and ATLAS_v2 at 1.5x Thresh: must be >= 2x
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "FAIL  AUPRC WMH" in failed.stdout and "| Patch2Loc |" in failed.stdout  # the summary still prints


def test_make_demo_exits_0_when_every_check_passes(tmp_path):
    passed = _make_demo(tmp_path, ours_auprc=0.25)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "FAIL" not in passed.stdout and passed.stdout.count("PASS") == 7
