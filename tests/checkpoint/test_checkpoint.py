"""Checkpoints load without unpickling code and need no allow-list; a checkpoint of another format
(or none) is refused in one line, and every field today's checkpoints carry is required."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patch2loc.errors import InputError
from patch2loc.methods.patch2loc.model import Patch2LocNet
from patch2loc.methods.patch2loc.train import TrainConfig, train
from patch2loc.run.checkpoint import FORMAT, numpy_rng_from_plain, numpy_rng_to_plain, read_checkpoint, save_checkpoint
from tests.helpers.checkpoints import RANGE, as_written


def _tiny_run(out, **kw):
    rng = np.random.default_rng(0)
    x, y, _ = np.meshgrid(*[np.linspace(-1, 1, s) for s in (24, 24, 4)], indexing="ij")
    masks = np.broadcast_to(x**2 + y**2 < 0.8, (3, 24, 24, 4)).copy()
    images = (rng.random((3, 24, 24, 4)) + x + 2 * y).astype(np.float32)
    cfg = TrainConfig(steps=2, patches_per_step=8, val_every=1, val_batches=1, device="cpu", num_threads=1, **kw)
    return train(images[:2], masks[:2], images[2:], masks[2:], cfg, out, progress=False)


def test_new_checkpoints_load_with_torchs_default_allow_list(tmp_path):
    _tiny_run(tmp_path, modality="T2")
    for name in ("best.pt", "last.pt"):
        ckpt = torch.load(tmp_path / name, weights_only=True)  # no extra globals at all
        assert ckpt["modality"] == "T2" and ckpt["config"]["modality"] == "T2"
        assert ckpt["config"]["volume_shape"] == [24, 24, 4]
        assert isinstance(ckpt["rng"]["numpy"]["keys"], torch.Tensor)
        assert ckpt["format"] == FORMAT and ckpt["method"] == "Patch2Loc" and ckpt["config"]["channels"] == 1
        assert ckpt["config"]["intensity_range"]["p1"] < ckpt["config"]["intensity_range"]["p99"]


def test_numpy_rng_state_round_trip():
    np.random.seed(5)
    np.random.normal()  # leaves a cached gaussian in the state
    state = np.random.get_state()
    back = numpy_rng_from_plain(numpy_rng_to_plain(state))
    np.random.set_state(back)
    a = np.random.normal(size=3)
    np.random.set_state(state)
    assert np.array_equal(a, np.random.normal(size=3))


def _written(tmp_path, ckpt: dict):
    torch.save(ckpt, tmp_path / "x.pt")
    return tmp_path / "x.pt"


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"format": None}, "of no checkpoint format, this version reads format 1"),
        ({"format": 2, "versions": {"patch2loc": "0.2.0"}}, "of checkpoint format 2 \\(patch2loc 0.2.0\\)"),
        ({"format": "1"}, "checkpoint format '1'"),
        ({"format": True}, "checkpoint format True"),
    ],
)
def test_a_checkpoint_of_another_format_is_refused_first(tmp_path, change, needle):
    """No format, or another: written by another version of patch2loc, refused before any field is
    read (a file of an earlier layout is not guessed at)."""
    ckpt = as_written({"model": Patch2LocNet(3).state_dict(), "patch_size": 3})
    ckpt = {k: v for k, v in {**ckpt, **change}.items() if v is not None}
    path = _written(tmp_path, ckpt)
    with pytest.raises(InputError, match=needle) as err:
        read_checkpoint(path, method=None)
    line = str(err.value)
    assert "\n" not in line and str(path) in line
    assert "written by another version of patch2loc: retrain, or use the version that wrote it" in line


def test_numpy_arrays_and_torch_version_objects_are_refused(tmp_path):
    """A numpy RNG state as a uint32 array, a TorchVersion: no checkpoint patch2loc writes holds
    them (plain tensors and strings), so the allow-list has no room for them."""
    ckpt = as_written({"model": Patch2LocNet(3).state_dict(), "patch_size": 3})
    for extra in ({"rng": {"numpy": np.random.get_state()}}, {"versions": {"torch": torch.__version__}}):
        with pytest.raises(InputError, match="refused: the checkpoint holds Python objects"):
            read_checkpoint(_written(tmp_path, {**ckpt, **extra}))


def _without(ckpt: dict, key: str) -> dict:
    if key.startswith("config."):
        return {**ckpt, "config": {k: v for k, v in ckpt["config"].items() if k != key[7:]}}
    return {k: v for k, v in ckpt.items() if k != key}


@pytest.mark.parametrize(
    "key,needle",
    [
        ("method", "no 'method'"),
        ("modality", "no 'modality'"),
        ("config", "no 'config'"),
        ("config.volume_shape", "config.volume_shape is 'None'"),
        ("config.intensity_range", "no config.intensity_range"),
        ("config.channels", "config.channels is 'None'"),
        ("patch_size", "no 'model' weights and 'patch_size'"),
    ],
)
def test_every_field_todays_checkpoints_carry_is_required(tmp_path, key, needle):
    ckpt = as_written({"model": Patch2LocNet(3).state_dict(), "patch_size": 3})
    read_checkpoint(_written(tmp_path, ckpt))  # whole: usable
    with pytest.raises(InputError, match=needle) as err:
        read_checkpoint(_written(tmp_path, _without(ckpt, key)), method=None)
    assert "\n" not in str(err.value)


def test_a_model_of_several_contrasts_records_a_range_for_each(tmp_path):
    ckpt = as_written({"model": Patch2LocNet(3, channels=2).state_dict(), "patch_size": 3, "config": {"channels": 2}})
    with pytest.raises(InputError, match="intensity_ranges is 'None', not a list of one"):
        read_checkpoint(_written(tmp_path, ckpt))
    ckpt["config"]["intensity_ranges"] = [RANGE, RANGE]
    assert read_checkpoint(_written(tmp_path, ckpt))["config"]["channels"] == 2


@pytest.mark.parametrize("payload", ["open", "system", "eval"])
def test_code_in_a_pickle_never_runs(tmp_path, payload):
    witness = tmp_path / "witness"
    calls = {
        "open": (open, (str(witness), "w")),
        "system": (__import__("os").system, (f"touch {witness}",)),
        "eval": (eval, (f"open({str(witness)!r}, 'w')",)),
    }

    class Payload:
        def __reduce__(self):
            return calls[payload]

    torch.save({"model": {}, "patch_size": 2, "x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="refused") as err:
        read_checkpoint(tmp_path / "evil.pt")
    assert "\n" not in str(err.value)
    assert not witness.exists()


@pytest.mark.parametrize(
    "content,needle", [(b"", "cannot be read"), (b"garbage", "cannot be read"), (None, "of no checkpoint format")]
)
def test_unusable_files_are_one_line(tmp_path, content, needle):
    path = tmp_path / "x.pt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match=needle) as err:
        read_checkpoint(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_equal_checkpoints_are_equal_bytes_whatever_the_file_name(tmp_path):
    """Two runs with identical weights must give byte-identical files (torch.save given a path
    names the archive after it, and the atomic write's temporary name is random)."""
    torch.manual_seed(0)
    ckpt = {**as_written({"model": Patch2LocNet(8).state_dict(), "patch_size": 8}), "step": 3}
    (tmp_path / "a").mkdir()
    save_checkpoint(tmp_path / "a" / "best.pt", ckpt)
    save_checkpoint(tmp_path / "other.pt", ckpt)
    assert (tmp_path / "a" / "best.pt").read_bytes() == (tmp_path / "other.pt").read_bytes()
    ckpt["step"] = 4  # the comparison can fail
    save_checkpoint(tmp_path / "third.pt", ckpt)
    assert (tmp_path / "third.pt").read_bytes() != (tmp_path / "other.pt").read_bytes()
    assert read_checkpoint(tmp_path / "other.pt")["step"] == 3
