"""The Snakemake workflow's tiny real run: every stage on seconds-scale sizes
up to the report, and the run's bundles travel (predict outputs byte-identical to --from-run)."""

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

from tests.helpers.workflow import tiny_config, snakemake


@pytest.mark.starts_first
@pytest.mark.slow
def test_tiny_end_to_end_run_reaches_the_report(workdir):
    tiny_config(workdir)
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
    merged = pd.read_csv(out / "scores" / "Patch2Loc" / "T2" / "fold0" / "BraTS21" / "metrics.csv")
    assert {"dice_val", "val_threshold"} <= set(merged.columns) and merged["dice_val"].isna().all()
    supplementary = pd.read_csv(out / "tables" / "table1_supplementary.csv")
    assert "Dice (val.-tuned thr.)" in supplementary.columns
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
    from patch2loc.run.checkpoint import read_checkpoint

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


@pytest.mark.long
def test_tiny_run_with_a_model_of_two_contrasts_reaches_the_report(workdir):
    """config `inputs` with T1T2 (docs/multimodal.md): the stacked models train, score the sets that ship
    both contrasts on the reference contrast's native grid, and reach Table 1 and the report."""
    import yaml

    path = tiny_config(workdir)
    cfg = yaml.safe_load(path.read_text())
    cfg["inputs"] = {"T1": ["T1"], "T2": ["T2"], "T1T2": ["T1", "T2"]}
    for dataset in ("BraTS21", "MSLUB"):
        cfg["datasets"][dataset]["contrasts"] = ["T2", "T1"]
    path.write_text(yaml.safe_dump(cfg))
    res = snakemake(workdir, "--configfile", "config/tiny.yaml", "--resources", "gpu=1", timeout=2400)
    assert res.returncode == 0, res.stderr[-5000:]
    out = workdir / "results" / "tiny"
    metrics = pd.read_csv(out / "tables" / "per_volume_metrics.csv")
    scored = set(zip(metrics["method"], metrics["modality"], metrics["dataset"]))
    assert {("Patch2Loc", "T1T2", "BraTS21"), ("DAE", "T1T2", "MSLUB")} <= scored
    assert not {m for m, mod, _ in scored if mod == "T1T2"} - {"Patch2Loc", "DAE"}
    multi = metrics[metrics["modality"] == "T1T2"]
    assert multi["auprc"].between(0, 1).all() and (multi["space"] == "native").all()
    assert "T1T2" in (out / "report.html").read_text(encoding="utf-8")
