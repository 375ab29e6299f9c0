"""The slice-reconstruction methods (the DAE, the diffusion models) load through `networks.rebuild`:
weights that do not fit their checkpoint's settings are one line naming the file, and a volume on
another grid than the model's is refused before it is scored."""

from __future__ import annotations

import numpy as np
import pytest

from patch2loc.run.checkpoint import save_checkpoint
from patch2loc.errors import InputError
from patch2loc.methods.dae.model import DenoisingUNet
from patch2loc.methods.dae.score import anomaly_map as dae_map, load_model as load_dae
from patch2loc.methods.diffusion.score import anomaly_map as diffusion_map, load_model as load_diffusion
from patch2loc.methods.diffusion.train import model_of
from tests.helpers.checkpoints import DIFFUSION as TINY_DIFFUSION, as_written

SHAPE = (16, 16, 4)
DIFFUSION = {**TINY_DIFFUSION, "noise_octaves": 2, "seed": 1}


def _save(path, method, weights, config):
    save_checkpoint(path, {**as_written({"model": weights, "config": config}, method), "step": 1})
    return str(path)


def test_weights_that_do_not_fit_the_settings_are_one_line(tmp_path):
    dae = _save(
        tmp_path / "dae.pt",
        "DAE",
        DenoisingUNet(width=4, depth=2).state_dict(),
        {"width": 8, "depth": 2, "volume_shape": list(SHAPE)},
    )
    with pytest.raises(InputError, match=r"dae.pt: not a usable DAE checkpoint .* written by the DAE's training"):
        load_dae(dae)
    ddpm = _save(tmp_path / "ddpm.pt", "DDPM", model_of(DIFFUSION).state_dict(), {**DIFFUSION, "width": 16})
    with pytest.raises(InputError, match=r"ddpm.pt: not a usable DDPM checkpoint .* written by the DDPM's training"):
        load_diffusion(ddpm, "cpu", "DDPM")
    missing = {k: v for k, v in DIFFUSION.items() if k != "seed"}  # the scoring noise's seed is needed too
    with pytest.raises(InputError, match="not a usable pDDPM checkpoint"):
        load_diffusion(_save(tmp_path / "p.pt", "pDDPM", model_of(DIFFUSION).state_dict(), missing), "cpu", "pDDPM")


def test_a_volume_on_another_grid_is_refused(tmp_path):
    dae, _ = load_dae(
        _save(
            tmp_path / "dae.pt",
            "DAE",
            DenoisingUNet(width=4, depth=2).state_dict(),
            {"width": 4, "depth": 2, "volume_shape": list(SHAPE)},
        )
    )
    ddpm, _ = load_diffusion(_save(tmp_path / "ddpm.pt", "DDPM", model_of(DIFFUSION).state_dict(), DIFFUSION))
    volume, mask = np.ones((16, 16, 6), np.float32), np.ones((16, 16, 6), bool)
    for score, model, name in ((dae_map, dae, "the DAE"), (diffusion_map, ddpm, "the model")):
        with pytest.raises(InputError, match=rf"shape \(16, 16, 6\) but {name} was trained on \(16, 16, 4\)"):
            score(model, volume, mask)
    assert dae_map(dae, volume[..., :4], mask[..., :4]).shape == SHAPE
