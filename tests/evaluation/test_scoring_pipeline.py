"""A scoring job's stages side by side (evaluation/dataset/pipeline.py): the same results as one
volume after another, a bounded number of volumes in memory, and a clean stop on a bad volume."""

from __future__ import annotations

import random
import os
import threading
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from patch2loc.evaluation.dataset import pipeline as pipeline_module
from patch2loc.evaluation.dataset import score_dataset
from patch2loc.evaluation.dataset.pipeline import pipelined, sequential
from patch2loc.evaluation.dataset.score_dataset import Collected, Scan, ScoringConfig, score_healthy, score_lesions


def _sleep(rng: random.Random, top: float = 0.004) -> None:
    time.sleep(rng.random() * top)


def test_results_come_back_in_the_inputs_order():
    rng = random.Random(0)

    def read(i):
        _sleep(rng)
        return i * 10

    def score(i, case):
        _sleep(rng)
        return case + 1

    def grade(i, case, scored):
        _sleep(rng, 0.01)
        return (i, case, scored)

    got = pipelined(range(25), read, score, grade, depth=3, graders=4)
    assert got == [(i, 10 * i, 10 * i + 1) for i in range(25)]


@pytest.mark.parametrize("finishing", [False, True], ids=["no finish", "finish"])
@pytest.mark.parametrize("depth,graders", [(1, 1), (2, 1), (2, 3), (4, 2)])
def test_at_most_the_stated_number_of_volumes_are_held(depth, graders, finishing):
    """A volume is held from the start of its read to the end of its grading; slow grading fills
    every queue the pipeline has."""
    lock, held, most = threading.Lock(), [0], [0]

    def read(i):
        with lock:
            held[0] += 1
            most[0] = max(most[0], held[0])
        return i

    def grade(i, case, scored):
        time.sleep(0.01)
        with lock:
            held[0] -= 1
        return i

    finish = (lambda i, c, s: s) if finishing else None
    got = pipelined(range(30), read, lambda i, c: c, grade, depth=depth, graders=graders, finish=finish)
    assert got == list(range(30))
    assert most[0] <= depth + 1 + finishing + max(depth, graders)
    assert most[0] >= depth + 1  # the bound is reached: the reads did run ahead


def test_a_volumes_finishing_runs_beside_the_next_ones_scoring_in_order():
    """finish (the median filter) of volume i overlaps score (the network) of volume i + 1, and
    grading sees the finished scores, in the inputs' order."""
    spans: dict = {}

    def timed(stage, seconds):
        def run(i, *args):
            start = time.perf_counter()
            time.sleep(seconds)
            spans[stage, i] = (start, time.perf_counter())
            return (args[-1] if stage == "finish" else args[0]) * 10 + (stage == "finish")

        return run

    got = pipelined(range(8), lambda i: i, timed("score", 0.03), lambda i, c, s: s, finish=timed("finish", 0.03))
    assert got == [10 * (10 * i) + 1 for i in range(8)]
    overlaps = [
        i
        for i in range(7)
        if spans["finish", i][0] < spans["score", i + 1][1] and spans["score", i + 1][0] < spans["finish", i][1]
    ]
    assert len(overlaps) >= 5, overlaps


def test_a_failed_finishing_stops_the_job_with_its_error():
    def finish(i, case, scored):
        if i == 3:
            raise FloatingPointError("volume 3: the median filter failed")
        return scored

    graded = []
    with pytest.raises(FloatingPointError, match="volume 3"):
        pipelined(range(10), lambda i: i, lambda i, c: c, lambda i, c, s: graded.append(i), finish=finish)
    assert all(i < 3 for i in graded)


def test_every_grader_is_busy_when_grading_is_the_slow_stage():
    """Grading slower than scoring keeps all `graders` at work, not only `depth` of them."""
    lock, running, most = threading.Lock(), [0], [0]

    def grade(i, case, scored):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return i

    assert pipelined(range(24), lambda i: i, lambda i, c: c, grade, depth=2, graders=6) == list(range(24))
    assert most[0] == 6


def _failing_grader(index: int, error: Exception):
    """A grade(i, case, scored) that returns i, and raises `error` at volume `index`."""

    def grade(i, case, scored):
        if i == index:
            raise error
        return i

    return grade


def test_a_failed_read_stops_the_job_with_its_error_and_drops_the_rest():
    graded, read_seen = [], []

    def read(i):
        read_seen.append(i)
        if i == 4:
            raise ValueError("volume 4: unreadable")
        return i

    def grade(i, case, scored):
        time.sleep(0.005)
        graded.append(i)
        return i

    with pytest.raises(ValueError, match="volume 4: unreadable"):
        pipelined(range(40), read, lambda i, c: c, grade, depth=2, graders=1)
    assert max(read_seen) <= 4 + 2  # nothing read far beyond the bad volume
    assert all(i < 4 for i in graded)  # nothing after it graded
    assert threading.active_count() < 5  # the stages' threads have ended


