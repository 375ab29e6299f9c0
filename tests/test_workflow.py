"""The Snakemake workflow: dry runs of the demo and paper configs, lint, schema, a tiny real run."""
from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COPIED = ["Snakefile", "rules", "workflow", "config", "envs", "splits", "src", "profiles"]
STAGES = [
    "make_demo_atlas", "synthesize_demo", "preprocess_healthy_scan", "preprocess_lesion_scan",
    "fit_landmarks", "normalize_scan", "train_model", "score_healthy", "score_lesions",
    "table1", "table2", "figures", "report", "run_info",
]
REAL_STAGES = [s for s in STAGES if s not in ("make_demo_atlas", "synthesize_demo")] + [
    "download", "extract", "prepare_sri24_atlas", "skull_strip_hdbet", "download_hdbet_weights",
]


def copy_workflow(dest: Path) -> Path:
    """A copy of the workflow in `dest`, so runs never touch the checkout's results/."""
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path)


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=workdir, capture_output=True, text=True, timeout=timeout,
    )


def jobs_listed(stdout: str) -> set[str]:
    """Rule names of the 'Job stats' table of a dry run."""
    rules, in_table = set(), False
    for line in stdout.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                rules.add(parts[0])
            elif parts and parts[0] == "total":
                break
    return rules


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


def _placeholder_manual_data(workdir: Path, n: int) -> Path:
    """Empty files where BraTS21 and ATLAS v2 must be dropped in by hand."""
    sys.path.insert(0, str(REPO / "src"))
    from patch2loc.data.layouts import raw_paths

    raw = workdir / "data" / "raw"
    for dataset in ("BraTS21", "ATLAS_v2"):
        with open(workdir / "splits" / f"{dataset}.csv") as fh:
            subjects = [r["subject_id"] for r in csv.DictReader(fh)][:n]
        for s in subjects:
            scan = raw_paths(dataset, raw, s, "T2" if dataset == "BraTS21" else "T1")
            for p in (scan.image, scan.seg):
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()
    return raw


def test_dry_run_paper_lists_every_stage(workdir):
    _placeholder_manual_data(workdir, 3)
    res = snakemake(workdir, "-n", "--config", "max_subjects=3")
    assert res.returncode == 0, res.stderr + res.stdout
    missing = set(REAL_STAGES) - jobs_listed(res.stdout)
    assert not missing, f"stages missing from the paper DAG: {missing}\n{res.stdout[-3000:]}"
    for archive in ("IXI-T1.tar", "IXI-T2.tar"):
        assert archive in res.stdout


def test_dry_run_paper_without_brats_stops_with_instructions(workdir):
    res = snakemake(workdir, "-n", "--config", "max_subjects=3")
    assert res.returncode != 0
    text = res.stderr + res.stdout
    assert "BraTS21" in text and "BraTS2021_" in text  # names the dataset and the expected files


def test_lint_is_clean(workdir):
    res = snakemake(workdir, "--lint", "--configfile", "config/demo.yaml")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("override, named", [
    ("bogus_key=1", "bogus_key"),
    ("folds=[7]", "folds"),
    ("source=somewhere", "source"),
])
def test_schema_violation_is_rejected_with_its_name(workdir, override, named):
    res = snakemake(workdir, "-n", "--configfile", "config/demo.yaml", "--config", override)
    assert res.returncode != 0
    text = res.stderr + res.stdout
    assert named in text and "validat" in text.lower()


def test_patch_size_below_two_is_rejected(workdir):
    """train.patch_size (null = 1/8 of the slice) must be an integer >= 2, read from a config file
    (a nested --config value would arrive as a string and fail on its type instead)."""
    cfg = yaml.safe_load((workdir / "config" / "demo.yaml").read_text())
    for size, ok in ((1, False), (12, True)):
        cfg["train"]["patch_size"] = size
        (workdir / "config" / "patch.yaml").write_text(yaml.safe_dump(cfg))
        res = snakemake(workdir, "-n", "--configfile", "config/patch.yaml")
        text = res.stderr + res.stdout
        assert (res.returncode == 0) == ok, text[-3000:]
        if not ok:
            assert "patch_size" in text and "minimum" in text.lower()


