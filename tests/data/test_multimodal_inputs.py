"""Model inputs as sets of contrasts (patch2loc.data.inputs) and the stacks they train on
(patch2loc.preprocessing.stack): which inputs a run trains, which lesion sets each scores, who is
left out, and a stack that trains a two-contrast Patch2Loc."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from patch2loc.data.inputs import covered, dataset_contrasts, model_inputs, scan_contrasts, set_inputs
from patch2loc.errors import InputError
from patch2loc.methods.patch2loc import train as p2l_train
from patch2loc.training.training_data import load_training_data
from patch2loc.preprocessing.stack import load_stacked_case, stack_contrasts

SETS = ["BraTS21", "MSLUB", "ATLAS_v2", "WMH"]


def _config(inputs=None, **contrasts):
    datasets = {d: {"skull_strip": "none"} for d in ["IXI", *SETS]}
    for d, c in contrasts.items():
        datasets[d]["contrasts"] = c
    return {"datasets": datasets, **({"inputs": inputs} if inputs else {})}


def test_without_inputs_a_run_has_todays_one_model_per_paper_contrast():
    cfg = _config()
    inputs = model_inputs(cfg, SETS)
    assert inputs == {"T1": ("T1",), "T2": ("T2",)}
    assert {d: set_inputs(inputs, cfg, d) for d in SETS} == {
        "BraTS21": ["T2"],
        "MSLUB": ["T2"],
        "ATLAS_v2": ["T1"],
        "WMH": ["T1"],
    }
    assert model_inputs(cfg, ["BraTS21"]) == {"T2": ("T2",)}  # a modality is trained only if a set needs it


def test_a_set_is_scored_by_every_input_whose_contrasts_it_has():
    cfg = _config({"T1": ["T1"], "T2": ["T2"], "T1T2": ["T1", "T2"]}, BraTS21=["T2", "T1"])
    inputs = model_inputs(cfg, SETS)
    assert set_inputs(inputs, cfg, "BraTS21") == ["T2", "T1", "T1T2"]  # its paper contrast first
    assert set_inputs(inputs, cfg, "MSLUB") == ["T2"]  # lists no T1: no T1T2 there
    assert set_inputs(inputs, cfg, "WMH") == ["T1"]
    assert scan_contrasts(inputs, cfg, "BraTS21") == ("T2", "T1")
    assert scan_contrasts(inputs, cfg, "MSLUB") == ("T2",)


@pytest.mark.parametrize(
    "cfg, named",
    [
        (_config({"T1T2": ["T1", "FLAIR"]}), "inputs.T1T2"),
        (_config({"t1": ["T1"]}), "inputs.t1"),  # one contrast: named after it
        (_config({"T2": ["T1", "T2"]}), "inputs.T2"),
        (_config({"T1T2": ["T1", "T1"]}), "inputs.T1T2"),
        (_config(None, WMH=["T2"]), "datasets.WMH.contrasts"),  # WMH ships no T2
    ],
)
def test_a_bad_input_is_one_line_naming_its_key(cfg, named):
    with pytest.raises(InputError) as err:
        model_inputs(cfg, SETS)
        dataset_contrasts(cfg, "WMH")
    assert named in str(err.value) and "\n" not in str(err.value)


def test_a_subject_without_a_contrast_is_left_out_and_named():
    kept, missing = covered([["a", "b", "c", "d"], ["a", "c", "d", "e"]])
    assert kept == ["a", "c", "d"]
    assert missing == {"b": [1], "e": [0]}  # b lacks the second contrast, e the first


def _nifti(path, data, affine=np.eye(4)):
    nib.save(nib.Nifti1Image(np.asarray(data), affine), str(path))
    return str(path)


def _subject(tmp, name, seed, shape=(16, 16, 6)):
    """Two normalised contrasts of one tiny 'brain' with slightly different masks."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, s) for s in shape), indexing="ij")
    masks = [(x**2 + y**2 + 0.5 * z**2) < r for r in (0.8, 0.7)]
    images = [np.where(m, rng.normal(0.5, 0.2, shape) + k * x, 0).astype(np.float32) for k, m in enumerate(masks)]
    return (
        [_nifti(tmp / f"{name}_c{c}.nii.gz", images[c]) for c in (0, 1)],
        [_nifti(tmp / f"{name}_m{c}.nii.gz", masks[c].astype(np.uint8)) for c in (0, 1)],
        images,
        masks,
    )


def test_a_stack_holds_each_contrast_as_a_channel_and_the_masks_intersection(tmp_path):
    images, masks, arrays, brains = _subject(tmp_path, "s", 0)
    seg = _nifti(tmp_path / "seg.nii.gz", brains[1].astype(np.uint8))
    out = {k: str(tmp_path / f"out_{k}.nii.gz") for k in ("image", "mask", "seg")}
    counts = stack_contrasts(images, masks, out["image"], out["mask"], seg, out["seg"])
    assert nib.load(out["image"]).shape == (16, 16, 6, 2)
    case = load_stacked_case(out["image"], out["mask"])
    assert case.image.data.shape == (2, 16, 16, 6)
    np.testing.assert_array_equal(case.image.data[1], arrays[1])
    np.testing.assert_array_equal(case.mask, brains[0] & brains[1])
    assert counts["stack_voxels"] == int((brains[0] & brains[1]).sum()) < counts["mask_voxels"][0]
    assert open(out["seg"], "rb").read() == open(seg, "rb").read()  # the reference's lesion mask, as it is


def test_contrasts_on_different_grids_are_refused_and_nothing_is_written(tmp_path):
    images, masks, arrays, brains = _subject(tmp_path, "s", 0)
    shifted = np.eye(4)
    shifted[0, 3] = 3.0
    images[1] = _nifti(tmp_path / "moved.nii.gz", arrays[1], shifted)
    masks[1] = _nifti(tmp_path / "moved_m.nii.gz", brains[1].astype(np.uint8), shifted)
    out = tmp_path / "out.nii.gz"
    with pytest.raises(InputError, match="moved.nii.gz: grid"):
        stack_contrasts(images, masks, out, tmp_path / "out_mask.nii.gz")
    assert not out.exists() and not (tmp_path / "out_mask.nii.gz").exists()


def test_a_two_contrast_patch2loc_trains_on_stacks(tmp_path):
    pairs = []
    for k in range(3):
        images, masks, _, _ = _subject(tmp_path, f"s{k}", k)
        out_image, out_mask = tmp_path / f"stack{k}.nii.gz", tmp_path / f"stack{k}_mask.nii.gz"
        stack_contrasts(images, masks, out_image, out_mask)
        pairs.append((str(out_image), str(out_mask)))
    data = load_training_data(pairs[:2], pairs[2:])
    assert data.train_images.shape == (2, 2, 16, 16, 6) and data.train_masks.shape == (2, 16, 16, 6)
    cfg = p2l_train.TrainConfig(steps=2, patches_per_step=16, val_every=2, val_batches=1, patch_size=4, device="cpu")
    cfg.num_threads = 1
    p2l_train.train_from_files(pairs[:2], pairs[2:], cfg, tmp_path / "model", progress=False)
    from patch2loc.run.checkpoint import read_checkpoint

    assert read_checkpoint(tmp_path / "model" / "best.pt", "test")["config"]["channels"] == 2
