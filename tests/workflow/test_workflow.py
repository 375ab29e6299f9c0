"""The Snakemake workflow: dry runs of the demo and paper configs, lint, schema, a tiny real run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from tests.helpers.workflow import (
    REAL_STAGES,
    STAGES,
    _dry_run_jobs,
    _placeholder_manual_data,
    _tiny_config,
    jobs_listed,
    snakemake,
)


def test_dry_run_demo_lists_every_stage(workdir):
    res = snakemake(workdir, "-n", "--configfile", "config/demo.yaml")
    assert res.returncode == 0, res.stderr + res.stdout
    missing = set(STAGES) - jobs_listed(res.stdout)
    assert not missing, f"stages missing from the demo DAG: {missing}\n{res.stdout[-3000:]}"


def test_long_demo_overlay_writes_only_under_its_own_run(workdir):
    # config/demo_long.yaml is applied on top of demo.yaml; it must not touch the short demo's results
    res = snakemake(workdir, "-n", "--configfile", "config/demo.yaml", "config/demo_long.yaml")
    assert res.returncode == 0, res.stderr + res.stdout
    assert "results/demo_long/models/T2/fold0/best.pt" in res.stdout
    assert "results/demo/" not in res.stdout


def test_dry_run_paper_lists_every_stage(workdir):
    _placeholder_manual_data(workdir, 3)
    res = snakemake(workdir, "-n", "--config", "max_subjects=3")
    assert res.returncode == 0, res.stderr + res.stdout
    missing = set(REAL_STAGES) - jobs_listed(res.stdout)
    assert not missing, f"stages missing from the paper DAG: {missing}\n{res.stdout[-3000:]}"
    for archive in ("IXI-T1.tar", "IXI-T2.tar"):
        assert archive in res.stdout


def test_dry_run_paper_trains_every_method_per_modality_and_fold_on_a_gpu(workdir):
    _placeholder_manual_data(workdir, 3)
    res = snakemake(workdir, "-n", "--config", "max_subjects=3")
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = _dry_run_jobs(res.stdout)
    for rule in ("train_model", "train_dae", "train_ddpm", "train_pddpm", "pretrain_cddpm", "train_cddpm", "train_ae"):
        trainings = [j for j in jobs if j["rule"] == rule]
        assert sorted(j["wildcards"] for j in trainings) == sorted(
            f"modality={m}, fold={k}" for m in ("T1", "T2") for k in range(5)
        )
        assert all("gpu=1" in j["resources"] for j in trainings), trainings[0]
    dae = [j for j in jobs if j["rule"] == "train_dae"][0]
    assert "models/DAE/" in dae["output"] and "benchmarks/train_dae/DAE_" in dae["benchmark"]
    scoring = [j for j in jobs if j["rule"].startswith("score_lesions")]
    assert {j["wildcards"].split(",")[0] for j in scoring} == {
        f"method={m}" for m in ("Patch2Loc", "DAE", "Thresh", "DDPM", "pDDPM", "cDDPM", "AE", "VAE")
    }
    for job in scoring:  # Thresh in the CPU copy of the rule, without a GPU; the networks with one
        cpu = "method=Thresh" in job["wildcards"]
        assert job["rule"] == ("score_lesions_cpu" if cpu else "score_lesions")
        assert ("gpu=0" if cpu else "gpu=1") in job["resources"]
    # Every training or scoring rule whose jobs ask for a GPU goes to the SLURM profile's GPU partition.
    profile = yaml.safe_load((workdir / "profiles" / "slurm" / "config.yaml").read_text())["set-resources"]
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
        "score_healthy",
        "score_lesions",
    }
    assert all(profile.get(r, {}).get("slurm_partition") == "YOUR_GPU_PARTITION" for r in gpu_rules), gpu_rules


def test_table1_target_runs_only_what_table1_needs(workdir):
    res = snakemake(workdir, "-n", "table1", "--configfile", "config/demo.yaml")
    assert res.returncode == 0, res.stderr + res.stdout
    rules = jobs_listed(res.stdout)
    assert {"train_model", "train_dae", "score_lesions", "table1"} <= rules
    assert not rules & {"table2", "figures", "report", "compute_table", "run_info", "qc_overview"}, rules


def test_unknown_or_unconfigured_method_is_refused_with_its_name(workdir):
    res = snakemake(workdir, "-n", "--configfile", "config/demo.yaml", "--config", "methods=[Patch2Loc,SVAE]")
    assert res.returncode != 0 and "SVAE" in res.stderr + res.stdout
    cfg = yaml.safe_load((workdir / "config" / "demo.yaml").read_text())
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


def test_an_old_train_block_is_read_as_patch2loc_with_a_warning_and_both_are_refused(workdir):
    cfg = yaml.safe_load((workdir / "config" / "demo.yaml").read_text())
    old = {("train" if k == "patch2loc" else k): v for k, v in cfg.items()}
    (workdir / "config" / "old.yaml").write_text(yaml.safe_dump(old))
    res = snakemake(workdir, "-n", "--configfile", "config/old.yaml")
    assert res.returncode == 0, (res.stderr + res.stdout)[-3000:]
    assert "config: `train` is now `patch2loc`" in res.stderr
    assert "results/demo/models/T2/fold0/best.pt" in res.stdout  # Patch2Loc is still trained, from that block
    (workdir / "config" / "both.yaml").write_text(yaml.safe_dump({**old, "patch2loc": cfg["patch2loc"]}))
    res = snakemake(workdir, "-n", "--configfile", "config/both.yaml")
    assert res.returncode != 0 and "rename `train` to `patch2loc`" in res.stderr + res.stdout


def test_patch_size_below_two_is_rejected(workdir):
    """train.patch_size (null = 1/8 of the slice) must be an integer >= 2, read from a config file
    (a nested --config value would arrive as a string and fail on its type instead)."""
    cfg = yaml.safe_load((workdir / "config" / "demo.yaml").read_text())
    for size, ok in ((1, False), (12, True)):
        cfg["patch2loc"]["patch_size"] = size
        (workdir / "config" / "patch.yaml").write_text(yaml.safe_dump(cfg))
        res = snakemake(workdir, "-n", "--configfile", "config/patch.yaml")
        text = res.stderr + res.stdout
        assert (res.returncode == 0) == ok, text[-3000:]
        if not ok:
            assert "patch_size" in text and "minimum" in text.lower()


@pytest.mark.slow
def test_tiny_end_to_end_run_reaches_the_report(workdir):
    _tiny_config(workdir)
    res = snakemake(workdir, "--configfile", "config/tiny.yaml", "--resources", "gpu=1", timeout=1200)
    assert res.returncode == 0, res.stderr[-5000:]
    out = workdir / "results" / "tiny"
    table = pd.read_csv(out / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    ours = table[table["source"] == "this harness"]
    assert ours["method"].tolist() == ["Patch2Loc", "DAE", "Thresh"]  # above the published rows
    assert table["source"].tolist() == ["this harness"] * 3 + ["published"] * (len(table) - 3)
    for dataset in ("BraTS21", "MSLUB", "ATLAS_v2", "WMH"):
        for metric in ("Dice", "AUPRC"):
            values = [float(cell.split(" ")[0]) for cell in ours[f"{dataset} {metric}"]]
            assert all(0.0 <= v <= 100.0 for v in values), (dataset, metric, values)  # finite, in percent
    assert (out / "report.html").stat().st_size > 10_000
    # Table 3 and the bias table: every method, every lesion set; the test subjects' IXI sites.
    table3 = pd.read_csv(out / "tables" / "table3.csv")
    assert sorted(table3.groupby("method").size().items()) == [("DAE", 4), ("Patch2Loc", 4), ("Thresh", 4)]
    bias = pd.read_csv(out / "tables" / "bias.csv", keep_default_na=False)
    sites = set(bias.loc[bias["grouping"] == "site", "group"])
    assert sites == {"HH", "IOP", "permutation p"}  # IXI904-HH-1004, IXI905-IOP-1005; the site test's row
    table4 = pd.read_csv(out / "tables" / "table4.csv")
    assert sorted(table4.groupby("method").size().items()) == [("DAE", 4), ("Patch2Loc", 4), ("Thresh", 4)]
    assert table4["auroc"].between(0, 1).all()
    paired = pd.read_csv(out / "tables" / "paired_tests.csv")
    assert set(paired["method"]) == {"DAE", "Thresh"} and set(paired["reference"]) == {"Patch2Loc"}
    assert {f"{m} {mod}" for m in ("Patch2Loc", "DAE", "Thresh") for mod in ("T1", "T2")} == set(bias.columns[2:])
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Table 3: the challenges&#x27; metrics" in page and "Bias: false positives" in page
    assert all(
        f"{d}: Lesion-wise recall against lesion volume" in page for d in ("BraTS21", "MSLUB", "ATLAS_v2", "WMH")
    )
    from patch2loc.checkpoint import read_checkpoint

    assert read_checkpoint(out / "models" / "T2" / "fold0" / "best.pt")["patch_size"] == 6  # train.patch_size
    dae = read_checkpoint(out / "models" / "DAE" / "T2" / "fold0" / "best.pt", method="DAE")
    assert dae["modality"] == "T2" and dae["config"]["volume_shape"] == [32, 32, 20] and dae["config"]["width"] == 4
    compute = pd.read_csv(out / "tables" / "compute.csv", keep_default_na=False).set_index(["stage", "method"])
    assert compute.loc[("train_dae", "DAE"), "jobs"] == 2 and compute.loc[("score_lesions", "Thresh"), "gpu_hours"] == 0
    assert (out / "config.resolved.yaml").exists() and (out / "versions.txt").exists()
    # Heatmap viewers: the report links one per kept heatmap, and one opens from file:// in Chromium.
    links = re.findall(r'href="(viewers/[^"]+\.html)"', (out / "report.html").read_text(encoding="utf-8"))
    assert len(links) >= 8 and all((out / link).is_file() for link in links), links  # 4 lesion sets x 2 methods
    assert (out / "viewers" / "niivue.umd.js").is_file()
    from patch2loc.viewer.browser import Chromium, find_chromium

    if find_chromium():
        with Chromium() as browser:
            browser.open(out / links[0])
            browser.wait_for("window.p2lViewer && window.p2lViewer.ready", timeout=60)
            assert browser.errors == []
    # Snakemake's own report holds Table 1 and the figures marked with report().
    res = snakemake(workdir, "--configfile", "config/tiny.yaml", "--report", "report.zip", timeout=600)
    assert res.returncode == 0, res.stderr[-5000:]
    with zipfile.ZipFile(workdir / "report.zip") as zf:
        names = [Path(n).name for n in zf.namelist()]
    assert {"table1.csv", "table2.csv", "table3.csv", "table3_size.csv", "bias.csv", "table4.csv"} <= set(names)
    declared = {p.name for p in (out / "figures").glob("*.png")}
    assert {
        "loss_curves_Patch2Loc.png",
        "loss_curves_DAE.png",
        "kde_MSLUB.png",
        "heatmaps_MSLUB_T2.png",
        "methods_MSLUB.png",
        "kde_methods_MSLUB.png",
    } <= declared
    listed = {f["file"] for f in json.loads((out / "figures" / "figures.json").read_text(encoding="utf-8"))}
    assert {"methods_BraTS21.png", "kde_methods_WMH.png", "loss_curves_DAE.png"} <= listed  # drawn, not "not drawn"
    assert declared <= set(names)  # every figure the rule writes is in the report
    _bundle_travels(workdir, out)


def _bundle_travels(workdir: Path, out: Path) -> None:
    """The run's T2 bundles (part of `all`), moved elsewhere with the run folder deleted, give
    predict outputs byte-identical to --from-run on the same raw scan: Patch2Loc's, and the DAE's
    with --method DAE."""
    from patch2loc.data.layouts import raw_paths
    from patch2loc.synth import demo_subject_ids

    assert {p.name for p in (out / "bundles").iterdir()} == {"T1.zip", "T2.zip", "DAE"}
    assert {p.name for p in (out / "bundles" / "DAE").iterdir()} == {"T1.zip", "T2.zip"}
    subject = demo_subject_ids("IXI", 6)[5]  # an IXI test scan: never trained on
    scan = raw_paths("IXI", out / "raw", subject, "T2")
    away = workdir.parent / "laptop"
    away.mkdir()
    for path in (scan.image, scan.mask):
        shutil.copy(path, away / path.name)
    shutil.copy(out / "bundles" / "T2.zip", away / "t2_model.zip")
    shutil.copy(out / "bundles" / "DAE" / "T2.zip", away / "t2_dae.zip")
    common = [
        "--image",
        str(away / scan.image.name),
        "--mask",
        str(away / scan.mask.name),
        "--device",
        "cpu",
        "--amp",
        "none",
        "--quiet",
    ]
    predict = [sys.executable, "-m", "patch2loc.cli", "predict"]
    for method in ("Patch2Loc", "DAE"):
        res = subprocess.run(
            [
                *predict,
                "--from-run",
                str(out),
                "--modality",
                "T2",
                "--method",
                method,
                "--out",
                str(away / f"run_{method}" / "s.nii.gz"),
                *common,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert res.returncode == 0, res.stderr[-3000:]
    shutil.rmtree(workdir / "results")
    for method, bundle in (("Patch2Loc", "t2_model.zip"), ("DAE", "t2_dae.zip")):
        res = subprocess.run(
            [*predict, "--model", str(away / bundle), "--out", str(away / f"bundle_{method}" / "s.nii.gz"), *common],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert res.returncode == 0, res.stderr[-3000:]
        run, moved = away / f"run_{method}", away / f"bundle_{method}"
        compared = ["s.nii.gz", "s_lesions.nii.gz", "s_native.nii.gz", "s_native_lesions.nii.gz", "s_components.csv"]
        compared += [f"s_preprocessed/{p.name}" for p in (run / "s_preprocessed").glob("*.nii.gz")]
        for name in compared:
            assert (moved / name).read_bytes() == (run / name).read_bytes(), (method, name)
        summaries = [json.loads((d / "s_summary.json").read_text()) for d in (run, moved)]
        assert summaries[0]["threshold"] == summaries[1]["threshold"] is not None
        assert summaries[0]["method"] == summaries[1]["method"] == method
    heatmaps = [(away / f"bundle_{m}" / "s.nii.gz").read_bytes() for m in ("Patch2Loc", "DAE")]
    assert heatmaps[0] != heatmaps[1]  # two methods, two maps
