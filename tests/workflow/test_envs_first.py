"""The envs are built before any data is there: `--conda-create-envs-only`, the first command on a
cluster's login node (docs/cluster.md, first day), runs on an empty data/raw, plainly and under
profiles/slurm, while BraTS21 and ATLAS v2 (which need a registration with their owners) are still
missing; a plain dry run still stops with the owners' instructions. No conda here: a stand-in
answers Snakemake's questions and makes each env an empty folder."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import yaml
from tests.helpers.workflow import copy_workflow, snakemake

pytestmark = pytest.mark.slow  # the paper DAG, built twice

STAND_IN = """#!/bin/sh
case "$1 $2" in
  "--version "*) echo "conda 24.11.3" ;;
  "info --json") echo '{{"conda_prefix": "{root}", "root_prefix": "{root}", "platform": "linux-64"}}' ;;
  "config --get") echo '{{"get": {{"channel_priority": "strict"}}, "success": true}}' ;;
  "env create") while [ $# -gt 0 ]; do [ "$1" = "--prefix" ] && mkdir -p "$2"; shift; done ;;
esac
"""
ENVS = ("envs/preprocess.yaml", "envs/torch.yaml", "envs/hdbet.yaml", "envs/analysis.yaml")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(a workflow copy with an empty data/raw and a paper config of 2 subjects a list, PATH with the
    stand-in conda first)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("envs_first"))
    (workdir / "data" / "raw").mkdir(parents=True)
    cfg = {"extends": "config.yaml", "max_subjects": 2}
    cfg["datasets"] = yaml.safe_load((workdir / "config" / "config.yaml").read_text(encoding="utf-8"))["datasets"]
    cfg["datasets"]["IXI"]["skull_strip"] = "hdbet"  # HD-BET's env in the DAG as well (listed in full)
    (workdir / "config" / "first_day.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    root = tmp_path_factory.mktemp("conda")
    (root / "bin").mkdir()
    conda = root / "bin" / "conda"
    conda.write_text(STAND_IN.format(root=root), encoding="utf-8")
    conda.chmod(0o755)
    return workdir, root


@pytest.mark.parametrize("profile", [[], ["--profile", "profiles/slurm"]], ids=["plain", "slurm"])
def test_the_envs_are_built_on_an_empty_data_folder(site, profile, monkeypatch):
    workdir, root = site
    monkeypatch.setenv("PATH", f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}")
    shutil.rmtree(workdir / ".snakemake", ignore_errors=True)  # envs made by the other case count as made
    args = [*profile, "--configfile", "config/first_day.yaml", "--sdm", "conda", "--conda-create-envs-only"]
    res = snakemake(workdir, *args)
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert all(f"{env} created" in log for env in ENVS), [e for e in ENVS if f"{e} created" not in log]
    assert not list((workdir / "data" / "raw").iterdir())  # nothing fetched, nothing written there


def test_a_dry_run_still_stops_with_the_owners_instructions(site):
    workdir, _ = site
    res = snakemake(workdir, "-n", "--configfile", "config/first_day.yaml")
    assert res.returncode != 0
    assert re.search(r"(BraTS21|ATLAS v2\.0) .*, so the workflow cannot download it", res.stderr + res.stdout)
