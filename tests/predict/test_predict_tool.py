"""Predict as a tool: ensemble, components, many scans per call, native space, DICOM."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pytest
import torch
from tests.helpers.hostile import write_dicom_series
from tests.helpers.checkpoints import NORMALISED, as_written
from tests.helpers.safety import SHAPE, finished_run, make_case, predict_argv

from patch2loc import cli
from patch2loc.methods.patch2loc.model import Patch2LocNet
from patch2loc.predict.lesions import components


# ---------------------------------------------------------------- components


def test_component_table_on_a_constructed_mask():
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    affine[:3, 3] = (-10.0, 20.0, 5.0)
    mask = np.zeros((20, 20, 10), bool)
    score = np.zeros(mask.shape, np.float32)
    mask[2:6, 2:6, 2:4] = True  # 32 voxels, centre (3.5, 3.5, 2.5)
    score[2:6, 2:6, 2:4] = 5.0
    score[3, 3, 2] = 9.0
    mask[10, 10, 5] = mask[11, 11, 6] = True  # touching at a corner: one component (26-connectivity)
    score[10, 10, 5], score[11, 11, 6] = 3.0, 4.0
    mask[15:17, 15, 8] = True  # 2 voxels, separate
    score[15:17, 15, 8] = 7.0
    rows = components(mask, score, affine)
    assert [r["voxels"] for r in rows] == [32, 2, 2]
    assert [r["component"] for r in rows] == [1, 2, 3]
    big = rows[0]
    assert big["volume_ml"] == pytest.approx(32 * 12 / 1000)  # 2 x 2 x 3 mm voxels
    assert big["peak_score"] == 9.0 and big["mean_score"] == pytest.approx((31 * 5 + 9) / 32)
    assert (big["centroid_x_mm"], big["centroid_y_mm"], big["centroid_z_mm"]) == pytest.approx(
        (-10 + 2 * 3.5, 20 + 2 * 3.5, 5 + 3 * 2.5)
    )
    # equal volumes: the higher peak first (7 > 4); the corner pair is one component
    assert rows[1]["peak_score"] == 7.0 and rows[2]["peak_score"] == 4.0
    assert rows[2]["mean_score"] == pytest.approx(3.5)
    assert components(np.zeros((3, 3, 3), bool), np.zeros((3, 3, 3)), np.eye(4)) == []


# ---------------------------------------------------------------- ensemble


def test_ensemble_of_identical_checkpoints_equals_one(tmp_path):
    c = make_case(tmp_path / "in")
    shutil.copy(c["ckpt"], tmp_path / "in" / "copy.pt")
    one, two = tmp_path / "one.nii.gz", tmp_path / "two.nii.gz"
    assert cli.main(predict_argv(c, one)) == 0
    assert cli.main(predict_argv(c, two, "--checkpoint", str(tmp_path / "in" / "copy.pt"))) == 0
    a, b = np.asarray(nib.load(one).dataobj), np.asarray(nib.load(two).dataobj)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert np.ptp(a[c["mask"] if isinstance(c["mask"], np.ndarray) else a != 0]) > 0
    # a different model changes the ensemble (the comparison above can fail)
    torch.manual_seed(1)
    other = {**torch.load(c["ckpt"], weights_only=True), "model": Patch2LocNet(2).eval().state_dict()}
    torch.save(other, tmp_path / "in" / "other.pt")
    three = tmp_path / "three.nii.gz"
    assert cli.main(predict_argv(c, three, "--checkpoint", str(tmp_path / "in" / "other.pt"))) == 0
    assert not np.allclose(np.asarray(nib.load(three).dataobj), a, atol=1e-6)


# ---------------------------------------------------------------- lesion mask, summary, --seg


def test_threshold_gives_mask_summary_and_seg_metrics(tmp_path):
    c = make_case(tmp_path / "in")
    seg = np.zeros(SHAPE, np.uint8)
    seg[6:9, 6:9, 1:3] = 1
    nib.save(nib.Nifti1Image(seg, c["affine"]), tmp_path / "in" / "seg.nii.gz")
    out = tmp_path / "o" / "s.nii.gz"
    heat_only = tmp_path / "h.nii.gz"
    assert cli.main(predict_argv(c, heat_only)) == 0
    heat = np.asarray(nib.load(heat_only).dataobj)
    thr = float(np.median(heat[heat != 0]))
    assert cli.main(predict_argv(c, out, "--threshold", str(thr), "--seg", str(tmp_path / "in" / "seg.nii.gz"))) == 0
    lesions = np.asarray(nib.load(tmp_path / "o" / "s_lesions.nii.gz").dataobj).astype(bool)
    np.testing.assert_array_equal(lesions, heat > thr)
    summary = json.loads((tmp_path / "o" / "s_summary.json").read_text())
    assert summary["threshold"] == thr and summary["threshold_source"] == "--threshold"
    assert sum(r["voxels"] for r in summary["components"]) == lesions.sum()
    voxel_ml = 1.5 * 1.0 * 2.0 / 1000
    assert summary["lesion_volume_ml"] == pytest.approx(lesions.sum() * voxel_ml)
    assert set(summary["seg_metrics"]) >= {"auprc", "best_dice", "dice_at_threshold"}
    assert 0 <= summary["seg_metrics"]["auprc"] <= 1
    csv_lines = (tmp_path / "o" / "s_components.csv").read_text().splitlines()
    assert csv_lines[0].startswith("component,voxels,volume_ml") and len(csv_lines) == 1 + len(summary["components"])


# ---------------------------------------------------------------- many scans per call


def test_csv_of_three_scans_one_corrupt(tmp_path, capsys):
    c = make_case(tmp_path / "in")
    for name in ("a", "b"):
        shutil.copy(c["image"], tmp_path / "in" / f"{name}.nii.gz")
    (tmp_path / "in" / "bad.nii.gz").write_bytes(b"not a nifti")
    (tmp_path / "in" / "list.csv").write_text(
        "image,mask\n" + "".join(f"{n}.nii.gz,mask.nii.gz\n" for n in ("a", "bad", "b"))
    )
    out = tmp_path / "out"
    argv = predict_argv(c, out, "--threshold", "3", image=tmp_path / "in" / "list.csv", mask=False)
    capsys.readouterr()
    assert cli.main(argv) == 1  # one scan failed
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.nii.gz" in err[0] and "Traceback" not in err[0], err
    names = sorted(p.name for p in out.iterdir())
    expected = sorted(
        f"{s}{suffix}"
        for s in ("a", "b")
        for suffix in (".nii.gz", ".png", "_summary.json", "_components.csv", "_lesions.nii.gz")
    )
    assert names == expected  # nothing of the bad scan, no temp files
    stamp = (out / "a.nii.gz").stat().st_mtime_ns
    assert cli.main(argv) == 1  # again: a and b skipped, bad fails again
    assert (out / "a.nii.gz").stat().st_mtime_ns == stamp
    (tmp_path / "in" / "list.csv").write_text("image,mask\na.nii.gz,mask.nii.gz\n")
    assert cli.main(argv + ["--overwrite"]) == 0
    assert (out / "a.nii.gz").stat().st_mtime_ns != stamp


def test_a_missing_checkpoint_is_named_as_such_and_nothing_is_written(tmp_path, capsys):
    """Its checksum enters the call's fingerprint before any model loads: it is checked first."""
    c = make_case(tmp_path / "in")
    argv = predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=tmp_path / "in" / "none.pt")
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.pt: --checkpoint not found" in err[0], err
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_as_out_receives_the_outputs(tmp_path):
    c = make_case(tmp_path / "in")
    (tmp_path / "results").mkdir()
    assert cli.main(predict_argv(c, tmp_path / "results")) == 0
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [
        "image.nii.gz",
        "image.png",
        "image_components.csv",
        "image_summary.json",
    ]