def _tiny_config(workdir: Path) -> Path:
    """Seconds-scale sizes: 6 IXI-like subjects, 1 per lesion set, 1 fold, 20 training steps."""
    sys.path.insert(0, str(REPO / "src"))
    from patch2loc.synth import demo_subject_ids

    splits = workdir / "splits" / "tiny"
    splits.mkdir(parents=True)
    ixi = demo_subject_ids("IXI", 6)
    rows = [(s, "train", 0, True) for s in ixi[:3]] + [(ixi[3], "val", 0, True)]
    rows += [(s, "test", "", True) for s in ixi[4:]]
    with open(splits / "IXI.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subject_id", "split", "fold", "has_t2"])
        w.writerows(rows)
    for d in ("BraTS21", "MSLUB", "ATLAS_v2", "WMH"):
        with open(splits / f"{d}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["subject_id", "split"])
            w.writerow([demo_subject_ids(d, 1)[0], "test"])
    cfg = yaml.safe_load((workdir / "config" / "demo.yaml").read_text())
    cfg.update(run_name="tiny", raw_root="results/tiny/raw", splits_dir="splits/tiny", folds=[0])
    cfg["atlas"] = {"image": "results/tiny/atlas/T1_brain.nii.gz", "mask": "results/tiny/atlas/brain_mask.nii.gz"}
    cfg["demo"]["spacing"] = 4.0
    cfg["preprocess"].update(spacing=[6.0, 6.0, 6.0], target_shape=[32, 32, 20], n4_iterations=[10])
    # patch_size 6, not the default 1/8 of 32 = 4: the key must reach the model and the heatmaps
    cfg["train"].update(steps=20, patches_per_step=64, val_every=10, val_batches=1, threads=1, patch_size=6)
    cfg["heatmap"].update(batch_size=2048, threads=1)
    cfg["evaluate"]["keep_heatmaps"] = 2  # not the demo's -1: the shard test counts kept heatmaps across shards
    cfg["report"]["figure_subjects"] = 1
    path = workdir / "config" / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_tiny_end_to_end_run_reaches_the_report(workdir):
    _tiny_config(workdir)
    res = snakemake(workdir, "--configfile", "config/tiny.yaml", "--resources", "gpu=1", timeout=1200)
    assert res.returncode == 0, res.stderr[-5000:]
    out = workdir / "results" / "tiny"
    table = pd.read_csv(out / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    ours = table[table["source"] == "this run"]
    assert set(ours["method"]) == {"Patch2Loc", "Thresh"}
    for dataset in ("BraTS21", "MSLUB", "ATLAS_v2", "WMH"):
        for metric in ("Dice", "AUPRC"):
            values = [float(cell.split("±")[0]) for cell in ours[f"{dataset} {metric}"]]
            assert all(0.0 <= v <= 100.0 for v in values), (dataset, metric, values)  # finite, in percent
    assert (out / "report.html").stat().st_size > 10_000
    from patch2loc.checkpoint import read_checkpoint
    assert read_checkpoint(out / "models" / "T2" / "fold0" / "best.pt")["patch_size"] == 6  # train.patch_size
    assert (out / "config.resolved.yaml").exists() and (out / "versions.txt").exists()
    # Heatmap viewers: the report links one per kept heatmap, and one opens from file:// in Chromium.
    links = re.findall(r'href="(viewers/[^"]+\.html)"', (out / "report.html").read_text(encoding="utf-8"))
    assert len(links) >= 8 and all((out / link).is_file() for link in links), links  # 4 lesion sets x 2 methods
    assert (out / "viewers" / "niivue.umd.js").is_file()
    from patch2loc.evaluation.browser import Chromium, find_chromium
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
    assert "table1.csv" in names and "table2.csv" in names
    declared = {p.name for p in (out / "figures").glob("*.png")}
    assert {"loss_curves.png", "kde_MSLUB.png", "heatmaps_MSLUB_T2.png"} <= declared
    assert declared <= set(names)  # every figure the rule writes is in the report
