"""The workflow's tests' shared parts: a copy of the workflow, Snakemake in a
child process, a dry run's job list, the tiny config."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from patch2loc.run.configfiles import load as load_configfiles

REPO = Path(__file__).resolve().parents[2]


COPIED = ["Snakefile", "rules", "workflow", "config", "envs", "splits", "src", "profiles"]


STAGES = [
    "make_demo_atlas",
    "synthesize_demo",
    "preprocess_healthy_scan",
    "preprocess_lesion_scan",
    "fit_landmarks",
    "normalize_scan",
    "train_model",
    "train_dae",
    "score_healthy",
    "score_lesions",
    "table1",
    "table2",
    "table3",
    "bias",
    "figures",
    "report",
    "run_info",
    "record_atlas",
    "export_bundle",
]


REAL_STAGES = [s for s in STAGES if s not in ("make_demo_atlas", "synthesize_demo")] + [
    "download",
    "extract",
    "download_wmh",
    "prepare_sri24_atlas",
    "skull_strip_hdbet",
    "download_hdbet_weights",
]


def copy_workflow(dest: Path) -> Path:
    """A copy of the workflow in `dest`, so runs never touch the checkout's results/."""
    dest.mkdir(parents=True, exist_ok=True)
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
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def shared_dry_run(tmp_path_factory, *args: str, manual_data: bool = False) -> subprocess.CompletedProcess:
    """`snakemake -n *args` in a copy of the workflow (with placeholder files for the sets dropped in by
    hand if `manual_data`), planned once a session for every test that reads it (helpers/once.py): the
    paper DAG takes a minute on 2 cores, the demo's half that."""
    from tests.helpers.once import once

    def plan(folder: Path) -> subprocess.CompletedProcess:
        workdir = copy_workflow(folder)
        if manual_data:
            placeholder_manual_data(workdir, 3)
        return snakemake(workdir, "-n", *args)

    key = (
        "dry_run-" + "-".join(a.replace("/", "_").replace("=", "_") for a in args) + ("-manual" if manual_data else "")
    )
    return once(tmp_path_factory, key, plan)


# The dry runs several test files read: the paper's config (the default) on 3 subjects, the demo, the long demo.
PAPER_DRY_RUN = ("--config", "max_subjects=3")
DEMO_DRY_RUN = ("--configfile", "config/demo.yaml")
DEMO_LONG_DRY_RUN = ("--configfile", "config/demo.yaml", "config/demo_long.yaml")


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


def placeholder_manual_data(workdir: Path, n: int) -> Path:
    """Empty files where BraTS21 and ATLAS v2 must be dropped in by hand."""
    sys.path.insert(0, str(REPO / "src"))
    from patch2loc.data.layouts import raw_paths

    raw = workdir / "data" / "raw"
    for dataset in ("BraTS21", "ATLAS_v2"):
        with open(workdir / "splits" / f"{dataset}.csv") as fh:
            subjects = [r["subject_id"] for r in csv.DictReader(fh)][:n]
        for s, contrast in [(s, c) for s in subjects for c in (("T2", "T1") if dataset == "BraTS21" else ("T1",))]:
            scan = raw_paths(dataset, raw, s, contrast)  # BraTS21's t1 too: the paper config's T1T2 input
            for p in (scan.image, scan.seg):
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()
    return raw


def dry_run_jobs(stdout: str) -> list[dict]:
    """Each job of a dry run's listing: {'rule', 'wildcards', 'resources'} (text after the key)."""
    jobs = []
    for line in stdout.splitlines():
        if line.startswith("rule ") and line.rstrip().endswith(":"):
            jobs.append({"rule": line[len("rule ") : -1]})
        elif jobs and line.startswith("    ") and ": " in line:
            key, _, value = line.strip().partition(": ")
            jobs[-1][key] = value
    return jobs


def tiny_config(workdir: Path) -> Path:
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
    from patch2loc.data.splits import write_tuning_folds

    write_tuning_folds(splits)  # one volume per set: its tuning fold has no other to tune on (NaN, said)
    cfg = load_configfiles([workdir / "config" / "demo.yaml"])  # whole: written as a config of its own
    cfg.update(run_name="tiny", raw_root="results/tiny/raw", splits_dir="splits/tiny", folds=[0])
    cfg["atlas"] = {"image": "results/tiny/atlas/T1_brain.nii.gz", "mask": "results/tiny/atlas/brain_mask.nii.gz"}
    cfg["demo"]["spacing"] = 4.0
    cfg["preprocess"].update(spacing=[6.0, 6.0, 6.0], target_shape=[32, 32, 20], n4_iterations=[10])
    # patch_size 6, not the default 1/8 of 32 = 4: the key must reach the model and the heatmaps
    # warmup_steps 2: the demo's schedule (cosine, 50 warm-up steps of 900) scaled to 20 steps
    cfg["patch2loc"].update(
        steps=20, patches_per_step=64, val_every=10, val_batches=1, threads=1, patch_size=6, warmup_steps=2
    )
    cfg["dae"].update(steps=20, batch_size=4, width=4, val_every=10, val_batches=1, threads=1)
    cfg["heatmap"].update(batch_size=2048, threads=1)
    cfg["evaluate"]["keep_heatmaps"] = 2  # not the demo's -1: the shard test counts kept heatmaps across shards
    cfg["report"]["figure_subjects"] = 1
    path = workdir / "config" / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
