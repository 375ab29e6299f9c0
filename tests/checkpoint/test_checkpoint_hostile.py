"""A checkpoint's fields and tensors are checked against the architecture
before anything is built or scored. A patch_size of 600 tried an 11.8 GB allocation, 1e9 gave a
traceback; now each is one line, exit 2, nothing written, and (in a child process) a peak
memory no higher than a tiny good input's plus a margin (helpers.hostile.MARGIN_MB)."""

from __future__ import annotations

import pytest
import torch
from tests.helpers.hostile import assert_nothing_allocated, cli_in_child
from tests.helpers.safety import make_case, predict_argv, refused, snapshot

from patch2loc.methods.patch2loc.model import Patch2LocNet


@pytest.fixture()
def c(tmp_path, monkeypatch):
    monkeypatch.setattr("patch2loc.methods.patch2loc.heatmap.score_volume", _no_compute)
    return make_case(tmp_path / "in")


def _no_compute(*args, **kwargs):
    raise AssertionError("scoring started before the checkpoint was checked")


def _save(c, name: str, **changes) -> str:
    """make_case's checkpoint with some fields replaced (None deletes one)."""
    ckpt = torch.load(c["ckpt"], weights_only=True)
    for key, value in changes.items():
        if value is None:
            ckpt.pop(key)
        else:
            ckpt[key] = value
    path = c["ckpt"].with_name(name)
    torch.save(ckpt, path)
    return path


@pytest.mark.slow  # a child process: its peak memory is measured
def test_patch_size_600_is_refused_before_any_allocation(tmp_path):
    c = make_case(tmp_path / "in")
    bad = _save(c, "p600.pt", patch_size=600)
    before = snapshot(tmp_path)
    rc, err, peak_mb = cli_in_child(predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=bad))
    assert rc == 2 and len(err) == 1 and "Traceback" not in err[0], err
    assert "p600.pt" in err[0] and "patch_size is '600'" in err[0] and "1 to 128" in err[0]
    assert snapshot(tmp_path) == before
    assert_nothing_allocated(peak_mb)


@pytest.mark.parametrize("value", [1e9, 0, -3, "24", True, 24.0, 129])
def test_patch_size_must_be_a_whole_number_in_range(c, tmp_path, capsys, value):
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=_save(c, "bad.pt", patch_size=value)),
        "patch_size is",
        tmp_path,
        capsys,
    )
    assert "bad.pt: not a usable Patch2Loc checkpoint" in line


def test_patch_size_larger_than_the_training_slices(c, tmp_path, capsys):
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=_save(c, "big.pt", patch_size=20)),
        "larger than the slices of its training grid [16, 16, 4]",
        tmp_path,
        capsys,
    )


@pytest.mark.parametrize(
    "change,needle",
    [
        ("conv7", "encoder.conv1.weight has shape [64, 1, 7, 7], the network's is [64, 1, 3, 3]"),
        ("missing", "1 tensor(s) missing, 0 unexpected (e.g. mean_head.0.weight)"),
        ("extra", "0 tensor(s) missing, 1 unexpected (e.g. decoder.weight)"),
        ("nan", "logvar_head.12.bias holds NaN or infinite weights"),
        ("int", "mean_head.0.weight holds torch.int64"),
        ("list", "'model' is not a dict of named tensors"),
    ],
)
def test_weights_that_do_not_fit_the_network(c, tmp_path, capsys, change, needle):
    weights = dict(torch.load(c["ckpt"], weights_only=True)["model"])
    if change == "conv7":
        weights["encoder.conv1.weight"] = torch.zeros(64, 1, 7, 7)
    elif change == "missing":
        del weights["mean_head.0.weight"]
    elif change == "extra":
        weights["decoder.weight"] = torch.zeros(3)
    elif change == "nan":
        weights["logvar_head.12.bias"] = torch.tensor([0.0, float("nan")])
    elif change == "int":
        weights["mean_head.0.weight"] = weights["mean_head.0.weight"].long()
    else:
        weights["mean_head.0.weight"] = [1.0, 2.0]
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=_save(c, "bad.pt", model=weights)), needle, tmp_path, capsys
    )
    assert "bad.pt" in line


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("modality", 7, "modality is '7', not a modality name"),
        ("config", [1, 2], "'config' is a list, not a dict"),
        ("config", {"volume_shape": "16,16,4"}, "config.volume_shape is '16,16,4'"),
        ("config", {"volume_shape": [16, 16]}, "config.volume_shape is '[16, 16]'"),
        ("config", {"volume_shape": [0, 16, 4]}, "config.volume_shape is '[0, 16, 4]'"),
        ("config", {"modality": {"T1": 1}}, "config.modality is"),
    ],
)
def test_fields_of_the_wrong_type(c, tmp_path, capsys, field, value, needle):
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=_save(c, "bad.pt", **{field: value})),
        needle,
        tmp_path,
        capsys,
    )


def test_a_good_checkpoint_still_loads_and_is_not_built_twice(c, tmp_path):
    from patch2loc.methods.patch2loc.model import load_model, weights_problem

    model, ckpt = load_model(str(c["ckpt"]))
    assert model.patch_size == 2 and weights_problem(ckpt["model"], 2) is None
    # the check compares with the same architecture the model is built from
    assert set(Patch2LocNet(2).state_dict()) == set(ckpt["model"])
