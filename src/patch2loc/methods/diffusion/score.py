"""Anomaly map of a normalised volume with a diffusion model: |x - reconstruction| in the brain.

Every axial slice that holds brain is masked, averaged down to the model's grid, reconstructed
(`model.reconstruct`: x0 predicted at the test step(s), pDDPM square by square), and the residual
|x - reconstruction| (the reference's L1 residual, on the [0, 1] intensity scale) is brought back
to the volume's grid (bilinear) and set to 0 outside the mask. The noise is drawn from a generator
seeded with the model's seed for each volume, so a volume's map is the same wherever it is scored;
one field per test step for the whole volume, as the reference draws one for the volume's slices.
The shared post-processing (median filter, mask) and the metrics come after, as for every method.
"""
from __future__ import annotations

import numpy as np
import torch

from patch2loc.checkpoint import checkpoint_grid, read_checkpoint
from patch2loc.io import InputError
from patch2loc.methods.diffusion.model import DiffusionModel, downsample, reconstruct, upsample
from patch2loc.methods.diffusion.train import model_of

SLICES_PER_BATCH = 128  # slices per forward pass (the reference: a whole volume)


def load_model(checkpoint: str, device: str | torch.device = "cpu", method: str = "DDPM"):
    """Rebuild a diffusion model from a checkpoint read with `read_checkpoint` (no code from it
    runs); returns (model in eval mode, checkpoint dict)."""
    fix = f"Pass a best.pt or last.pt written by the {method}'s training."
    ckpt = read_checkpoint(checkpoint, fix=fix, method=method)
    config = ckpt.get("config") or {}
    try:
        model = model_of(config)
        model.load_state_dict(ckpt["model"])
        model.scoring = {k: config[k] for k in ("test_steps", "noise_octaves", "noise_persistence",
                                                "noise_frequency_px", "seed")}
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(f"{checkpoint}: not a usable {method} checkpoint (its weights or settings do not fit the "
                         f"network: {first}). {fix}") from None
    model.volume_shape = checkpoint_grid(ckpt)
    return model.to(device).eval(), ckpt


@torch.inference_mode()
def anomaly_map(model: DiffusionModel, volume: np.ndarray, brain_mask: np.ndarray,
                device: str | torch.device | None = None) -> np.ndarray:
    """|x - reconstruction| inside the brain mask, 0 outside; float32 [X, Y, Z]."""
    grid = getattr(model, "volume_shape", None)
    if grid is not None and tuple(grid) != tuple(np.shape(volume)):
        raise InputError(f"volume of shape {np.shape(volume)} but the model was trained on {tuple(grid)}; "
                         "preprocess the scan with the run's settings (crop/pad).")
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    s = model.scoring
    mask = np.asarray(brain_mask) > 0
    clean = np.asarray(volume, np.float32) * mask
    out = np.zeros_like(clean)
    slices = np.flatnonzero(mask.any(axis=(0, 1)))
    generator = torch.Generator(device).manual_seed(int(s["seed"]))
    for start in range(0, len(slices), SLICES_PER_BATCH):
        z = slices[start:start + SLICES_PER_BATCH]
        full = torch.from_numpy(np.ascontiguousarray(clean[:, :, z].transpose(2, 0, 1))).unsqueeze(1).to(device)
        small = downsample(full, model.rescale)
        reco = reconstruct(model, small, tuple(s["test_steps"]), generator, int(s["noise_octaves"]),
                           float(s["noise_persistence"]), float(s["noise_frequency_px"]))
        residual = upsample((small - reco).abs(), tuple(full.shape[-2:]), model.rescale)
        out[:, :, z] = residual.squeeze(1).cpu().numpy().transpose(1, 2, 0)
    return (out * mask).astype(np.float32)
