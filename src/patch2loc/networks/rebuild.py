"""What the methods that reconstruct slices (the DAE, the diffusion models) share when they load and
score: the network rebuilt from its checkpoint's settings (one line naming the file when the weights
or settings do not fit), and the volume grid it was trained on checked before a scan is scored.

A checkpoint's settings are untrusted (a bundle's fold may have been edited): before the network is
built, the method's bounds (`Bounds.check`, its ranges.py rules) are checked, then the memory the
network takes (built on torch's meta device: shapes without storage, so nothing is allocated) and,
on the CPU, what scoring a batch of slices holds (`Bounds.running`) are compared with the memory
budget (PATCH2LOC_MEMORY_BUDGET_MB, the one predict/budget.py holds a scan's job to).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from itertools import chain
from typing import Callable

import numpy as np
import torch

from patch2loc.checks.limits import MB, MEMORY_ENV, limit_bytes
from patch2loc.checks.ranges import check_block
from patch2loc.errors import InputError
from patch2loc.run.checkpoint import checkpoint_grid, read_checkpoint

BUILD_ERRORS = (KeyError, RuntimeError, TypeError, ValueError)


@dataclass(frozen=True)
class Bounds:
    """A method's checks of its checkpoints' `config`, run before its network is built."""

    check: Callable[[dict, str], None]  # every setting in range; InputError naming the key
    sizes: str  # the config keys the network's size follows (named when it is over the budget)
    running: Callable[[dict], int] | None = None  # bytes while a batch of slices is scored on the CPU
    running_keys: str = ""


def check_config(config: dict, where: str, label: str, rules: dict, needed=(), architecture=(), check=None) -> None:
    """A checkpoint's settings, before anything is allocated: the keys of `rules` and `needed` present
    (`label` names the checkpoint: "a DAE"), in range, and (`check` of the `architecture` keys, raising
    ValueError) a network this code builds."""
    missing = [k for k in (*rules, *needed) if k not in config]
    if missing:
        raise InputError(f"{where}: config has no {', '.join(missing)} ({label} checkpoint records them).")
    check_block(config, rules, "config", where)
    if check is None:
        return
    try:
        check({k: config[k] for k in architecture}, "config")
    except ValueError as exc:
        raise InputError(f"{where}: {exc}.") from None


def _weight_bytes(build: Callable[[dict], torch.nn.Module], config: dict) -> int:
    """The parameters and buffers `build(config)` makes, counted on the meta device (no storage)."""
    with torch.device("meta"):
        net = build(config)
    return sum(t.numel() * t.element_size() for t in chain(net.parameters(), net.buffers()))


def check_memory(where: str, need: int, what: str) -> None:
    """One line when `need` bytes exceed the memory budget."""
    budget = limit_bytes(MEMORY_ENV)
    if need > budget:
        raise InputError(
            f"{where}: {what} needs about {need / MB:,.0f} MB, more than the memory budget of "
            f"{budget / MB:,.0f} MB; nothing was built. If the checkpoint is right and the machine has "
            f"the memory, raise the budget (environment variable {MEMORY_ENV}); otherwise check those settings."
        )


def _check_before_build(checkpoint, method: str, config: dict, build, bounds: Bounds, device, fix: str) -> None:
    where = str(checkpoint)
    try:
        bounds.check(config, where)
    except InputError as exc:
        problem = str(exc).removeprefix(f"{where}: ").rstrip(".")
        raise InputError(f"{where}: not a usable {method} checkpoint: {problem}. {fix}") from None
    weights = 2 * _weight_bytes(build, config)  # the network and the checkpoint's tensors
    check_memory(str(checkpoint), weights, f"the network its config describes ({bounds.sizes})")
    if bounds.running is not None and torch.device(device).type == "cpu":
        need = weights + bounds.running(config)
        check_memory(str(checkpoint), need, f"scoring with it on the CPU ({bounds.running_keys})")


def load_network(
    checkpoint: str,
    method: str,
    build: Callable[[dict], torch.nn.Module],
    device: str | torch.device = "cpu",
    bounds: Bounds | None = None,
) -> tuple[torch.nn.Module, dict]:
    """(network in eval mode on `device`, checkpoint dict): `build(config)` makes the network from the
    checkpoint's `config` (after `bounds`' checks), then its weights are loaded; read with
    `read_checkpoint` (no code from it runs). On the "meta" device nothing is allocated: the checks
    alone, and the weights' names and shapes compared (export holds a run's checkpoints to them)."""
    fix = f"Pass a best.pt or last.pt written by the {method}'s training."
    ckpt = read_checkpoint(checkpoint, fix=fix, method=method)
    config = ckpt["config"]
    meta = torch.device(device).type == "meta"
    try:
        if bounds is not None:
            _check_before_build(checkpoint, method, config, build, bounds, device, fix)
        with torch.device("meta") if meta else contextlib.nullcontext(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*copying from a non-meta parameter")  # meta: shapes only
            model = build(config)
            model.load_state_dict(ckpt["model"])
    except BUILD_ERRORS as exc:
        if isinstance(exc, InputError):
            raise
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


def prepare_scoring(
    model: torch.nn.Module, volume: np.ndarray, device, what: str = "the model"
) -> tuple[torch.nn.Module, torch.device, torch.Generator]:
    """(model in eval mode on the device, the device, a generator seeded with the model's `seed`) for
    scoring `volume` (checked against the model's training grid): the code samples of a volume's map
    (the VAE's, RA's) are then the same wherever it is scored on one kind of device."""
    check_grid(model, volume, what)
    device = torch.device(device or next(model.parameters()).device)
    generator = torch.Generator(device).manual_seed(getattr(model, "seed", 0))
    return model.to(device).eval(), device, generator
