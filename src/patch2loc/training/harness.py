"""The training harness every trained method shares: resume, validation, checkpoints, loss curve.

A method supplies a `TrainingTask` (its model, optimiser, random generator, one update, one
validation); `run_training` does the rest, the same way for every method:
- every `val_every` steps (and at the end) a validation row is added, `best.pt` is replaced when
  the validation loss improves, `last.pt` (weights, optimiser, every random state, the loss rows)
  is written every `checkpoint_every` steps (default: at every validation) and at the end, then
  `loss.csv` (written whole, atomically): checkpoints first, so a failed write (disk full) never
  leaves a loss curve ahead of its checkpoint, and a failed write is one line saying what is kept;
- if `out_dir/last.pt` exists the run resumes from it (resume.py), after checking it was written by
  the same method with the same settings and subjects; on the CPU the resumed run ends with
  bit-identical weights to an uninterrupted one;
- one run at a time per folder (a lock on it); a folder the run made is removed again when it
  fails before writing anything into it;
- checkpoints are read only through `checkpoint.read_checkpoint` (weights_only) and hold plain
  types; they record the checkpoint format (`checkpoint.FORMAT`), the method, the modality, the
  versions and the training grid (`config.volume_shape`).
Ctrl-C and SIGTERM are left to the caller (cli/__init__.py): every file is written atomically, so an
interrupted run leaves the last complete checkpoint and loss curve behind and can be resumed.
"""

from __future__ import annotations

import math
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from patch2loc.training.joblimit import Deadline
from patch2loc.run.checkpoint import FORMAT, save_checkpoint
from patch2loc.run.provenance import checkpoint_versions
from patch2loc.checks.devices import DEVICE_NAMES, resolve_device
from patch2loc.training.outcome import no_best
from patch2loc.training.progress import progress as progress_bar
from patch2loc.training.train_memory import check_before_training
from patch2loc.run.typed import check_instance
from patch2loc.errors import InputError, resource_problem
from patch2loc.run.layout import MODEL_FILES
from patch2loc.training.resume import restore, rng_state, write_loss_csv
from patch2loc.files.staging import folder_lock, remove_stale_temps


# Settings of the loop every trained method records: resuming with another value is refused.
LOOP_MUST_MATCH = ("val_batches", "seed", "amp", "volume_shape", "modality")


@dataclass
class LoopSettings:
    """The settings every trained method's block has besides its own (a method's config dataclass
    derives from this one): what `check_settings` checks and `run_training` reads."""

    val_every: int = 500
    val_batches: int = 4  # validation set = val_batches fixed batches
    seed: int = 3141
    amp: str = "none"  # none (fp32) | bf16 | fp16
    device: str = "auto"  # "auto" = cuda when available, else cpu
    num_threads: int | None = None  # torch CPU threads; None leaves torch's default
    modality: str | None = None  # recorded in the checkpoints; predict refuses another modality
    checkpoint_every: int | None = None  # last.pt every N steps (a multiple of val_every); None: every validation


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


def train_seeded(make_task, data, cfg, out_dir, config: dict, *, must_match, progress: bool) -> dict:
    """The ending every trainer shares: the device (cfg.device, cfg.num_threads), the seed (first,
    so the initial weights are a function of cfg.seed), the method's task (`make_task(device)`),
    then the shared loop on `data.subjects`."""
    device = prepare_device(cfg.device, cfg.num_threads)
    check_before_training(cfg, data, config, device)  # before the task copies slices or builds its network
    seed_everything(cfg.seed)
    task = make_task(device)
    return run_training(
        task,
        out_dir,
        cfg,
        config=config,
        must_match=must_match,
        subjects=data.subjects,
        device=device,
        progress=progress,
    )


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


LR_SCHEDULES = ("constant", "cosine")


def scheduled_lr(base: float, step: int, steps: int, schedule: str = "constant", warmup: int = 0) -> float:
    """The learning rate of update `step` (0-based): a linear warm-up over the first `warmup`
    updates, then `base` (constant) or a half-cosine from `base` to 0 at `steps` (cosine). A pure
    function of the step, so a resumed run needs no scheduler state."""
    if step < warmup:
        return base * (step + 1) / warmup
    if schedule == "constant":
        return base
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def run_training(
    task: TrainingTask,
    out_dir: str | Path,
    cfg,
    *,
    config: dict,
    must_match: tuple[str, ...],
    subjects: dict,
    device: torch.device,
    progress: bool = True,
) -> dict:
    """Train `task` to `cfg.steps`, resuming from out_dir/last.pt; write last.pt, best.pt, loss.csv.

    `cfg` is a method's settings object: the loop reads its `steps`, `val_every`,
    `checkpoint_every` and `modality` (every method's settings name them alike). `config` is
    recorded in the checkpoints (with `volume_shape` and `modality`); the keys in `must_match` must
    equal those of a last.pt to resume from it. Returns a summary: final step, best step and
    validation loss, last loss-curve row, seconds, device, paths.
    """
    out_dir = Path(out_dir)
    made = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(out_dir, "patch2loc train"):
            return _run(task, out_dir, cfg, config, must_match, subjects, device, progress)
    finally:
        if made and not any(out_dir.iterdir()):
            out_dir.rmdir()