# ---------------------------------------------------------------- native space and DICOM (raw scans)


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("tool")
    run, scan = finished_run(base)
    torch.manual_seed(0)
    for k in (0, 1):
        d = run / "models" / "T1" / f"fold{k}"
        d.mkdir(parents=True)
        ckpt = {
            "model": Patch2LocNet(4).eval().state_dict(),
            "patch_size": 4,
            "config": {"intensity_range": NORMALISED},
        }
        torch.save(as_written(ckpt, grid=(32, 32, 20)), d / "best.pt")
        t = run / "scores" / "Patch2Loc" / "T1" / f"fold{k}" / "IXI"
        t.mkdir(parents=True)
        (t / "threshold.json").write_text(json.dumps({"threshold": 4.0 + k}))
    out = base / "out" / "new.nii.gz"
    assert cli.main(predict_argv(None, out, image=scan.image, mask=scan.mask, ckpt=False, from_run=run)) == 0
    return base, run, scan, out


@pytest.mark.slow
def test_native_outputs_lie_on_the_scans_grid(raw_run):
    base, run, scan, out = raw_run
    raw = nib.load(scan.image)
    native = nib.load(base / "out" / "new_native.nii.gz")
    assert native.shape == raw.shape and np.allclose(native.affine, raw.affine)
    lesions = nib.load(base / "out" / "new_native_lesions.nii.gz")
    assert lesions.shape == raw.shape and np.allclose(lesions.affine, raw.affine)
    data = np.asarray(native.dataobj)
    brain = np.asarray(nib.load(scan.mask).dataobj) > 0
    assert np.isfinite(data).all() and (data[~brain] == 0).mean() > 0.99 and np.any(data[brain] != 0)
    summary = json.loads((base / "out" / "new_summary.json").read_text())
    assert summary["threshold"] == pytest.approx(4.5) and summary["summary_space"] == "native"
    assert len(summary["checkpoints"]) == 2  # every fold's best.pt
    assert summary["median_size"] == 3  # the run's heatmap.median_size, not the stand-alone default 7


