"""Hostile inputs to models of several contrasts (predict, bundles), the BIDS App's pairing of
contrasts and its filters, and export. Each case builds its inputs under folder/in (never in the
fixture) and runs the entry point in a child process (tests/helpers/hostile_child.py's judge); each
surface has its control (expect 0). Slow: `make test-hostile`."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile_child_fixture import Case
from tests.helpers.hostile_surface_files import fold_config, nifti, rewrite_zip, sparse
from tests.helpers.hostile_surface_fixture import CLI

pytestmark = pytest.mark.hostile
T1, T2 = "sub-02_T1w.nii.gz", "sub-02_T2w.nii.gz"
T1_MASK, T2_MASK = "sub-02_space-T1w_desc-brain_mask.nii.gz", "sub-02_space-T2w_desc-brain_mask.nii.gz"


def _bids(fix, folder: Path) -> Path:
    data, _ = fix.bids
    copy = folder / "in" / "bids"
    shutil.copytree(data, copy, symlinks=True)
    return copy


def _bundle(fix, folder: Path, change=None) -> Path:
    mine = folder / "in" / "t1t2.zip"
    shutil.copy(fix.t1t2, mine)
    if change is not None:
        rewrite_zip(mine, change)
    return mine


def _predict(fix, folder, t2=None, t2_mask=None, change=None) -> list[str]:
    data = _bids(fix, folder)
    anat, masks = data / "sub-02" / "anat", data / "derivatives" / "masks" / "sub-02" / "anat"
    return [*CLI, "predict", "--model", str(_bundle(fix, folder, change)), "--image", str(anat / T1),
            "--mask", str(masks / T1_MASK), "--contrast", f"T2={t2 or anat / T2}",
            "--contrast-mask", f"T2={t2_mask or masks / T2_MASK}",
            "--out", str(folder / "out" / "s.nii.gz"), "--device", "cpu", "--quiet"]  # fmt: skip


def _t2(fix, folder, edit):
    """predict with the T2 (or its mask) replaced by edit(data, affine, folder) -> {"t2" | "t2_mask": file}."""
    import nibabel as nib

    data, _ = fix.bids
    img = nib.load(data / "sub-02" / "anat" / T2)
    return _predict(fix, folder, **edit(np.asarray(img.dataobj, np.float32), img.affine, folder / "in"))


def mc_constant(data, affine, to):
    return {"t2": nifti(to / "t2.nii.gz", np.zeros_like(data), affine)}


def mc_two_geometries(data, affine, to):
    moved = affine.copy()
    moved[:3, 3] += 20.0
    return {"t2": nifti(to / "t2.nii.gz", data, affine, qform=moved)}


def mc_empty_mask(data, affine, to):
    return {"t2_mask": nifti(to / "t2_mask.nii.gz", np.zeros(data.shape, np.uint8), affine)}


def mc_mask_other_grid(data, affine, to):
    return {"t2_mask": nifti(to / "t2_mask.nii.gz", np.ones((5, 5, 5), np.uint8), affine)}


def mc_over_budget(data, affine, to):
    """A 640^3 T2 (a few hundred kB of zeros compressed): its chain takes more than the 4 GB budget."""
    big = nifti(to / "t2.nii.gz", np.zeros((640, 640, 640), np.uint8), affine)
    return {"t2": big, "t2_mask": big}


def _folds(**config):
    def change(members):
        for name in [n for n in members if n.startswith("folds/")]:
            members[name] = fold_config(members[name], **config)

    return change


def _one_channel(members):
    """The folds replaced by one-channel networks whose config says T1T2, their fields as training
    writes a one-channel model's (channels 1, one range): a usable checkpoint in the wrong bundle."""
    import torch

    from patch2loc.methods.patch2loc.model import Patch2LocNet

    for name in [n for n in members if n.startswith("folds/")]:
        ckpt = torch.load(io.BytesIO(members[name]), weights_only=True)
        ckpt["model"] = Patch2LocNet(4).eval().state_dict()
        ckpt["config"]["channels"] = 1
        ckpt["config"].pop("intensity_ranges")
        out = io.BytesIO()
        torch.save(ckpt, out)
        members[name] = out.getvalue()


def _flair(members):
    settings = json.loads(members["settings.json"])
    settings["contrasts"], settings["landmarks"] = (
        ["T1", "FLAIR"],
        {"T1": "landmarks/T1.npy", "FLAIR": "landmarks/FLAIR.npy"},
    )
    members["landmarks/FLAIR.npy"] = members.pop("landmarks/T2.npy")
    members["settings.json"] = json.dumps(settings).encode()


def _participant(fix, folder, bundle: Path, *extra: str, data: Path | None = None) -> list[str]:
    data = data or _bids(fix, folder)
    return [*CLI, "bids", str(data), str(folder / "out" / "p2l"), "participant", "--model", str(bundle),
            "--mask-derivatives", str(data / "derivatives" / "masks"), "--device", "cpu", "--quiet",
            "--participant-label", "02", *extra]  # fmt: skip


