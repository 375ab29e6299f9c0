"""The tiny workflow run twice, then changed: identical outputs run after run (determinism),
sharded scoring equal to unsharded, a killed training resumed by the retry with the same final
weights, and the device policy failing fast. Two tiny runs up to Table 1 take about 2-4 minutes
on 2 cores."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from tests.helpers.workflow import tiny_config, copy_workflow, snakemake

pytestmark = [pytest.mark.slow, pytest.mark.long]  # make test-long
MODEL = "results/tiny/models/T1/fold0"
STATE = "results/tiny/resume/models/T1/fold0"
# (rule, model folder, working folder, log) of each trained method's T1 fold-0 training
TRAININGS = {
    "Patch2Loc": ("train_model", MODEL, STATE, "results/tiny/logs/train/T1_fold0.log"),
    "DAE": (
        "train_dae",
        "results/tiny/models/DAE/T1/fold0",
        "results/tiny/resume/models/DAE/T1/fold0",
        "results/tiny/logs/train/DAE/T1_fold0.log",
    ),
}


def _copy_workflow(dest: Path) -> Path:
    copy_workflow(dest)
    tiny_config(dest)
    # Three MSLUB volumes, so that shards of 2 split the set unevenly.
    from patch2loc.synth import demo_subject_ids

    (dest / "splits" / "tiny" / "MSLUB.csv").write_text(
        "subject_id,split\n" + "".join(f"{s},test\n" for s in demo_subject_ids("MSLUB", 3))
    )
    return dest


def _variant(workdir: Path, name: str, **sections) -> str:
    """config/{name}.yaml: the tiny config with some sections updated."""
    cfg = yaml.safe_load((workdir / "config" / "tiny.yaml").read_text(encoding="utf-8"))
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    (workdir / "config" / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    return f"config/{name}.yaml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """Two independent runs of the tiny workflow up to Table 1, from scratch."""
    out = []
    for name in ("first", "second"):
        workdir = _copy_workflow(tmp_path_factory.mktemp(name))
        res = snakemake(workdir, "table1", "--configfile", "config/tiny.yaml", timeout=1500)
        assert res.returncode == 0, res.stderr[-5000:]
        out.append(workdir)
    return out


def _arrays(root: Path, pattern: str) -> dict[str, np.ndarray]:
    return {str(p.relative_to(root)): np.asarray(nib.load(p).dataobj) for p in sorted(root.glob(pattern))}


def _weights(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)


def test_two_runs_give_identical_volumes_models_and_metrics(runs):
    a, b = (r / "results" / "tiny" for r in runs)
    for pattern in ("preprocessed/**/*.nii.gz", "normalized/**/*.nii.gz"):
        va, vb = _arrays(a, pattern), _arrays(b, pattern)
        assert va.keys() == vb.keys() and va
        differ = [k for k in va if not np.array_equal(va[k], vb[k])]
        assert not differ, f"{len(differ)} of {len(va)} volumes differ, e.g. {differ[:3]}"
    for modality in ("T1", "T2"):
        assert np.array_equal(
            np.load(a / "landmarks" / f"{modality}.npy"), np.load(b / "landmarks" / f"{modality}.npy")
        )
        for name in ("best.pt", "last.pt"):
            for models in ("models", "models/DAE"):
                ca, cb = (r / models / modality / "fold0" / name for r in (a, b))
                assert ca.read_bytes() == cb.read_bytes()  # the files, not only the weights
    assert (a / "tables" / "per_volume_metrics.csv").read_text(encoding="utf-8") == (
        b / "tables" / "per_volume_metrics.csv"
    ).read_text(encoding="utf-8")


def test_sharded_scoring_equals_unsharded(runs):
    first, second = runs
    shutil.rmtree(second / "results" / "tiny" / "scores")
    shutil.rmtree(second / "results" / "tiny" / "tables")
    config = _variant(second, "tiny_sharded", evaluate={"shard_size": 2})
    res = snakemake(second, "table1", "--configfile", config, timeout=900)
    assert res.returncode == 0, res.stderr[-5000:]
    assert "merge_score_shards" in res.stdout + res.stderr
    shard_logs = list((second / "results" / "tiny" / "logs" / "scores").glob("Patch2Loc_T2_fold0_MSLUB_*.log"))
    assert len([p for p in shard_logs if not p.name.endswith("_merge.log")]) == 2  # 3 volumes, shards of 2
    for method, modality, fold in (("Patch2Loc", "T2", "fold0"), ("DAE", "T2", "fold0"), ("Thresh", "T2", "all")):
        a, b = (r / "results" / "tiny" / "scores" / method / modality / fold / "MSLUB" for r in runs)
        assert (a / "metrics.csv").read_text(encoding="utf-8") == (b / "metrics.csv").read_text(encoding="utf-8")
        assert gzip.open(a / "patches.csv.gz", "rt").read() == gzip.open(b / "patches.csv.gz", "rt").read()
        assert sorted(p.name for p in (a / "heatmaps").iterdir()) == sorted(p.name for p in (b / "heatmaps").iterdir())
    ta, tb = (r / "results" / "tiny" / "tables" / "per_volume_metrics.csv" for r in runs)
    assert ta.read_text(encoding="utf-8") == tb.read_text(encoding="utf-8")


def _training_process(snakemake_proc: subprocess.Popen):
    """The training job's script process among Snakemake's descendants, or None."""
    import psutil

    try:
        children = psutil.Process(snakemake_proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            if any("train_model" in part for part in child.cmdline()):  # the script of every training rule
                return child
        except psutil.NoSuchProcess:
            continue
    return None


@pytest.mark.parametrize("method", sorted(TRAININGS))
def test_killed_training_resumes_with_the_same_weights(runs, method):
    """The training job is SIGKILLed after its first checkpoint (as a scheduler kills a job at its
    time limit or on scancel); Snakemake's own retry (--retries 1, as in profiles/slurm) must
    resume it, and the model must equal the uninterrupted run's."""
    rule, model, state, log_path = TRAININGS[method]
    first, second = runs
    checkpoint = first / state / "last.pt"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        f"{model}/best.pt",
        "--cores",
        "2",
        "--configfile",
        "config/tiny.yaml",
        "--retries",
        "1",
        "--forcerun",
        rule,
    ]
    proc = subprocess.Popen(
        cmd, cwd=first, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    job, deadline = None, time.monotonic() + 600
    while job is None and proc.poll() is None and time.monotonic() < deadline:
        job = _training_process(proc)
        time.sleep(0.05)
    while job is not None and job.is_running() and not checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.002)  # a tiny step takes tens of milliseconds: kill right after the checkpoint
    killed = job is not None and checkpoint.exists() and job.is_running()
    if killed:
        job.kill()
    try:
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert killed, "training ended before its first checkpoint; the test needs a slower schedule"
    assert proc.returncode == 0, out[-5000:]
    assert "Trying to restart job" in out or "retry" in out.lower(), out[-3000:]
    log = (first / log_path).read_text(encoding="utf-8")
    assert "resuming from step 10" in log
    assert not (first / state).exists()  # the working folder is gone once the outputs are in place
    for name in ("best.pt", "last.pt"):
        assert _same_weights(first / model / name, second / model / name)
    assert (first / model / "loss.csv").read_text(encoding="utf-8") == (second / model / "loss.csv").read_text(
        encoding="utf-8"
    )


def test_cuda_required_and_absent_fails_at_once(runs):
    first = runs[0]
    config = _variant(first, "tiny_cuda", device={"require_cuda": True})
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            f"{MODEL}/best.pt",
            "--cores",
            "2",
            "--configfile",
            config,
            "--forcerun",
            "train_model",
        ],
        cwd=first,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert res.returncode != 0
    assert "LockException" not in res.stderr, res.stderr[-2000:]  # failed in the job, not before it
    log = (first / "results" / "tiny" / "logs" / "train" / "T1_fold0.log").read_text(encoding="utf-8")
    assert "device.require_cuda" in log and "CONDA_OVERRIDE_CUDA" in log and sys.prefix in log  # names the env
    assert "starting at step" not in log and "resuming" not in log  # stopped before loading any data
    assert not (first / MODEL / "best.pt").exists()
