"""No silent wrong answer from a scan in another intensity scale (--html
with --from-run and --model, is in viewer/test_viewer_hostile.py).

A preprocessed scan given without a run, in another intensity scale than the model was
trained on (the normalised scan x1000, or the same file with scl_slope = 1000), was scored with
exit 0, a heatmap from -382 to 0 and 0.0 mL found. Training now records the in-brain intensity
range in every checkpoint (config.intensity_range, carried into bundles with the weights), and
predict refuses a scan outside it in one line, or scores it with a loud warning under --force.
A checkpoint without the range (trained before) gets one warning line and goes on.
"""

from __future__ import annotations


import nibabel as nib
import numpy as np
import pytest
import torch
from tests.helpers.fake_chain import faked_case
from tests.helpers.safety import make_case, predict_argv, refused

from patch2loc import cli
from patch2loc.run.checkpoint import read_checkpoint


@pytest.fixture()
def c(tmp_path, monkeypatch):
    return faked_case(tmp_path, monkeypatch)


def _scaled(c, path, factor: float = 1000.0, slope: bool = False):
    img = nib.load(c["image"])
    data = np.asarray(img.dataobj, np.float32)
    out = nib.Nifti1Image(data if slope else data * factor, img.affine)
    if slope:
        out.header.set_slope_inter(factor, 0.0)  # the stored values are the scan's; the header scales them
    nib.save(out, path)
    if slope:
        assert np.allclose(np.asarray(nib.load(path).dataobj), data * factor, rtol=1e-5)
    return path


# ---------------------------------------------------------------- another intensity scale


@pytest.mark.parametrize("how", ["x1000", "scl_slope 1000", "x0.001"])
def test_a_scan_in_another_intensity_scale_is_refused(c, tmp_path, capsys, how):
    factor, slope = {"x1000": (1000.0, False), "scl_slope 1000": (1000.0, True), "x0.001": (0.001, False)}[how]
    scan = _scaled(c, tmp_path / "in" / "scaled.nii.gz", factor, slope)
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", "--threshold", "3", image=scan),
        "not in the scale the model was trained on",
        tmp_path,
        capsys,
    )
    assert str(scan) in line and "--force" in line and "nothing was written" in line


def test_force_scores_it_with_a_loud_warning(c, tmp_path):
    scan = _scaled(c, tmp_path / "in" / "scaled.nii.gz")
    with pytest.warns(UserWarning) as said:  # on the command line: one `patch2loc: warning:` line
        assert cli.main(predict_argv(c, tmp_path / "out" / "h.nii.gz", "--force", image=scan)) == 0
    assert [str(w.message) for w in said if "scored anyway (--force): do not trust" in str(w.message)]
    assert len(said) == 1 and (tmp_path / "out" / "h.nii.gz").is_file()


def test_the_normalised_scan_itself_passes_quietly(c, tmp_path, capsys):
    capsys.readouterr()
    assert cli.main(predict_argv(c, tmp_path / "out" / "h.nii.gz")) == 0
    assert capsys.readouterr().err == ""


def test_a_checkpoint_without_a_range_is_refused(c, tmp_path, capsys):
    """Training records the range in every checkpoint: one without it was not written by this
    version's training, and the scan's scale could not be checked."""
    ckpt = torch.load(c["ckpt"], weights_only=True)
    del ckpt["config"]["intensity_range"]
    torch.save(ckpt, tmp_path / "in" / "none.pt")
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=tmp_path / "in" / "none.pt"),
        "none.pt: not a usable Patch2Loc checkpoint: no config.intensity_range",
        tmp_path,
        capsys,
    )
    assert "\n" not in line


@pytest.mark.parametrize("value", [{"p1": float("nan"), "p99": 1.0}, {"p1": 2.0, "p99": 1.0}, [0, 1]])
def test_a_crafted_range_is_refused_with_the_checkpoint(c, tmp_path, capsys, value):
    ckpt = torch.load(c["ckpt"], weights_only=True)
    ckpt["config"]["intensity_range"] = value
    torch.save(ckpt, tmp_path / "in" / "bad.pt")
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=tmp_path / "in" / "bad.pt"),
        "intensity_range",
        tmp_path,
        capsys,
    )


@pytest.mark.parametrize("method", ["Patch2Loc", "DAE", "DDPM"])
def test_training_records_the_range(tmp_path, method):
    """The trained methods (the diffusion models through their shared training) record the in-brain 1st/99th percentiles of their training volumes."""
    from patch2loc.training.training_data import load_training_data

    cases = [make_case(tmp_path / f"s{i}") for i in range(2)]
    pairs = [(c["image"], c["mask"]) for c in cases]
    data = load_training_data(pairs[:1], pairs[1:])
    if method == "Patch2Loc":
        from patch2loc.methods.patch2loc.train import TrainConfig, train

        train(
            data.train_images,
            data.train_masks,
            data.val_images,
            data.val_masks,
            TrainConfig(steps=1, patches_per_step=4, val_every=1, val_batches=1, device="cpu"),
            tmp_path / "m",
            progress=False,
        )
    elif method == "DDPM":
        from patch2loc.methods.diffusion.train import DiffusionConfig, train

        train(
            data,
            DiffusionConfig(
                steps=1, batch_size=2, width=8, blocks=1, rescale=1, val_every=1, val_batches=1, device="cpu"
            ),
            tmp_path / "m",
            progress=False,
        )
    else:
        from patch2loc.methods.dae.train import DAEConfig, train

        train(
            data,
            DAEConfig(steps=1, batch_size=2, width=4, depth=2, val_every=1, val_batches=1, device="cpu"),
            tmp_path / "m",
            progress=False,
        )
    recorded = read_checkpoint(tmp_path / "m" / "best.pt", method=method)["config"]["intensity_range"]
    inside = data.train_images[0][data.train_masks[0]]
    assert recorded["p1"] == pytest.approx(np.percentile(inside, 1)) and recorded["volumes"] == 1
    assert recorded["p99"] == pytest.approx(np.percentile(inside, 99))
