"""Lesion sets scored on the scan's own grid (`evaluate.space: native`), the
challenges' metrics wired into metrics.csv, and one comparison (`score >= t`) everywhere."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from patch2loc.evaluation.dataset.scan_grid import NativeFiles
from patch2loc.evaluation.dataset.score_dataset import Scan, ScoringConfig, score_healthy, score_lesions
from patch2loc.files.io import save_volume
from patch2loc.run.configfiles import load as load_configfiles
from patch2loc.scoring import lesion_mask

REPO = Path(__file__).resolve().parents[2]
DEMO = load_configfiles([REPO / "config" / "demo.yaml"])


# ---------------------------------------------------------------- one comparison: score >= t


def test_a_score_exactly_at_the_threshold_is_flagged_everywhere(tmp_path):
    score = np.array([[[0.5, 0.4, 0.6]]], np.float32)
    assert lesion_mask(score, np.ones(score.shape, bool), 0.5).tolist() == [[[1, 0, 1]]]
    # fpr_unsup: half the brain at 1, half at 2; the 0.98 quantile is 2.0, which half the voxels equal
    image = np.ones((8, 8, 4), np.float32)
    image[4:] = 2.0
    brain = np.zeros(image.shape, np.uint8)
    brain[1:7, 1:7] = 1  # 3 rows at 1, 3 at 2
    paths = [save_volume(image, tmp_path / "image.nii.gz"), save_volume(brain, tmp_path / "m.nii.gz")]
    cfg = ScoringConfig(median_size=1, keep_heatmaps=0, device="cpu")
    meta = {"method": "Thresh", "modality": "T1", "fold": "", "dataset": "IXI"}
    threshold, rows = score_healthy("Thresh", [Scan("s", *map(str, paths))], cfg, meta, tmp_path / "h")
    assert threshold == 2.0 and rows["fpr_unsup"].tolist() == [0.5]


# ---------------------------------------------------------------- native space on a crafted case

NATIVE_AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])  # the scan: 2 mm voxels
ATLAS_AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])  # the model's grid: 4 mm voxels over the same box


def _crafted(tmp_path: Path, labels: np.ndarray) -> Scan:
    """A raw scan (20 x 24 x 16 at 2 mm) with its raw labels and native brain mask, and the atlas-space
    files preprocessing would make (10 x 12 x 8 at 4 mm, identity registration). The atlas seg is a
    nearest-neighbour copy of the labels, so its voxel count is an eighth of the native one."""
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    native = tmp_path / "native"
    raw = save_volume(rng.random(labels.shape).astype(np.float32) + 1, native / "scan.nii.gz", affine=NATIVE_AFFINE)
    seg = save_volume(labels.astype(np.uint8), native / "labels.nii.gz", affine=NATIVE_AFFINE)
    brain = np.zeros(labels.shape, np.uint8)
    brain[2:18, 2:22, 2:14] = 1
    mask = save_volume(brain, native / "native_mask.nii.gz", affine=NATIVE_AFFINE)
    sitk.WriteTransform(sitk.AffineTransform(3), str(native / "transform.tfm"))
    image = np.zeros((10, 12, 8), np.float32)
    image[1:9, 1:11, 1:7] = 1.0 + rng.random((8, 10, 6)).astype(np.float32)
    image[3:6, 3:7, 2:5] += 2.0  # bright where the lesion is: Thresh finds it
    atlas = tmp_path / "atlas"
    paths = [
        save_volume(image, atlas / "image.nii.gz", affine=ATLAS_AFFINE),
        save_volume((image > 0).astype(np.uint8), atlas / "mask.nii.gz", affine=ATLAS_AFFINE),
        save_volume((labels[::2, ::2, ::2] > 0).astype(np.uint8), atlas / "seg.nii.gz", affine=ATLAS_AFFINE),
    ]
    return Scan("s", *map(str, paths), NativeFiles(*map(str, (raw, seg, mask, native / "transform.tfm"))))


def _labels() -> np.ndarray:
    labels = np.zeros((20, 24, 16), np.int16)
    labels[6:12, 6:14, 4:10] = 1  # 288 voxels
    labels[14:16, 16:18, 10:12] = 2  # 8 voxels: WMH's other pathology
    return labels


def _score(tmp_path, scan, dataset, space="native", challenge=None):
    cfg = ScoringConfig(median_size=1, keep_heatmaps=0, device="cpu", patch_size=2, space=space)
    meta = {"method": "Thresh", "modality": "T1", "fold": "", "dataset": dataset}
    return score_lesions("Thresh", [scan], cfg, meta, 2.5, tmp_path / "heat", challenge=challenge)


def test_native_space_scores_the_raw_labels_on_the_scan_grid(tmp_path):
    labels = _labels()
    scan = _crafted(tmp_path, labels)
    metrics, lesions, _ = _score(tmp_path, scan, "MSLUB")
    row = metrics.iloc[0]
    assert row["space"] == "native"
    assert row["lesion_voxels"] == np.count_nonzero(labels) == 296  # the raw labels, never resampled
    assert sorted(lesions["voxels"]) == [8, 288] and lesions["volume_ml"].sum() == pytest.approx(296 * 0.008)
    atlas, atlas_lesions, _ = _score(tmp_path, scan, "MSLUB", space="atlas")
    assert atlas.iloc[0]["lesion_voxels"] == np.count_nonzero(labels[::2, ::2, ::2]) == 37
    assert atlas.iloc[0]["space"] == "atlas" and sorted(atlas_lesions["voxels"]) == [1, 36]
    # a native run also grades the atlas grid, for the side-by-side table; an atlas run does not
    assert row["atlas_lesion_voxels"] == 37 and row["atlas_auprc"] == atlas.iloc[0]["auprc"]
    assert "atlas_auprc" not in atlas.columns
    # the map scored is the atlas map taken back through the transform (scoring.native.native_map)
    from patch2loc.scoring.metrics import evaluate_volume
    from patch2loc.files.io import load_volume
    from patch2loc.scoring.native import native_map

    atlas_image, atlas_mask = load_volume(scan.image), load_volume(scan.mask).data > 0
    back, _ = native_map(
        atlas_image.data * atlas_mask, atlas_mask, ATLAS_AFFINE, scan.native.transform, scan.native.image
    )
    brain = load_volume(scan.native.mask).data > 0
    expected = evaluate_volume(back, labels > 0, brain, threshold=2.5)
    assert row["auprc"] == pytest.approx(expected["auprc"]) and row["dice_unsup"] == pytest.approx(
        expected["dice_at_threshold"]
    )


def test_wmh_label_two_is_ignored_by_the_challenge_and_kept_as_lesion_by_default(tmp_path, monkeypatch):
    from patch2loc.evaluation import challenges

    seen = {}

    def fake_metrics(challenge, pred, truth, spacing, ignore=None):
        seen.update(challenge=challenge, pred=pred, truth=truth, spacing=spacing, ignore=ignore)
        return {"fake_b": 2.0, "fake_a": float(truth.sum())}

    monkeypatch.setattr(challenges, "challenge_metrics", fake_metrics)
    monkeypatch.setattr(challenges, "columns", lambda challenge: ["fake_a", "fake_b"])
    labels = _labels()
    metrics, _, _ = _score(tmp_path, _crafted(tmp_path, labels), "WMH", challenge="wmh")
    assert seen["challenge"] == "wmh" and seen["spacing"] == (2.0, 2.0, 2.0)
    assert np.array_equal(seen["truth"], labels == 1) and np.array_equal(seen["ignore"], labels == 2)
    assert seen["pred"].shape == labels.shape and seen["pred"].dtype == bool
    own = [c for c in metrics.columns if c.startswith("fake_")]
    assert own == ["fake_a", "fake_b"] and metrics.iloc[0]["fake_a"] == 288  # in columns()' order
    assert metrics.iloc[0]["lesion_voxels"] == 296  # preprocess.wmh_other_pathology: true (default)
    # atlas space has no labels to give a challenge: no challenge columns
    seen.clear()
    atlas, _, _ = _score(tmp_path, _crafted(tmp_path / "a", labels), "WMH", space="atlas", challenge="wmh")
    assert not seen and "fake_a" not in atlas.columns


# ---------------------------------------------------------------- the workflow's native map is predict's


@pytest.mark.slow
def test_workflow_native_map_equals_predict_from_run_byte_for_byte(tmp_path, monkeypatch):
    """One raw lesion scan, one model: the map native-space scoring grades is S_native.nii.gz of
    `patch2loc predict --from-run` (each side preprocesses the raw scan itself, as it does)."""
    import SimpleITK as sitk
    from tests.helpers.hostile import run_with_model

    from patch2loc import cli
    from patch2loc.evaluation.dataset import scan_grid
    from patch2loc.run.layout import RunLayout
    from patch2loc.registry import implementation
    from patch2loc.preprocessing.normalize import normalize_scan
    from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan
    from patch2loc.synth import demo_subject_ids, synthesize_scan

    base, run, _ = run_with_model(tmp_path)
    scan = synthesize_scan("ATLAS_v2", "T1", demo_subject_ids("ATLAS_v2", 1)[0], base / "raw", seed=5, spacing=4.0)
    heatmap = {**DEMO["heatmap"], "median_size": 3}  # the run's median_size (helpers.safety.finished_run)
    argv = ["predict", "--checkpoint", str(base / "m.pt"), "--image", str(scan.image), "--mask", str(scan.mask)]
    argv += ["--from-run", str(run), "--modality", "T1", "--out", str(base / "pr" / "s.nii.gz"), "--quiet"]
    argv += ["--stride", str(heatmap["stride"]), "--batch-size", str(heatmap["batch_size"]), "--amp", heatmap["amp"]]
    argv += ["--centres", heatmap["centres"], "--median-size", "3", "--device", "cpu"]
    assert cli.main(argv) == 0

    # The workflow: preprocess_scan and normalize_scan as their rules run them (one SimpleITK thread).
    layout, cfg = RunLayout(run), yaml.safe_load((run / "config.resolved.yaml").read_text())
    pre = base / "wf" / "pre"
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        pcfg = PreprocessConfig.from_config(cfg["preprocess"], skull_strip="provided")
        preprocess_scan(scan, layout.atlas_image, layout.atlas_mask, pre, pcfg)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    # preprocessing keeps the skull-strip mask on the scan's own grid: here the provided one
    kept = np.asarray(nib.load(pre / "native_mask.nii.gz").dataobj)
    assert np.array_equal(kept > 0, np.asarray(nib.load(scan.mask).dataobj) > 0)
    normalized = normalize_scan(
        pre / "uncropped.nii.gz",
        pre / "uncropped_mask.nii.gz",
        layout.landmarks("T1"),
        base / "wf" / "normalized.nii.gz",
        percentile=cfg["normalize"]["percentile"],
        target_shape=cfg["preprocess"]["target_shape"],
    )
    graded = []
    load = scan_grid.load_native
    monkeypatch.setattr(scan_grid, "load_native", lambda *a: graded.append(load(*a)) or graded[-1])
    native = NativeFiles(str(scan.image), str(scan.seg), str(pre / "native_mask.nii.gz"), str(pre / "transform.tfm"))
    case = Scan("s", str(normalized), str(pre / "mask.nii.gz"), str(pre / "seg.nii.gz"), native)
    scoring = ScoringConfig.from_workflow(heatmap, {**DEMO["evaluate"], "space": "native"}, device="cpu")
    model = implementation("Patch2Loc").load(str(base / "m.pt"), "cpu")[0]
    meta = {"method": "Patch2Loc", "modality": "T1", "fold": "0", "dataset": "ATLAS_v2"}
    score_lesions("Patch2Loc", [case], scoring, meta, 0.5, base / "wf" / "heat", model)

    predicted = np.asarray(nib.load(base / "pr" / "s_native.nii.gz").dataobj)
    assert predicted.dtype == graded[0].score.dtype == np.float32
    assert predicted.shape == nib.load(scan.image).shape and np.count_nonzero(predicted) > 0
    assert graded[0].score.tobytes() == predicted.tobytes()