def _written(path: Path, write, resume_from: Path) -> None:
    """Run `write` (of `path`); a full disk or a write error becomes one line that says what is
    kept (temporary files are removed by the writers) and how to go on."""
    try:
        write()
    except (OSError, RuntimeError) as exc:
        line = resource_problem(exc, str(path))
        if line is None:
            raise
        kept = (
            f"{resume_from} (the last complete checkpoint) is kept: rerun the same command to resume"
            if resume_from.exists()
            else "no checkpoint was written yet: rerun the same command to start over"
        )
        raise InputError(f"{line.rstrip('.')}; {kept}.") from None


def _run(task, out_dir: Path, cfg, config, must_match, subjects, device, progress) -> dict:
    steps, val_every, checkpoint_every = cfg.steps, cfg.val_every, cfg.checkpoint_every
    best_path, last_path, csv_path = (out_dir / name for name in MODEL_FILES)
    for path in (last_path, best_path, csv_path):
        remove_stale_temps(path)  # left by a writer killed mid-write (SIGKILL, power loss)

    step, best_val_loss, rows = 0, math.inf, []
    if last_path.exists():
        step, best_val_loss, rows = restore(task, last_path, config, must_match, subjects)
    step_at_start = step

    def checkpoint() -> dict:
        return {
            "format": FORMAT,  # read_checkpoint refuses another; every field below is then required
            "model": {k: v.detach().cpu() for k, v in task.model.state_dict().items()},
            "method": task.method,
            **task.extra_state(),
            "step": step,
            "config": config,
            "versions": checkpoint_versions(),
            "modality": cfg.modality,
            "subjects": subjects,
            "best_val_loss": best_val_loss,
            "loss_rows": list(rows),
            "optimizer": task.optimizer.state_dict(),
            "rng": rng_state(task.generator),
        }

    task.model.train()
    loss_sum, loss_n = torch.zeros((), device=device), 0
    every = max(1, min(100, steps // 20))  # lines in a log: about 20 per run, at most one per 100 steps
    bar = progress_bar(steps, initial=step, enabled=progress, desc=f"train {task.method}", every=every)
    start, deadline = time.perf_counter(), Deadline()
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
            bar.set_postfix({k: v for k, v in row.items() if k != "step"})  # a log line per validation
            if row["val_loss"] < best_val_loss:
                best_val_loss = row["val_loss"]
                _written(best_path, lambda: save_checkpoint(best_path, checkpoint()), last_path)
            saved = step == steps or step % (checkpoint_every or val_every) == 0
            if saved:
                _written(last_path, lambda: save_checkpoint(last_path, checkpoint()), last_path)
            _written(csv_path, lambda: write_loss_csv(csv_path, rows, task.columns), last_path)
            if saved and step < steps and not deadline.leaves_room():  # the next job resumes from last.pt
                raise deadline.stop(step, steps, last_path)
        elif progress and step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4g}")
    bar.close()
    if not best_path.exists():
        no_best(best_path, rows, steps, resumed=step_at_start > 0, made=(last_path, csv_path))

    best = min(rows, key=lambda r: r["val_loss"]) if rows else None
    return {
        "step": step,
        "best_step": best["step"] if best else None,
        "best_val_loss": best_val_loss,
        "last": rows[-1] if rows else None,
        "seconds": time.perf_counter() - start,
        "device": str(device),
        "paths": {"last": str(last_path), "best": str(best_path), "loss_csv": str(csv_path)},
    }


def check_settings(cfg, what: str, device_key: str) -> None:
    """The settings every trained method's config has (device, amp, steps, val_every,
    val_batches, checkpoint_every), checked alike: one line naming the key; first every field of the
    block against its declared type (run.typed), whatever the block came from."""
    check_instance(cfg, what)
    if not DEVICE_NAMES.fullmatch(str(cfg.device)):
        raise InputError(f"device {cfg.device!r} ({device_key}): use auto, cpu, cuda or cuda:N.")
    if cfg.amp not in ("none", "bf16", "fp16"):
        raise InputError(f"{what}.amp={cfg.amp!r}: use 'none', 'bf16' or 'fp16'.")
    if cfg.steps < 1 or cfg.val_every < 1 or cfg.val_batches < 1:
        raise InputError(f"{what}: steps, val_every and val_batches must be >= 1.")
    if cfg.checkpoint_every is not None and (cfg.checkpoint_every < 1 or cfg.checkpoint_every % cfg.val_every):
        raise InputError(
            f"{what}.checkpoint_every={cfg.checkpoint_every} must be a positive multiple of "
            f"val_every={cfg.val_every} (last.pt holds the loss curve up to a validation step)."
        )
