"""Preprocessing chain on small synthetic phantoms (3 mm, ~40^3 voxels).

The phantom is defined analytically in physical (LPS) coordinates, so a "native" scan is the
phantom sampled through a known affine: registration must recover that affine.
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from patch2loc.data.layouts import RawScan
from patch2loc.errors import InputError
from patch2loc.preprocessing.corrections import n4_correct, register_affine
from patch2loc.preprocessing.atlas import load_atlas
from patch2loc.preprocessing.pipeline import (
    PreprocessConfig,
    crop_or_pad,
    preprocess_scan,
    ras_affine,
    resample_to_spacing,
    to_numpy,
)
from tests.helpers.phantom import ATLAS_SHAPE, CFG, grid_points, make_image, native_scan, phantom, random_affine


def test_registration_recovers_known_affine(tmp_path, atlas):
    rng = np.random.default_rng(0)
    for trial in range(2):
        true = random_affine(rng)
        image, mask, _ = native_scan(tmp_path, true, name=f"n{trial}")
        moving = sitk.ReadImage(str(image), sitk.sitkFloat32) * sitk.Cast(sitk.ReadImage(str(mask)), sitk.sitkFloat32)
        moving = resample_to_spacing(moving, CFG.spacing)
        at = load_atlas(*atlas, CFG.spacing)
        found, qc = register_affine(at.brain, moving, CFG)
        pts = grid_points(at.mask)[to_numpy(at.mask) > 0]
        err = [np.linalg.norm(np.subtract(found.TransformPoint(p), true.TransformPoint(p))) for p in pts[::7].tolist()]
        assert np.mean(err) < 2.0, (trial, np.mean(err), qc)


def _wm_cv(image: np.ndarray, wm: np.ndarray) -> float:
    v = image[wm]
    return float(v.std() / v.mean())


def test_n4_reduces_known_bias(atlas):
    grid = sitk.ReadImage(str(atlas[0]))
    q = grid_points(grid)
    image, brain, _ = phantom(q, texture=False)
    wm = image == 1.0
    field = np.exp(0.25 * q[..., 0] / 60 - 0.2 * q[..., 2] / 50).astype(np.float32)  # ~ +-30 %
    biased = image * brain * field
    before = _wm_cv(biased, wm)
    out = to_numpy(
        n4_correct(
            make_image(biased, grid),
            make_image(brain.astype(np.uint8), grid),
            iterations=(20, 20, 20),
            tolerance=1e-3,
            shrink=4,
        )
    )
    after = _wm_cv(out, wm)
    assert before > 0.1 and after < 0.5 * before, (before, after)
    # Away from the brain nothing is left; the correction is multiplicative (contrast kept).
    assert np.all(out[~brain] == 0)
    assert np.median(out[wm]) / np.median(out[brain & (image == 0.55)]) == pytest.approx(1 / 0.55, rel=0.1)


@pytest.mark.slow  # end to end (subprocesses, Snakemake or the real chain): out of make test-fast
def test_whole_chain_keeps_lesion_aligned(tmp_path, atlas):
    true = random_affine(np.random.default_rng(3))
    image, mask, seg = native_scan(tmp_path, true, lesion=True, bias=lambda q: np.exp(0.15 * q[..., 1] / 60))
    scan = RawScan("MSLUB", "T2", "patient01", image, seg, mask)
    qc = preprocess_scan(scan, atlas[0], atlas[1], tmp_path / "out", CFG)
    out = {k: nib.load(tmp_path / "out" / f"{k}.nii.gz") for k in ("image", "mask", "seg")}
    img, brain, lesion = (np.asarray(o.dataobj) for o in out.values())
    assert img.shape == brain.shape == lesion.shape == CFG.target_shape
    assert np.allclose(out["image"].affine, out["seg"].affine)
    assert np.all(img[brain == 0] == 0)
    # The seg sits where the atlas-space phantom has its lesion (the output affine maps voxels to
    # atlas RAS) ...
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in lesion.shape], indexing="ij"), -1)
    ras = ijk @ out["seg"].affine[:3, :3].T + out["seg"].affine[:3, 3]
    _, _, expected = phantom(ras * np.array([-1, -1, 1]), lesion=True)
    dice = 2 * (expected & (lesion > 0)).sum() / (expected.sum() + (lesion > 0).sum())
    assert dice > 0.8, dice
    # ... and on the bright lesion of the image: inside brighter than the 2-voxel ring around it.
    ring = ndimage.binary_dilation(lesion > 0, iterations=2) & (lesion == 0) & (brain > 0)
    assert img[lesion > 0].mean() > 1.3 * img[ring].mean()
    assert qc["lesion_volume_ml"] == pytest.approx(4 / 3 * np.pi * 8**3 / 1000, rel=0.35)
    assert json.loads((tmp_path / "out" / "qc.json").read_text())["subject"] == "patient01"


def test_output_affine_is_atlas_space(tmp_path, atlas):
    """Voxel (i, j, k) of the output is the atlas voxel at the same RAS point."""
    at = load_atlas(*atlas, CFG.spacing)
    arr = to_numpy(at.mask)
    cropped, offset = crop_or_pad(arr, CFG.target_shape)
    aff = ras_affine(at.mask)
    for ijk in ([0, 0, 0], [10, 20, 5]):
        src = np.asarray(ijk) + offset
        if np.all(src >= 0) and np.all(src < arr.shape):
            assert cropped[tuple(ijk)] == arr[tuple(src.astype(int))]
    assert np.allclose(ras_affine(at.mask)[:3, :3], np.diag([-3.0, -3.0, 3.0]))
    assert aff[2, 3] == pytest.approx(-(ATLAS_SHAPE[2] - 1) * 1.5 + at.bbox[2] * 3.0)


@pytest.mark.parametrize("problem", ["corrupt", "mismatched_mask", "mismatched_seg", "no_hdbet"])
def test_bad_input_stops_cleanly(tmp_path, atlas, problem, monkeypatch):
    true = random_affine(np.random.default_rng(5))
    image, mask, seg = native_scan(tmp_path, true, lesion=True)
    cfg = CFG
    if problem == "corrupt":
        image.write_bytes(image.read_bytes()[:200])
        match = "cannot be read"
    elif problem == "mismatched_mask":
        m = sitk.ReadImage(str(mask))
        sitk.WriteImage(m[2:, :, :], str(mask))
        match = "brain mask grid .* does not match"
    elif problem == "mismatched_seg":
        s = sitk.ReadImage(str(seg))
        s.SetSpacing([1.0, 1.0, 1.0])
        sitk.WriteImage(s, str(seg))
        match = "lesion mask grid .* does not match"
    else:
        monkeypatch.setenv("PATH", str(tmp_path))
        cfg = PreprocessConfig(**{**CFG.__dict__, "skull_strip": "hdbet"})
        match = "hd-bet.*not on PATH.*skull_strip: robex.*or provided"
    out = tmp_path / "out"
    with pytest.raises(InputError, match=match) as err:
        preprocess_scan(RawScan("MSLUB", "T2", "p", image, seg, mask), atlas[0], atlas[1], out, cfg)
    if problem != "no_hdbet":
        assert str(image.parent) in str(err.value)
    assert not out.exists() or not any(out.iterdir())


def test_qc_flags_outliers_and_writes_page(tmp_path):
    from patch2loc.preprocessing.qc import qc_overview, qc_png, qc_table

    records = []
    for i, volume in enumerate([1200, 1210, 1190, 1205, 1195, 1202, 600]):  # the last one failed
        path = tmp_path / f"s{i}" / "qc.json"
        path.parent.mkdir()
        path.write_text(
            json.dumps(
                {
                    "dataset": "IXI",
                    "modality": "T1",
                    "subject": f"s{i}",
                    "brain_volume_ml": volume,
                    "registration_metric": -0.8 + 0.01 * (i % 3),
                    "intensity_percentiles": {"50": 1.0},
                    "seconds": {"total": 1.0},
                }
            )
        )
        records.append(path)
    table = qc_table(records)
    assert table["outlier"].tolist() == [False] * 6 + [True]
    assert table.loc[6, "outlier_reason"] == "brain_volume_ml"
    assert table["p50"].eq(1.0).all()

    image, brain, _ = phantom(grid_points(_tiny_grid()))
    png = qc_png(image * brain, brain, tmp_path / "s6" / "qc.png", title="s6")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = qc_overview("IXI", [png], table, tmp_path / "qc.html")
    text = page.read_text()
    assert "1 flagged" in text and "data:image/png;base64," in text and 'class="fig out"' in text


def _tiny_grid() -> sitk.Image:
    grid = sitk.Image([24, 28, 22], sitk.sitkFloat32)
    grid.SetSpacing([6.0] * 3)
    grid.SetOrigin([-69.0, -81.0, -63.0])
    return grid


def test_config_from_workflow_block():
    cfg = PreprocessConfig.from_config(
        {"spacing": [3.0, 3.0, 3.0], "target_shape": [64, 64, 40], "n4_iterations": [50, 50], "n4_tolerance": 0.001},
        skull_strip="none",
    )
    assert cfg.spacing == (3.0, 3.0, 3.0) and cfg.target_shape == (64, 64, 40)
    with pytest.raises(InputError, match=r"unknown key\(s\) \['n4_iteration'\]"):  # a misspelt key is never dropped
        PreprocessConfig.from_config({"n4_iteration": [5]})
    assert cfg.n4_iterations == (50, 50) and cfg.skull_strip == "none"
    assert PreprocessConfig().n4_iterations == (200, 200, 200, 200)
    with pytest.raises(ValueError, match="skull_strip"):
        PreprocessConfig(skull_strip="bet")
