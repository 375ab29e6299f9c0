"""The Snakemake workflow: dry runs of the demo and paper configs, lint, schema (the tiny real run:
test_workflow_tiny_run.py)."""

from __future__ import annotations


import pytest
import yaml
from patch2loc.run.configfiles import load as load_configfiles
from tests.helpers.workflow import REAL_STAGES, STAGES, dry_run_jobs, jobs_listed, snakemake


def test_dry_run_demo_lists_every_stage(demo_dry_run):
    res = demo_dry_run
    assert res.returncode == 0, res.stderr + res.stdout
    missing = set(STAGES) - jobs_listed(res.stdout)
    assert not missing, f"stages missing from the demo DAG: {missing}\n{res.stdout[-3000:]}"


def test_long_demo_overlay_writes_only_under_its_own_run(demo_long_dry_run):
    # config/demo_long.yaml is applied on top of demo.yaml; it must not touch the short demo's results
    res = demo_long_dry_run
    assert res.returncode == 0, res.stderr + res.stdout
    assert "results/demo_long/models/T2/fold0/best.pt" in res.stdout
    assert "results/demo/" not in res.stdout


def test_dry_run_paper_lists_every_stage(paper_dry_run):
    res = paper_dry_run
    assert res.returncode == 0, res.stderr + res.stdout
    missing = set(REAL_STAGES) - jobs_listed(res.stdout)
    assert not missing, f"stages missing from the paper DAG: {missing}\n{res.stdout[-3000:]}"
    for archive in ("IXI-T1.tar", "IXI-T2.tar"):
        assert archive in res.stdout


def test_dry_run_paper_trains_every_method_per_modality_and_fold_on_a_gpu(paper_dry_run):
    res = paper_dry_run
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = dry_run_jobs(res.stdout)
    single = ("train_ddpm", "train_pddpm", "pretrain_cddpm", "train_cddpm", "train_ae", "train_ra", "train_phanes")
    for rule in ("train_model", "train_dae", *single, "train_fae"):
        trainings = [j for j in jobs if j["rule"] == rule]
        inputs = ("T1", "T2", "T1T2") if rule in ("train_model", "train_dae") else ("T1", "T2")  # T1T2: channels
        assert sorted(j["wildcards"] for j in trainings) == sorted(
            f"modality={m}, fold={k}" for m in inputs for k in range(5)
        )
        assert all("gpu=1" in j["resources"] for j in trainings), trainings[0]
    dae = [j for j in jobs if j["rule"] == "train_dae"][0]
    assert "models/DAE/" in dae["output"] and "benchmarks/train_dae/DAE_" in dae["benchmark"]
    scoring = [j for j in jobs if j["rule"].startswith("score_lesions")]
    assert {j["wildcards"].split(",")[0] for j in scoring} == {
        f"method={m}"
        for m in ("Patch2Loc", "DAE", "Thresh", "DDPM", "pDDPM", "cDDPM", "AE", "VAE", "RA", "PHANES", "FAE")
    }
    for job in scoring:  # Thresh in the CPU copy of the rule, without a GPU; the networks with one
        cpu = "method=Thresh" in job["wildcards"]
        assert job["rule"] == ("score_lesions_cpu" if cpu else "score_lesions")
        assert ("gpu=0" if cpu else "gpu=1") in job["resources"]
    # The training and scoring rules whose jobs ask for a GPU (test_placement.py: each reaches the GPU partition).
    gpu_rules = {
        j["rule"]
        for j in jobs
        if "gpu=1" in j.get("resources", "") and j["rule"].startswith(("train", "pretrain", "score"))
    }
    assert gpu_rules == {
        "train_model",
        "train_dae",
        "train_ddpm",
        "train_pddpm",
        "pretrain_cddpm",
        "train_cddpm",
        "train_ae",
        "train_vae",
        "train_ra",
        "train_phanes",
        "train_fae",
        "score_healthy",
        "score_lesions",
    }


def test_table1_target_runs_only_what_table1_needs(workdir):
    res = snakemake(workdir, "-n", "table1", "--configfile", "config/demo.yaml")
    assert res.returncode == 0, res.stderr + res.stdout
    rules = jobs_listed(res.stdout)
    assert {"train_model", "train_dae", "score_lesions", "table1"} <= rules
    assert not rules & {"table2", "figures", "report", "compute_table", "run_info", "qc_overview"}, rules


def test_unknown_or_unconfigured_method_is_refused_with_its_name(workdir):
    res = snakemake(workdir, "-n", "--configfile", "config/demo.yaml", "--config", "methods=[Patch2Loc,SVAE]")
    assert res.returncode != 0 and "SVAE" in res.stderr + res.stdout
    cfg = load_configfiles([workdir / "config" / "demo.yaml"])
    del cfg["dae"]
    (workdir / "config" / "nodae.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(workdir, "-n", "--configfile", "config/nodae.yaml")
    assert res.returncode != 0 and "`dae:`" in res.stderr + res.stdout
    cfg.pop("methods")  # without `methods`: every method whose block the config has
    (workdir / "config" / "nodae.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(workdir, "-n", "--configfile", "config/nodae.yaml")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "train_dae" not in jobs_listed(res.stdout) and "train_model" in jobs_listed(res.stdout)


def test_dry_run_paper_without_brats_stops_with_instructions(workdir):
    res = snakemake(workdir, "-n", "--config", "max_subjects=3")
    assert res.returncode != 0
    text = res.stderr + res.stdout
    assert "BraTS21" in text and "BraTS2021_" in text  # names the dataset and the expected files


def test_lint_is_clean(workdir):
    res = snakemake(workdir, "--lint", "--configfile", "config/demo.yaml")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize(
    "override, named",
    [
        ("bogus_key=1", "bogus_key"),
        ("folds=[7]", "folds"),
        ("source=somewhere", "source"),
    ],
)
def test_schema_violation_is_rejected_with_its_name(workdir, override, named):
    res = snakemake(workdir, "-n", "--configfile", "config/demo.yaml", "--config", override)
    assert res.returncode != 0
    text = res.stderr + res.stdout
    assert named in text and "validat" in text.lower()


def test_a_block_under_an_unknown_name_stops_the_run_naming_it(workdir):
    """A misspelt or foreign block (`train:` instead of `patch2loc:`) is never read as another one."""
    cfg = load_configfiles([workdir / "config" / "demo.yaml"])
    (workdir / "config" / "odd.yaml").write_text(yaml.safe_dump({**cfg, "train": cfg["patch2loc"]}))
    res = snakemake(workdir, "-n", "--configfile", "config/odd.yaml")
    assert res.returncode != 0 and "'train' was unexpected" in res.stderr + res.stdout, (res.stderr + res.stdout)[
        -3000:
    ]


def test_patch_size_below_two_is_rejected(workdir):
    """train.patch_size (null = 1/8 of the slice) must be an integer >= 2, read from a config file
    (a nested --config value would arrive as a string and fail on its type instead)."""
    cfg = load_configfiles([workdir / "config" / "demo.yaml"])
    for size, ok in ((1, False), (12, True)):
        cfg["patch2loc"]["patch_size"] = size
        (workdir / "config" / "patch.yaml").write_text(yaml.safe_dump(cfg))
        res = snakemake(workdir, "-n", "--configfile", "config/patch.yaml")
        text = res.stderr + res.stdout
        assert (res.returncode == 0) == ok, text[-3000:]
        if not ok:
            assert "patch_size" in text and "minimum" in text.lower()
