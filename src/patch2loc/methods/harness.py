"""The training harness every trained method shares: resume, validation, checkpoints, loss curve.

A method supplies a `TrainingTask` (its model, optimiser, random generator, one update, one
validation); `run_training` does the rest, the same way for every method:
- every `val_every` steps (and at the end) a validation row goes to `loss.csv` (written whole,
  atomically), `best.pt` is replaced when the validation loss improves, and `last.pt` (weights,
  optimiser, every random state) is written every `checkpoint_every` steps (default: at every
  validation) and at the end;
- if `out_dir/last.pt` exists the run resumes from it, after checking it was written by the same
  method with the same settings and subjects; on the CPU the resumed run ends with bit-identical
  weights to an uninterrupted one;
- checkpoints are read only through `checkpoint.read_checkpoint` (weights_only) and hold plain
  types; they record the method, the modality and the training grid (`config.volume_shape`).
Ctrl-C (KeyboardInterrupt) is left to the caller: every file is written atomically, so an
interrupted run leaves the last complete checkpoint and loss curve behind and can be resumed.
"""
from __future__ import annotations

import csv
import math
import platform
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import fields
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from patch2loc import __version__
from patch2loc.checkpoint import numpy_rng_from_plain, numpy_rng_to_plain, read_checkpoint, save_checkpoint
from patch2loc.devices import DEVICE_NAMES, resolve_device
from patch2loc.io import InputError, atomic_output
from patch2loc.outputs import remove_stale_temps

FILES = ("last.pt", "best.pt", "loss.csv")


