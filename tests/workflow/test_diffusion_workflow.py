"""The diffusion models in the workflow: the paper config and `make demo-long` train and score every
method (dry runs; the paper DAG's GPU rules are checked in test_workflow)."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from tests.helpers.workflow import dry_run_jobs, jobs_listed, snakemake

EVERY = ("Patch2Loc", "DAE", "Thresh", "DDPM", "pDDPM", "cDDPM", "AE", "VAE")
PAPER = (*EVERY, "RA", "PHANES", "FAE")  # the paper config: also the three on published networks
OFFLINE = (*EVERY, "RA-noLPIPS", "PHANES-noPretrained", "FAE-random")  # ... and their variants: the long demo
DIFFUSION_RULES = {"train_ddpm", "train_pddpm", "pretrain_cddpm", "train_cddpm"}


def _scored_methods(jobs: list[dict], rule_prefix: str) -> set[str]:
    return {j["wildcards"].split(",")[0].removeprefix("method=") for j in jobs if j["rule"].startswith(rule_prefix)}


def test_paper_dry_run_trains_and_scores_every_method(paper_dry_run):
    res = paper_dry_run
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = dry_run_jobs(res.stdout)
    assert DIFFUSION_RULES <= jobs_listed(res.stdout)
    assert _scored_methods(jobs, "score_healthy") == set(PAPER) == _scored_methods(jobs, "score_lesions")
    # cDDPM's training starts from its own pre-training of the same (modality, fold), in its own folder
    cddpm = [j for j in jobs if j["rule"] == "train_cddpm" and j["wildcards"] == "modality=T2, fold=3"][0]
    assert "models/cDDPM_encoder/T2/fold3/best.pt" in cddpm["input"]
    assert "models/cDDPM/T2/fold3/best.pt" in cddpm["output"]
    pre = [j for j in jobs if j["rule"] == "pretrain_cddpm"]
    assert len(pre) == 10 and all("gpu=1" in j["resources"] for j in pre)
    assert {"export_bundle_DDPM", "export_bundle_pDDPM", "export_bundle_cDDPM"} <= jobs_listed(res.stdout)


def test_long_demo_trains_and_scores_every_method_and_the_quick_demo_keeps_three(demo_long_dry_run, demo_dry_run):
    res = demo_long_dry_run
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = dry_run_jobs(res.stdout)
    assert DIFFUSION_RULES <= jobs_listed(res.stdout)
    assert _scored_methods(jobs, "score_lesions") == set(OFFLINE)
    quick = demo_dry_run
    assert quick.returncode == 0, quick.stderr
    assert not DIFFUSION_RULES & jobs_listed(quick.stdout)


@pytest.mark.slow
@pytest.mark.long  # make test-long: about 17 minutes on 2 cores
def test_tiny_run_trains_scores_and_bundles_the_diffusion_models(workdir):  # noqa: F811
    from tests.helpers.workflow import tiny_config

    path = tiny_config(workdir)
    cfg = yaml.safe_load(path.read_text())
    cfg["methods"] = ["Patch2Loc", "Thresh", "DDPM", "pDDPM", "cDDPM"]  # the report needs Patch2Loc's loss curves
    tiny = dict(steps=4, batch_size=2, width=8, blocks=1, val_every=2, val_batches=1, threads=1)
    for block in ("ddpm", "pddpm", "cddpm"):
        cfg[block].update(tiny)
    cfg["pddpm"]["patch_size"] = 16
    cfg["cddpm"]["pretrain"].update(steps=2, batch_size=2, decoder_width=32, val_every=2, val_batches=1)
    path.write_text(yaml.safe_dump(cfg))
    res = snakemake(workdir, "--configfile", "config/tiny.yaml", "--resources", "gpu=1", timeout=1800)
    assert res.returncode == 0, res.stderr[-5000:]
    out = workdir / "results" / "tiny"
    table = pd.read_csv(out / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    ours = table[table["source"] == "this harness"]
    assert ours["method"].tolist() == ["Patch2Loc", "Thresh", "DDPM", "pDDPM", "cDDPM"]
    for method in ("DDPM", "pDDPM", "cDDPM"):
        assert (out / "bundles" / method / "T1.zip").exists() and (out / "bundles" / method / "T2.zip").exists()
    assert (out / "models" / "cDDPM_encoder" / "T2" / "fold0" / "best.pt").exists()
    # the compute table counts the pre-training's jobs too, as the cDDPM's GPU time
    compute = pd.read_csv(out / "tables" / "compute.csv", keep_default_na=False).set_index(["stage", "method"])
    assert compute.loc[("pretrain_cddpm", "cDDPM"), "jobs"] == compute.loc[("train_cddpm", "cDDPM"), "jobs"] > 0
    assert compute.loc[("pretrain_cddpm", "cDDPM"), "gpu_hours"] > 0
