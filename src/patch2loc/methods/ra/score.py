"""RA's anomaly map of a normalised volume (Bercea et al., MIDL 2023; docs/ra.md).

Every axial slice that holds brain is masked, resized to the model's grid (bilinear, as the AE's),
clipped to [0, 1] (train.unit_range) and reconstructed through a SAMPLED code, as the reference's
evaluation calls the model with its default `deterministic=False` (ci-ber/RA@9b7a255
projects/23_ra_midl/DownstreamEvaluator.py l. 363). The samples come from a generator seeded with
the model's seed for each volume, so a volume's map is the same wherever it is scored on one kind
of device. Then per slice, as `compute_residual` (l. 65-75) and l. 371-373:
- x and the reconstruction clipped to [0, 1];
- CLAHE: scikit-image's `equalize_adapthist` with its defaults on each (kernel 1/8 of the side,
  clip limit 0.01, 256 bins; its input and output rescaled to [0, 1]);
- S1 = saliency(x, rec), S2 = saliency(CLAHE x, CLAHE rec): the LPIPS map Gaussian-smoothed
  (sigma 2; networks/lpips.py);
- map = |CLAHE rec - CLAHE x| x S1 x S2.
The offline variant (`weights: random`) has no LPIPS network: its map is the CLAHE residual alone.
The map is resized back to the slice (bilinear) and set to 0 outside the brain mask; the shared
post-processing (median filter, mask) and the metrics come after.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.exposure import equalize_adapthist

from patch2loc.errors import InputError
from patch2loc.networks import pretrained
from patch2loc.networks.inputs import full_range
from patch2loc.networks.lpips import SqueezeLPIPS, saliency
from patch2loc.methods.ra.model import RAModel
from patch2loc.methods.ra.train import ARCHITECTURE, RANGES, build_vae, check_architecture, unit_range
from patch2loc.networks.rebuild import check_config, Bounds, load_network
from patch2loc.networks.slices import grid_map, slice_batch_bytes

SLICES_PER_BATCH = 16
# Bytes per pixel of the model's grid, per unit of width, one slice holds in the forward pass (an
# estimate, not measured: the 64-channel stem and the 128-channel block at half the side, with
# their normalised and activated copies, and LPIPS' first layers); per pixel of the volume's own
# slice, 16 (the slice, its mask, the map resized back).
PER_WIDTH, PER_SLICE_PIXEL = 32, 16


def batch_bytes(config: dict) -> int:
    """What one batch of slices holds while the network of `config` (size, width, volume_shape) runs."""
    return slice_batch_bytes(config, SLICES_PER_BATCH, PER_WIDTH * int(config["width"]), PER_SLICE_PIXEL)


def config_check(label: str, architecture_check):
    """`check(config, where)` of a checkpoint's settings (RA's, or PHANES' with its own
    `architecture_check`): present, in range, and networks this code builds; before anything is
    allocated. `label`: "an RA", "a PHANES"."""

    def check(config: dict, where: str) -> None:
        check_config(config, where, label, RANGES, (*ARCHITECTURE, "weights"), ARCHITECTURE, architecture_check)
        if config["weights"] not in pretrained.WEIGHTS:
            raise InputError(
                f"{where}: config.weights {str(config['weights'])[:20]!r} is not one of {list(pretrained.WEIGHTS)}."
            )

    return check


BOUNDS = Bounds(
    config_check("an RA", check_architecture),
    "config size, width, zdim",
    batch_bytes,
    "config size, width, volume_shape",
)


def network_of(model_cls):
    """`network(config)` of RA's or PHANES' model class: the VAE of `config`, with the LPIPS network
    when its weights are ImageNet's, and the seed the scoring samples with."""

    def network(config: dict):
        perceptual = SqueezeLPIPS() if config["weights"] == pretrained.IMAGENET else None
        # intensity: absent from checkpoints written before the switch, which all clipped
        model = model_cls(build_vae(config), perceptual, config.get("intensity", "clip"))
        model.seed = int(config["seed"])
        return model

    return network


build_network = network_of(RAModel)


def load_model(checkpoint: str, device: str | torch.device = "cpu", name: str = "RA"):
    """Rebuild RA (and its LPIPS network, when it has one) from a checkpoint of method `name` (RA or
    its offline variant); (model in eval mode, checkpoint)."""
    return load_network(checkpoint, name, build_network, device, BOUNDS)


def clahe(slices: np.ndarray) -> np.ndarray:
    """float32 [B, H, W]: scikit-image's CLAHE with its defaults on each slice of [B, H, W] in [0, 1]."""
    return np.stack([equalize_adapthist(s) for s in slices]).astype(np.float32)


def ra_map(perceptual: SqueezeLPIPS | None, x: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
    """[B, 1, S, S] on x's device: RA's map of slices x and their reconstructions rec ([B, 1, S, S]):
    |CLAHE rec - CLAHE x| x saliency(x, rec) x saliency(CLAHE x, CLAHE rec); the residual alone
    without a perceptual network."""
    x, rec = x.float().clamp(0, 1), rec.float().clamp(0, 1)
    eq_x, eq_rec = clahe(x[:, 0].cpu().numpy()), clahe(rec[:, 0].cpu().numpy())
    out = np.abs(eq_rec - eq_x)
    if perceptual is not None:
        eq = [torch.from_numpy(a).unsqueeze(1).to(x.device) for a in (eq_x, eq_rec)]
        out = out * saliency(perceptual, x, rec) * saliency(perceptual, *eq)
    return torch.from_numpy(out.astype(np.float32)).unsqueeze(1).to(x.device)


def _ra_map_on_grid(model: RAModel, x: torch.Tensor, generator: torch.Generator, brain: None) -> torch.Tensor:
    """RA's map of slices on the model's grid, read in [0, 1] as the reference's images."""
    x = unit_range(x)
    return ra_map(model.perceptual, x, model.vae(x, generator)[0])


def anomaly_map(
    model: RAModel, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None
) -> np.ndarray:
    """RA's map inside the brain mask, 0 outside; float32 [X, Y, Z]."""
    volume = reference_intensities(model, volume, brain_mask)
    return grid_map(model, volume, brain_mask, device, SLICES_PER_BATCH, _ra_map_on_grid)


def reference_intensities(model, volume: np.ndarray, brain_mask: np.ndarray) -> np.ndarray:
    """The volume as the model's training read it: whole range in [0, 1] for `intensity: full_range`
    (networks.inputs), else as it is (the slices are clipped on the grid)."""
    return full_range(volume, brain_mask) if model.intensity == "full_range" else volume