class TrainingTask(Protocol):
    """What a method gives the harness. Build it after `seed_everything`, so that its initial
    weights and fixed validation set are functions of the seed."""

    method: str  # registry name, recorded in the checkpoints ("Patch2Loc", "DAE")
    columns: tuple[str, ...]  # loss.csv columns: step, train_loss, val_loss, then the method's own
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator  # the training random stream (sampling, noise), saved in last.pt

    def train_step(self, step: int) -> torch.Tensor:
        """One update (step counts from 0); the detached loss, without syncing the device."""

    def evaluate(self) -> dict:
        """{'val_loss': ..., and the method's other columns} on its fixed validation set."""

    def extra_state(self) -> dict:
        """Checkpoint entries beyond the harness's own (e.g. patch_size, grad_scaler)."""

    def load_extra_state(self, ckpt: dict) -> None:
        """Restore what `extra_state` saved."""


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def prepare_device(name: str, threads: int | None) -> torch.device:
    device = resolve_device(name)
    if threads:
        torch.set_num_threads(threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN pick kernels
    return device


def autocast_context(device: torch.device, amp: str):
    """Mixed precision context for the forward pass (nothing for amp='none')."""
    if amp == "none":
        return nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def versions() -> dict:
    import torchvision

    return {"patch2loc": __version__, "torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "numpy": np.__version__, "python": platform.python_version(),
            "cuda": torch.version.cuda, "platform": sys.platform}


def rng_state(generator: torch.Generator) -> dict:
    return {"torch_cpu": torch.get_rng_state(),
            "torch_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": numpy_rng_to_plain(np.random.get_state()), "python": random.getstate(),
            "sampler": generator.get_state()}


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch_cpu"])
    if state["torch_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])
    np.random.set_state(numpy_rng_from_plain(state["numpy"]))
    random.setstate(state["python"])
    generator.set_state(state["sampler"])


def write_loss_csv(path: Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def read_loss_csv(path: Path, up_to_step: int) -> list[dict]:
    """Rows of an existing loss curve up to a step (rows past a checkpoint are dropped on resume)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = [{k: (int(v) if k == "step" else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]
    return [r for r in rows if r["step"] <= up_to_step]


def _resume(task: TrainingTask, last_path: Path, config: dict, must_match: tuple[str, ...],
            subjects: dict) -> tuple[int, float]:
    """Restore `task` from last.pt; (step, best validation loss) reached there."""
    out_dir = last_path.parent
    # RNG states stay CPU tensors; load_state_dict moves weights and optimiser state to the device.
    ckpt = read_checkpoint(last_path, "resume state", fix=f"Delete {last_path} to start over (or restore it).",
                           method=task.method)
    # (checkpoints from before the modality was recorded lack the key: not a difference)
    changed = [k for k in must_match
               if ckpt["config"].get(k, config[k] if k == "modality" else None) != config[k]]
    if changed or ckpt["subjects"] != subjects:
        what = changed or ["subjects"]
        raise InputError(f"{last_path}: written by a run with different {what}. Delete {out_dir} "
                         "to start over, or use another output folder.")
    task.model.load_state_dict(ckpt["model"])
    task.optimizer.load_state_dict(ckpt["optimizer"])
    task.load_extra_state(ckpt)
    set_rng_state(ckpt["rng"], task.generator)
    return ckpt["step"], ckpt["best_val_loss"]


def run_training(task: TrainingTask, out_dir: str | Path, *, steps: int, val_every: int,
                 checkpoint_every: int | None, config: dict, must_match: tuple[str, ...], subjects: dict,
                 modality: str | None, device: torch.device, progress: bool = True) -> dict:
    """Train `task` to `steps`, resuming from out_dir/last.pt; write last.pt, best.pt, loss.csv.

    `config` is recorded in the checkpoints (with `volume_shape` and `modality`); the keys in
    `must_match` must equal those of a last.pt to resume from it. Returns a summary: final step,
    best step and validation loss, last loss-curve row, seconds, device, paths.
    """
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    last_path, best_path, csv_path = (out_dir / name for name in FILES)
    for path in (last_path, best_path, csv_path):
        remove_stale_temps(path)  # left by a writer killed mid-write (SIGKILL, power loss)

    step, best_val_loss, rows = 0, math.inf, []
    if last_path.exists():
        step, best_val_loss = _resume(task, last_path, config, must_match, subjects)
        rows = read_loss_csv(csv_path, step)

    def checkpoint() -> dict:
        return {"model": {k: v.detach().cpu() for k, v in task.model.state_dict().items()},
                "method": task.method, **task.extra_state(), "step": step, "config": config,
                "versions": versions(), "modality": modality, "subjects": subjects,
                "best_val_loss": best_val_loss, "optimizer": task.optimizer.state_dict(),
                "rng": rng_state(task.generator)}

    task.model.train()
    loss_sum, loss_n = torch.zeros((), device=device), 0
    bar = tqdm(total=steps, initial=step, disable=not progress, desc=f"train {task.method}", unit="step")
    start = time.perf_counter()
    while step < steps:
        loss = task.train_step(step)
        step += 1
        loss_sum += loss
        loss_n += 1
        bar.update(1)
        if step % val_every == 0 or step == steps:
            row = {"step": step, "train_loss": loss_sum.item() / loss_n, **task.evaluate()}
            task.model.train()
            loss_sum.zero_()
            loss_n = 0
            rows.append(row)
            bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k != "step"})
            write_loss_csv(csv_path, rows, task.columns)
            if row["val_loss"] < best_val_loss:
                best_val_loss = row["val_loss"]
                save_checkpoint(best_path, checkpoint())
            if step == steps or step % (checkpoint_every or val_every) == 0:
                save_checkpoint(last_path, checkpoint())
        elif progress and step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4g}")
    bar.close()

    best = min(rows, key=lambda r: r["val_loss"]) if rows else None
    return {"step": step, "best_step": best["step"] if best else None, "best_val_loss": best_val_loss,
            "last": rows[-1] if rows else None, "seconds": time.perf_counter() - start, "device": str(device),
            "paths": {"last": str(last_path), "best": str(best_path), "loss_csv": str(csv_path)}}


def check_settings(cfg, what: str, device_key: str) -> None:
    """The settings every trained method's config has (device, amp, steps, val_every,
    val_batches, checkpoint_every), checked alike: one line naming the key."""
    if not DEVICE_NAMES.fullmatch(str(cfg.device)):
        raise InputError(f"device {cfg.device!r} ({device_key}): use auto, cpu, cuda or cuda:N.")
    if cfg.amp not in ("none", "bf16", "fp16"):
        raise InputError(f"{what}.amp={cfg.amp!r}: use 'none', 'bf16' or 'fp16'.")
    if cfg.steps < 1 or cfg.val_every < 1 or cfg.val_batches < 1:
        raise InputError(f"{what}: steps, val_every and val_batches must be >= 1.")
    if cfg.checkpoint_every is not None and (cfg.checkpoint_every < 1 or cfg.checkpoint_every % cfg.val_every):
        raise InputError(f"{what}.checkpoint_every={cfg.checkpoint_every} must be a positive multiple of "
                         f"val_every={cfg.val_every} (last.pt holds the loss curve up to a validation step).")


def config_from_dict(cls, d: dict, what: str):
    """A config dataclass from a dict (e.g. a YAML block), refusing unknown keys with their names."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"{what}: unknown key(s) {unknown}; known keys are {sorted(known)}.")
    return cls(**d)


def workflow_trainer(config_cls, train_pairs):
    """A method's `train_from_files` as the workflow calls it: its config block (with `threads`)
    plus the modality -> `config_cls`, then `train_pairs(train, val, cfg, out_dir, progress)`."""
    def train_from_files(train, val, settings: dict, out_dir, *, modality: str, threads: int, progress: bool = True):
        block = {k: v for k, v in settings.items() if k != "threads"}
        cfg = config_from_dict(config_cls, {**block, "num_threads": threads, "modality": modality},
                               f"{config_cls.__name__} (workflow config)")
        return train_pairs(train, val, cfg, out_dir, progress)
    return train_from_files
