"""What the methods that reconstruct slices (the DAE, the diffusion models) share when they load and
score: the network rebuilt from its checkpoint's settings (one line naming the file when the weights
or settings do not fit), and the volume grid it was trained on checked before a scan is scored."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from patch2loc.checkpoint import checkpoint_grid, read_checkpoint
from patch2loc.io import InputError


def load_network(
    checkpoint: str, method: str, build: Callable[[dict], torch.nn.Module], device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, dict]:
    """(network in eval mode on `device`, checkpoint dict): `build(config)` makes the network from the
    checkpoint's `config`, then its weights are loaded; read with `read_checkpoint` (no code from it runs)."""
    fix = f"Pass a best.pt or last.pt written by the {method}'s training."
    ckpt = read_checkpoint(checkpoint, fix=fix, method=method)
    try:
        model = build(ckpt.get("config") or {})
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(
            f"{checkpoint}: not a usable {method} checkpoint (its weights or settings do not fit the "
            f"network: {first}). {fix}"
        ) from None
    model.volume_shape = checkpoint_grid(ckpt)
    return model.to(device).eval(), ckpt


def check_grid(model: torch.nn.Module, volume: np.ndarray, what: str) -> None:
    """One line when `volume` is not on the grid `model` (named `what`) was trained on."""
    grid = getattr(model, "volume_shape", None)
    if grid is not None and tuple(grid) != tuple(np.shape(volume)):
        raise InputError(
            f"volume of shape {np.shape(volume)} but {what} was trained on {tuple(grid)}; "
            "preprocess the scan with the run's settings (crop/pad)."
        )
