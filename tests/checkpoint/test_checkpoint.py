"""Checkpoints load without unpickling code; new ones need no allow-list; legacy ones still load."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from patch2loc.errors import InputError
from patch2loc.methods.patch2loc.model import Patch2LocNet, load_model
from patch2loc.methods.patch2loc.train import TrainConfig, train
from patch2loc.run.checkpoint import numpy_rng_from_plain, numpy_rng_to_plain, read_checkpoint, save_checkpoint


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


def test_numpy_rng_state_round_trip():
    np.random.seed(5)
    np.random.normal()  # leaves a cached gaussian in the state
    state = np.random.get_state()
    back = numpy_rng_from_plain(numpy_rng_to_plain(state))
    np.random.set_state(back)
    a = np.random.normal(size=3)
    np.random.set_state(state)
    assert np.array_equal(a, np.random.normal(size=3))


def test_legacy_checkpoint_with_numpy_state_still_loads(tmp_path):
    net = Patch2LocNet(3)
    legacy = {
        "model": net.state_dict(),
        "patch_size": 3,
        "config": {"volume_shape": [24, 24, 4]},
        "versions": {"torch": torch.__version__},
        "rng": {"numpy": np.random.get_state(), "python": random.getstate()},
    }
    torch.save(legacy, tmp_path / "old.pt")
    model, ckpt = load_model(str(tmp_path / "old.pt"))
    assert ckpt["rng"]["numpy"][1].dtype == np.uint32 and model.patch_size == 3


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
    "content,needle", [(b"", "cannot be read"), (b"garbage", "cannot be read"), (None, "not a Patch2Loc")]
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
    ckpt = {"model": Patch2LocNet(8).state_dict(), "patch_size": 8, "step": 3}
    (tmp_path / "a").mkdir()
    save_checkpoint(tmp_path / "a" / "best.pt", ckpt)
    save_checkpoint(tmp_path / "other.pt", ckpt)
    assert (tmp_path / "a" / "best.pt").read_bytes() == (tmp_path / "other.pt").read_bytes()
    ckpt["step"] = 4  # the comparison can fail
    save_checkpoint(tmp_path / "third.pt", ckpt)
    assert (tmp_path / "third.pt").read_bytes() != (tmp_path / "other.pt").read_bytes()
    assert read_checkpoint(tmp_path / "other.pt")["step"] == 3
