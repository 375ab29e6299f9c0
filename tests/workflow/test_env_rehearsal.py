"""The env rehearsal end to end (make rehearse-envs, in a copy of the workflow): every job of the demo
DAG ran guarded in its rule's env and loaded nothing from the host, and for each env file a rule's
job fails once one package it needs is taken out (the control: without the guard it passes).
About an hour on 2 cores, 13 GB of envs (reused from the checkout's results/rehearsal-envs/envs when
make rehearse-envs built them there): make test-long only.

The guard's own behaviour is tested here in seconds, on a one-rule workflow and a venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.env_check import workflow_copy

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = 'rule a:\n    output: "a.txt"\n    conda: "env.yaml"\n    script: "s.py"\n'
SCRIPT = (
    "import importlib.util, json\n"
    "found = {m: importlib.util.find_spec(m) is not None for m in ('yaml', 'numpy')}\n"
    "open(snakemake.output[0], 'w').write(json.dumps(found))\n"
)


def _one_rule_run(tmp_path: Path, envs: Path, guard: str) -> dict:
    """A rule whose env lists PyYAML only, run with --sdm conda through the stand-in conda."""
    tmp_path.mkdir()
    (tmp_path / "env.yaml").write_text("channels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pyyaml>=6.0,<7\n")
    (tmp_path / "s.py").write_text(SCRIPT)
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    subprocess.run(
        [sys.executable, "-m", "rehearsals.envs.conda", "install", str(tmp_path / "conda")], cwd=REPO, check=True
    )
    env = {**os.environ, "PATH": f"{tmp_path / 'conda' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env |= {"P2L_ENV_RECORD": str(tmp_path / "records"), "P2L_ENV_GUARD": guard}
    cmd = [sys.executable, "-m", "snakemake", "--sdm", "conda", "--cores", "1", "--conda-prefix", str(envs)]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads((tmp_path / "a.txt").read_text())


@pytest.mark.slow
def test_the_guard_keeps_the_host_out_of_a_job_and_only_the_guard_does(tmp_path):
    pytest.importorskip("numpy")  # the host has it: the job must not see it
    guarded = _one_rule_run(tmp_path / "on", tmp_path / "envs", "on")
    assert guarded == {"yaml": True, "numpy": False}
    record = json.loads(next((tmp_path / "on" / "records").glob("*.json")).read_text())
    assert record["rule"] == "a" and record["guarded"] and record["outside"] == []
    assert any("site-packages" in p for p in record["removed_paths"])  # the preamble's host paths
    unguarded = _one_rule_run(tmp_path / "off", tmp_path / "envs", "off")  # the same env, reused
    assert unguarded == {"yaml": True, "numpy": True}  # the preamble's leak


@pytest.mark.slow
@pytest.mark.long
def test_every_job_ran_in_its_env_and_each_removal_fails(tmp_path):
    work = workflow_copy(tmp_path / "wf")
    shutil.copytree(REPO / "rehearsals", work / "rehearsals", ignore=shutil.ignore_patterns("__pycache__"))
    envs = REPO / "results" / "rehearsal-envs" / "envs"
    cmd = [
        sys.executable,
        "-m",
        "rehearsals.envs.run",
        "--cores",
        "2",
        *(["--envs", str(envs)] if envs.is_dir() else []),
    ]
    res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=3 * 3600)
    summary = (work / "results" / "rehearsal-envs" / "summary.txt").read_text()
    assert res.returncode == 0, summary + res.stderr[-3000:]
    assert "every job ran in its own env's packages only: yes" in summary
    for env in ("preprocess", "analysis", "torch"):
        assert any(line.startswith(f"{env}: without") and "as it must" in line for line in summary.splitlines()), env
    assert "hdbet: full env: hd-bet -h ran" in summary and "(NOT as it must be)" not in summary
    assert "without the guard" in summary and "passed (the host's package)" in summary
