"""Placement on SLURM, derived from each job's resources, never listed per rule: over the paper DAG
(every method, the real downloads, HD-BET), every job that asks for a GPU reaches the GPU partition
of profiles/slurm/partitions.yaml through the SLURM plugin's own partition choice, every other job
the CPU partition, and every job that needs the internet (resource `downloads`) is a local rule,
which runs in the Snakemake process on the login node. A GPU rule added tomorrow is placed by the
same resources, with no profile line to forget."""

from __future__ import annotations

import re
import tomllib
import types

import pytest
import yaml
from tests.helpers.env_check import load_rules
from tests.helpers.workflow import REPO, placeholder_manual_data, copy_workflow, snakemake

PROFILE = REPO / "profiles" / "slurm"
pytestmark = pytest.mark.slow  # a dry run of the paper DAG and Snakemake's parse of it
pytest.importorskip("snakemake_executor_plugin_slurm")


def _jobs(stdout: str) -> list[dict]:
    """Each job of a dry run: rule, resources and threads (a dry run never says which are local)."""
    jobs = []
    for line in stdout.splitlines():
        head = re.fullmatch(r"rule (\w+):", line.strip()) if not line.startswith(" ") else None
        if head:
            jobs.append({"rule": head.group(1), "resources": {}, "threads": 1})
        elif jobs and line.strip().startswith("resources: "):
            for item in line.strip()[len("resources: ") :].split(", "):
                name, _, value = item.partition("=")
                jobs[-1]["resources"][name] = int(value) if value.isdigit() else value
        elif jobs and line.strip().startswith("threads: "):
            jobs[-1]["threads"] = int(line.strip().split()[1])
    return jobs


def _partition(job: dict, partitions) -> str | None:
    from snakemake_executor_plugin_slurm.partitions import get_best_partition

    stand_in = types.SimpleNamespace(name=job["rule"], threads=job["threads"], resources=job["resources"])
    logger = types.SimpleNamespace(info=lambda *a: None, debug=lambda *a: None, warning=lambda *a: None)
    return get_best_partition(partitions, stand_in, logger)


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """(the paper DAG's jobs, its rules as Snakemake parsed them)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("placement"))
    placeholder_manual_data(workdir, 3)
    cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    cfg["datasets"]["IXI"]["skull_strip"] = "hdbet"  # HD-BET (gpu=1) and its weights' download in the DAG
    cfg["max_subjects"] = 3
    (workdir / "config" / "placement.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(workdir, "-n", "--configfile", "config/placement.yaml")
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
    return _jobs(res.stdout), load_rules(workdir, ["config/placement.yaml"])["config/placement.yaml"]


def test_every_gpu_job_reaches_the_gpu_partition_and_no_other_does(paper):
    from snakemake_executor_plugin_slurm.partitions import read_partition_file

    jobs, rules = paper
    partitions = read_partition_file(PROFILE / "partitions.yaml")
    remote = [j for j in jobs if not rules[j["rule"]]["local"]]
    gpu = {j["rule"] for j in remote if j["resources"].get("gpu", 0) > 0}
    assert {"train_model", "train_ddpm", "pretrain_cddpm", "score_lesions", "skull_strip_hdbet"} <= gpu
    wrong = sorted(
        {
            (j["rule"], _partition(j, partitions))
            for j in remote
            if _partition(j, partitions) != ("YOUR_GPU_PARTITION" if j["rule"] in gpu else "YOUR_CPU_PARTITION")
        }
    )
    assert not wrong, f"jobs placed on the wrong partition: {wrong}"


def test_every_job_that_needs_the_internet_runs_in_the_snakemake_process(paper):
    jobs, rules = paper
    internet = {j["rule"] for j in jobs if j["resources"].get("downloads")}
    assert internet == {"download", "download_wmh", "download_hdbet_weights", "download_weights"}
    assert all(rules[r]["local"] for r in internet), [r for r in internet if not rules[r]["local"]]
    assert not [j["rule"] for j in jobs if rules[j["rule"]]["local"] and j["resources"].get("gpu", 0) > 0]


def test_the_profile_leaves_placement_to_the_resources_and_pins_the_plugin():
    profile = yaml.safe_load((PROFILE / "config.v8+.yaml").read_text(encoding="utf-8"))
    assert profile["slurm-partition-config"] == "partitions.yaml"  # made absolute by Snakemake
    assert profile["software-deployment-method"] == "conda" and "use-conda" not in profile
    assert "set-resources" not in profile and "slurm_partition" not in profile.get("default-resources", {})
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    plugin = [r for r in extras["workflow"] if r.startswith("snakemake-executor-plugin-slurm")]
    assert plugin and "<" in plugin[0] and ">=" in plugin[0], plugin  # the partition choice needs >= 2.7
    assert not (PROFILE / "config.yaml").exists()  # Snakemake 9 reads config.v8+.yaml first


def test_the_methods_on_published_networks_train_per_fold_after_their_one_download(paper):
    """FAE, RA (PHANES): one training per (modality, fold) like every trained method, and the one
    `download_weights` job (on the login node) fetches what they train on, before the first."""
    from patch2loc.registry import METHODS, run_methods

    jobs, _ = paper
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    on_published = [METHODS[m] for m in run_methods(cfg) if METHODS[m].pretrained]
    assert on_published, "the paper config runs no method on published networks"
    per_fold = sum(1 for j in jobs if j["rule"] == METHODS["AE"].train_rule)  # one per (contrast, fold)
    assert per_fold >= 5
    for method in on_published:
        assert sum(1 for j in jobs if j["rule"] == method.train_rule) == per_fold, method.name
    assert [j["rule"] for j in jobs].count("download_weights") == 1


def test_no_job_asks_for_more_than_a_day(paper):
    """A training longer than a day runs as successive jobs that resume (methods/joblimit.py)."""
    from patch2loc.methods.joblimit import JOB_LIMIT_MINUTES

    jobs, _ = paper
    runtimes = {job["rule"]: job["resources"].get("runtime", 0) for job in jobs}
    assert runtimes and max(runtimes.values()) <= JOB_LIMIT_MINUTES, runtimes
    assert runtimes.get("train_ra") == JOB_LIMIT_MINUTES  # RA's training is longer than one job