@pytest.mark.slow
def test_inverse_mapping_round_trip(raw_run):
    """A linear field of native world coordinates, warped to the atlas grid with the chain's
    transform and back with predict's inverse, is recovered inside the brain (tolerance 1e-3 mm)."""
    import SimpleITK as sitk

    from patch2loc.scoring.native import sitk_image, to_native

    base, run, scan, out = raw_run
    prepared = base / "out" / "new_preprocessed"
    raw = nib.load(scan.image)
    ijk = np.stack(np.meshgrid(*[np.arange(s) for s in raw.shape], indexing="ij"), -1).astype(np.float64)
    world = ijk @ raw.affine[:3, :3].T + raw.affine[:3, 3]
    field = (world @ np.array([1.0, 2.0, -0.5])).astype(np.float32)  # linear in world mm
    atlas = nib.load(prepared / "image.nii.gz")
    forward = sitk.ReadTransform(str(prepared / "transform.tfm"))
    ref = sitk_image(np.zeros(atlas.shape, np.float32), atlas.affine)
    warped = sitk.Resample(sitk_image(field, raw.affine), ref, forward, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    in_atlas = sitk.GetArrayFromImage(warped).transpose(2, 1, 0)
    back = to_native(in_atlas, atlas.affine, prepared / "transform.tfm", scan.image)
    from scipy import ndimage

    brain = np.asarray(nib.load(scan.mask).dataobj) > 0
    atlas_brain = np.asarray(nib.load(prepared / "mask.nii.gz").dataobj) > 0
    covered = (
        to_native(atlas_brain.astype(np.float32), atlas.affine, prepared / "transform.tfm", scan.image, nearest=True)
        > 0.5
    )
    inside = ndimage.binary_erosion(brain & covered, iterations=2)
    assert inside.sum() > 0.3 * brain.sum()
    assert np.abs(back[inside] - field[inside]).max() < 1e-3 * np.abs(field[inside]).max() + 1e-3


@pytest.mark.slow
def test_dicom_series_gives_the_same_heatmap_as_the_nifti(raw_run, tmp_path):
    import SimpleITK as sitk

    base, run, scan, out = raw_run
    dicom = tmp_path / "series"
    write_dicom_series(sitk.ReadImage(str(scan.image)), dicom)
    d_out = tmp_path / "dicom.nii.gz"
    assert cli.main(predict_argv(None, d_out, image=dicom, mask=scan.mask, ckpt=False, from_run=run)) == 0
    a, b = np.asarray(nib.load(out).dataobj), np.asarray(nib.load(d_out).dataobj)
    np.testing.assert_allclose(b, a, atol=1e-4)
    assert (tmp_path / "dicom_preprocessed" / "native.nii.gz").exists()


def test_skull_strip_choices(tmp_path, capsys):
    from patch2loc.predict.inputs import ScanInput
    from patch2loc.predict.plan import skull_strip_of

    with_mask, without = ScanInput("a", tmp_path / "a.nii.gz", tmp_path / "m.nii.gz"), ScanInput("b", tmp_path / "b")
    assert [skull_strip_of(with_mask, c) for c in ("auto", "mask", "hdbet", "none")] == [
        "provided",
        "provided",
        "hdbet",
        "none",
    ]
    assert skull_strip_of(without, "auto") == "hdbet"
    c = make_case(tmp_path / "in")
    assert cli.main(predict_argv(c, tmp_path / "h.nii.gz", "--skull-strip", "none")) == 2
    assert "add --from-run" in capsys.readouterr().err