def bids_other_subject(fix, folder):
    """sub-02's T2w renamed sub-03_T2w.nii.gz in sub-02/anat: pybids reads subject 02 from the folder."""
    data = _bids(fix, folder)
    anat = data / "sub-02" / "anat"
    (anat / T2).rename(anat / "sub-03_T2w.nii.gz")
    for sidecar in anat.glob("sub-02_T2w.json"):
        sidecar.rename(anat / "sub-03_T2w.json")
    return _participant(fix, folder, _bundle(fix, folder), data=data)


def _filter(spec: dict):
    def build(fix, folder):
        path = folder / "in" / "filter.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        return _participant(fix, folder, fix.bids[1], "--bids-filter-file", str(path))

    return build


def _export(edit=None):
    """export of the run's DDPM folds, the run copied and edited by edit(run) first."""

    def build(fix, folder):
        run = folder / "in" / "run"
        shutil.copytree(fix.ddpm_run, run)
        if edit is not None:
            edit(run)
        return [*CLI, "export", str(run), "--modality", "T1", "--method", "DDPM", "--out",
                str(folder / "out" / "b.zip"), "--quiet"]  # fmt: skip

    return build


def _timesteps(run: Path) -> None:
    import torch

    from patch2loc.run.checkpoint import save_checkpoint

    path = run / "models" / "DDPM" / "T1" / "fold0" / "best.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["timesteps"] = 10**9
    save_checkpoint(path, ckpt)


def _sparse_threshold(run: Path) -> None:
    (path,) = run.glob("scores/DDPM/T1/fold1/**/threshold.json")
    path.unlink()
    sparse(path, b'{"threshold": 0.5', 1 << 30)


def _sparse_config(run: Path) -> None:
    config = run / "config.resolved.yaml"
    sparse(config, config.read_bytes(), 1 << 30)


def _bids_flair(fix, folder):
    return _participant(fix, folder, _bundle(fix, folder, _flair))


CASES = [
    Case("mc_control", "contrasts", lambda fix, folder: _predict(fix, folder), expect=0),
    Case("mc_second_constant", "contrasts", lambda f, d: _t2(f, d, mc_constant), needle="constant"),
    Case("mc_second_two_geometries", "contrasts", lambda f, d: _t2(f, d, mc_two_geometries), needle="nibabel and ITK"),
    Case("mc_second_empty_mask", "contrasts", lambda f, d: _t2(f, d, mc_empty_mask), needle="mask is empty"),
    Case("mc_second_mask_other_grid", "contrasts", lambda f, d: _t2(f, d, mc_mask_other_grid), needle="mask shape"),
    Case("mc_second_over_budget", "contrasts", lambda f, d: _t2(f, d, mc_over_budget), needle="memory budget"),
    Case(
        "mc_fold_ranges_text",
        "contrasts",
        lambda f, d: _predict(f, d, change=_folds(intensity_ranges=["x", "y"])),
        needle="intensity_ranges",
    ),  # fmt: skip
    Case(
        "mc_fold_other_grid",
        "contrasts",
        lambda f, d: _predict(f, d, change=_folds(volume_shape=[16, 16, 8])),
        needle="shape",
    ),  # fmt: skip
    Case("mc_fold_one_channel", "contrasts", lambda f, d: _predict(f, d, change=_one_channel), needle="2 contrast"),
    Case("mc_bundle_flair", "contrasts", lambda f, d: _predict(f, d, change=_flair), needle="contrasts"),
    Case("bids_pair_control", "bids", lambda fix, folder: _participant(fix, folder, _bundle(fix, folder)), expect=0),
    Case("bids_pair_other_subject", "bids", bids_other_subject, needle="sub-03_T2w"),
    Case("bids_bundle_flair", "bids", _bids_flair, needle="contrasts"),
    Case("bids_filter_regex_search", "bids", _filter({"t1w": {"regex_search": True, "subject": "["}}), needle="filter"),
    Case("bids_filter_return_type", "bids", _filter({"t1w": {"return_type": "id"}}), needle="filter"),
    Case("bids_filter_float_run", "bids", _filter({"t1w": {"run": 1.5}}), needle="filter"),
    Case("export_control", "export", _export(), expect=0),
    Case("export_ddpm_timesteps_1e9", "export", _export(_timesteps), needle="timesteps"),
    Case("export_threshold_sparse_1gb", "export", _export(_sparse_threshold), needle="threshold"),
    Case("export_config_sparse_1gb", "export", _export(_sparse_config), needle="config"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_passes(case, hostile_entry):
    """A refusal: exit 2, one line naming the file and the fix, nothing written or left, inputs unchanged, under 1.5 GB; a control or an accepted input: exit 0."""
    hostile_entry.check(case, CASES, timeout=180.0)