def test_a_failed_grading_stops_the_job():
    with pytest.raises(RuntimeError, match="grading 2 failed"):
        pipelined(range(10), lambda i: i, lambda i, c: c, _failing_grader(2, RuntimeError("grading 2 failed")))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="depth and graders"):
        pipelined([1], lambda i: i, lambda i, c: c, lambda i, c, s: s, depth=0)


# ----------------------------------------------------------------------- the scoring job itself


def _scan(folder: Path, subject: str, seed: int) -> Scan:
    rng = np.random.default_rng(seed)
    shape = (20, 18, 8)
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    brain = (x**2 + y**2 + z**2) < 0.9
    seg = ((x - 0.2) ** 2 + y**2 + z**2 < 0.1) & brain
    image = (0.5 + 0.1 * rng.standard_normal(shape) + 0.6 * seg) * brain
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, data in (
        ("image", image.astype(np.float32)),
        ("mask", brain.astype(np.uint8)),
        ("seg", seg.astype(np.uint8)),
    ):
        files[name] = folder / f"{subject}_{name}.nii.gz"
        nib.save(nib.Nifti1Image(data, np.eye(4)), files[name])
    return Scan(subject, str(files["image"]), str(files["mask"]), str(files["seg"]))


def _config(**kw) -> ScoringConfig:
    return ScoringConfig(median_size=3, keep_heatmaps=-1, patch_size=4, **kw)


def test_thresh_scoring_gives_the_same_outputs_as_one_volume_after_another(tmp_path, monkeypatch):
    scans = [_scan(tmp_path / "in", f"s{i}", i) for i in range(7)]
    meta = {"method": "Thresh", "modality": "T1", "fold": "", "dataset": "BraTS21"}
    piped_cfg = _config(prefetch=2, graders=3)
    got = score_lesions("Thresh", scans, piped_cfg, meta, 0.6, tmp_path / "a", collected=(got_c := Collected()))
    got_t = score_healthy("Thresh", scans, piped_cfg, meta, tmp_path / "ha")
    monkeypatch.setattr(score_dataset, "pipelined", sequential)
    want = score_lesions("Thresh", scans, _config(), meta, 0.6, tmp_path / "b", collected=(want_c := Collected()))
    want_t = score_healthy("Thresh", scans, _config(), meta, tmp_path / "hb")
    for a, b in zip(got, want):
        pd.testing.assert_frame_equal(a, b)
    assert got_t[0] == want_t[0]
    pd.testing.assert_frame_equal(got_t[1], want_t[1])
    assert [e["subject"] for e in got_c.tuning] == [e["subject"] for e in want_c.tuning] == [s.subject for s in scans]
    for s in scans:
        a = np.asarray(nib.load(tmp_path / "a" / f"{s.subject}.nii.gz").dataobj)
        np.testing.assert_array_equal(a, np.asarray(nib.load(tmp_path / "b" / f"{s.subject}.nii.gz").dataobj))


def test_a_bad_volume_stops_the_scoring_job_naming_it_and_leaves_no_partial_file(tmp_path):
    scans = [_scan(tmp_path / "in", f"s{i}", i) for i in range(6)]
    Path(scans[3].image).write_bytes(b"not a nifti")
    meta = {"method": "Thresh", "modality": "T1", "fold": "", "dataset": "BraTS21"}
    with pytest.raises(Exception, match="s3_image"):
        score_lesions("Thresh", scans, _config(prefetch=2, graders=2), meta, 0.6, tmp_path / "out")
    written = sorted(p.name for p in (tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else []
    assert all(name.endswith(".nii.gz") and name[:2] in ("s0", "s1", "s2") for name in written), written
    for name in written:  # each one whole
        assert np.asarray(nib.load(tmp_path / "out" / name).dataobj).shape == (20, 18, 8)


def test_the_rules_threads_set_the_graders():
    heatmap = {"median_size": 7, "threads": 8}
    evaluate = {"region": "brain", "unsupervised_quantile": 0.98, "keep_heatmaps": 2}
    assert ScoringConfig.from_workflow(heatmap, evaluate).graders == 6
    assert ScoringConfig.from_workflow({**heatmap, "threads": 1}, evaluate).graders == 1
    assert ScoringConfig().prefetch == pipeline_module.DEPTH


def test_the_graders_are_threads_of_the_jobs_own_process():
    """A job never forks (a fork of a process running CUDA and OpenMP threads can hang a child)."""
    main = threading.get_ident()

    def grade(i, case, scored):
        return os.getpid(), threading.get_ident(), scored

    got = pipelined(range(12), lambda i: i, lambda i, c: 2 * c, grade, depth=2, graders=3)
    assert [s for *_, s in got] == [2 * i for i in range(12)]
    assert {pid for pid, *_ in got} == {os.getpid()}
    assert main not in {ident for _, ident, _ in got}
