"""Profiles: the one-GPU-at-a-time cap holds for local runs and not under profiles/slurm.

The project's own profiles/ (default + slurm) drive a two-rule workflow whose rules both declare
gpu=1 and record when they run. Locally (profiles/default applied automatically) they must run
one after the other; under `--profile profiles/slurm` (profiles/default applied on top, as
Snakemake does) both must be queued at once. No SLURM here: the slurm profile is used with a
stand-in cluster executor (cluster-generic, each job a background process): the executor is
swapped on the command line and conda (absent in CI) is dropped from the slurm profile's copy;
every resource setting of both profiles is in force.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

SNAKEFILE = """
rule all:
    input: "a.txt", "b.txt"

rule gpu_job:
    output: "{name}.txt"
    resources: gpu=1
    shell: "date +%s.%N > {output}.tmp; sleep 4; date +%s.%N >> {output}.tmp; mv {output}.tmp {output}"
"""


@pytest.fixture()
def two_gpu_jobs(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    slurm = tmp_path / "profiles" / "slurm" / "config.v8+.yaml"
    settings = yaml.safe_load(slurm.read_text())
    for key in ("software-deployment-method", "conda-frontend"):
        settings.pop(key, None)
    slurm.write_text(yaml.safe_dump(settings))
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    return tmp_path


# Loaded by the Snakemake process of a run (PYTHONPATH): records each ILP solve (pulp, CBC) in a file.
SOLVE_PROBE = """
import os, pulp
_solve = pulp.LpProblem.solve
def solve(self, *args, **kwargs):
    with open(os.environ["SOLVES_FILE"], "a") as f:
        f.write("solve\\n")
    return _solve(self, *args, **kwargs)
pulp.LpProblem.solve = solve
"""


def _run(workdir: Path, *args: str, env: dict | None = None) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True, text=True, timeout=300, env=env
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


def _overlap(workdir: Path) -> float:
    """Seconds during which both jobs were running (<= 0: one after the other)."""
    (a0, a1), (b0, b1) = ([float(t) for t in (workdir / f"{n}.txt").read_text().split()] for n in "ab")
    return min(a1, b1) - max(a0, b0)


@pytest.mark.slow  # end to end (subprocesses, Snakemake or the real chain): out of make test-fast
def test_local_runs_hold_one_gpu_job_at_a_time(two_gpu_jobs):
    _run(two_gpu_jobs, "--cores", "2")  # profiles/default is applied automatically
    assert _overlap(two_gpu_jobs) <= 0


@pytest.mark.slow  # end to end (subprocesses, Snakemake or the real chain): out of make test-fast
def test_local_runs_plan_without_forking_the_ilp_solver(two_gpu_jobs, tmp_path):
    """profiles/default picks the greedy scheduler (bench_scheduler.py: the ILP one forks CBC each round
    while a job waits for the GPU); the probe sees the ILP solves when the command line asks for them."""
    probe, solves = tmp_path / "probe", tmp_path / "solves.txt"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(SOLVE_PROBE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(probe), "SOLVES_FILE": str(solves)}
    _run(two_gpu_jobs, "--cores", "2", env=env)
    assert not solves.exists()
    _run(two_gpu_jobs, "--cores", "2", "--forceall", "--scheduler", "ilp", env=env)
    assert solves.read_text().count("solve") >= 1


@pytest.mark.slow  # end to end (subprocesses, Snakemake or the real chain): out of make test-fast
def test_slurm_profile_queues_every_gpu_job_at_once(two_gpu_jobs):
    pytest.importorskip("snakemake_executor_plugin_cluster_generic")
    submit = "bash -c 'nohup bash \"$0\" >/dev/null 2>&1 & echo $!'"
    _run(
        two_gpu_jobs,
        "--profile",
        "profiles/slurm",
        "--executor",
        "cluster-generic",
        "--cluster-generic-submit-cmd",
        submit,
        "--latency-wait",
        "5",
    )
    assert _overlap(two_gpu_jobs) > 1.0


def test_the_slurm_rehearsal_scripts_run_from_the_repository_root():
    """`make rehearse-slurm` runs rehearsals/slurm/run.sh, which changes to the repository root from
    its own folder and calls its siblings by path: both must hold wherever the folder sits."""
    import re

    scripts = sorted((REPO / "rehearsals" / "slurm").glob("*.sh"))
    assert scripts
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        for rel in re.findall(r'cd "\$\(dirname "\$0"\)/([^"]*)"', text):
            assert (script.parent / rel).resolve() == REPO, (script.name, rel)
        for called in re.findall(r"(rehearsals/slurm/[\w.]+)", text):
            assert (REPO / called).exists(), (script.name, called)
