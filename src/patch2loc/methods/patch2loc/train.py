"""Training loop: Patch2LocNet on beta-NLL, checkpoints, resume, loss curve.

One step = one slice per training subject, `patches_per_step` valid patches from those slices
(`PatchSampler`), one Adam update. Every `val_every` steps (and at the end) the model is scored on
a fixed validation set (drawn once from the validation subjects with its own seed, so validation
never touches the training random stream), `loss.csv` gets a row, `best.pt` is replaced when the
validation loss improves and `last.pt` is written. If `out_dir/last.pt` exists, training resumes
from it (resume.py); on the CPU the resumed run ends with bit-identical weights to an uninterrupted
one. One run at a time per folder (a lock on it); at each validation the checkpoints are written
before loss.csv, so a failed write (disk full) never leaves a loss curve ahead of its checkpoint.
"""
from __future__ import annotations

import math
import platform
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from patch2loc import __version__
from patch2loc.checkpoint import save_checkpoint
from patch2loc.devices import DEVICE_NAMES, resolve_device  # noqa: F401  (checks the name; re-exported for benchmarks)
from patch2loc.errors import resource_problem
from patch2loc.io import InputError, load_case
from patch2loc.methods.patch2loc.loss import beta_nll
from patch2loc.methods.patch2loc.model import Patch2LocNet, patch_size_for
from patch2loc.methods.patch2loc.resume import CSV_COLUMNS, restore, rng_state, write_loss_csv  # noqa: F401
from patch2loc.methods.patch2loc.sampling import PatchSampler
from patch2loc.outputs import folder_lock, remove_stale_temps


@dataclass
class TrainConfig:
    """Training settings; defaults are the paper's (fp32, Adam 1e-2, 15,000 steps of 8096 patches)."""

    steps: int = 15000
    patches_per_step: int = 8096
    lr: float = 1e-2
    beta: float = 0.5
    min_brain_fraction: float = 0.2
    val_every: int = 500
    val_batches: int = 4  # validation set = val_batches x patches_per_step fixed patches
    seed: int = 3141
    device: str = "auto"  # "auto" = cuda when available, else cpu
    amp: str = "none"  # "none" (fp32, as the paper) | "bf16" | "fp16"
    num_threads: int | None = None  # torch CPU threads; None leaves torch's default
    patch_size: int | None = None  # None = patch_size_for(slice side), 24 for 192
    channels_last: bool = False  # NHWC convolutions (can be faster on GPUs with AMP)
    modality: str | None = None  # recorded in the checkpoints; predict refuses another modality
    # Resume checkpoint last.pt every N steps (a multiple of val_every; None = at every
    # validation) and always at the end. Each write is ~140 MB (weights + Adam state).
    checkpoint_every: int | None = None

    def __post_init__(self) -> None:
        if not DEVICE_NAMES.fullmatch(str(self.device)):
            raise InputError(f"device {self.device!r} (--device, train.device): use auto, cpu, cuda or cuda:N.")
        if self.amp not in ("none", "bf16", "fp16"):
            raise InputError(f"TrainConfig.amp={self.amp!r}: use 'none', 'bf16' or 'fp16'.")
        if self.patches_per_step < 2:
            raise InputError(f"patches per step (--patches, train.patches_per_step) must be >= 2, got "
                             f"{self.patches_per_step}: the heads use BatchNorm, which needs 2 or more.")
        if self.steps < 1 or self.val_every < 1 or self.val_batches < 1:
            raise InputError("TrainConfig: steps, val_every and val_batches must be >= 1.")
        if self.checkpoint_every is not None and (self.checkpoint_every < 1 or self.checkpoint_every % self.val_every):
            raise InputError(f"TrainConfig.checkpoint_every={self.checkpoint_every} must be a positive multiple of "
                             f"val_every={self.val_every} (last.pt holds the loss curve up to a validation step).")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build from a dict (e.g. a YAML section), refusing unknown keys with their names."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"training config: unknown key(s) {unknown}; known keys are {sorted(known)}.")
        return cls(**d)


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


def _written(path: Path, write, resume_from: Path) -> None:
    """Run `write` (of `path`); a full disk or a write error becomes one line that says what is
    kept (temporary files are removed by the writers) and how to go on."""
    try:
        write()
    except (OSError, RuntimeError) as exc:
        line = resource_problem(exc, str(path))
        if line is None:
            raise
        kept = f"{resume_from} (the last complete checkpoint) is kept: rerun the same command to resume" \
            if resume_from.exists() else "no checkpoint was written yet: rerun the same command to start over"
        raise InputError(f"{line.rstrip('.')}; {kept}.") from None


def train_step(model: Patch2LocNet, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               patches: torch.Tensor, target: torch.Tensor, slice_pos: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """One Adam update on one batch; returns the (detached) loss without syncing the device."""
    with autocast_context(patches.device, cfg.amp):
        mean, logvar = model(patches, slice_pos)
    loss = beta_nll(mean, logvar, target, cfg.beta)  # computed in fp32 whatever the autocast
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()


@torch.no_grad()
def evaluate(model: Patch2LocNet, batches: list[tuple[torch.Tensor, ...]], beta: float, amp: str) -> dict:
    """Validation loss, mean Euclidean location error, and the error of always predicting the
    mean target of these patches (the 'centre' baseline a model must beat), all in percent."""
    model.eval()
    device = batches[0][0].device
    loss_sum, err_sum, n = 0.0, 0.0, 0
    for patches, target, slice_pos in batches:
        with autocast_context(device, amp):
            mean, logvar = model(patches, slice_pos)
        loss_sum += beta_nll(mean, logvar, target, beta).item() * len(target)
        err_sum += torch.linalg.vector_norm(target - mean.float(), dim=1).sum().item()
        n += len(target)
    targets = torch.cat([b[1] for b in batches])
    centre = torch.linalg.vector_norm(targets - targets.mean(0), dim=1).mean().item()
    model.train()
    return {"val_loss": loss_sum / n, "val_error": err_sum / n, "centre_error": centre}


def train(train_images: np.ndarray, train_masks: np.ndarray, val_images: np.ndarray, val_masks: np.ndarray,
          cfg: TrainConfig, out_dir: str | Path, subjects: dict | None = None, progress: bool = True) -> dict:
    """Train on stacked volumes [S, X, Y, Z] (+ bool brain masks); write last.pt, best.pt, loss.csv.

    Returns a summary: final step, best step and validation loss, last row of the loss curve, paths.
    The folder is locked while training (a second run on it is refused); a folder this call made
    is removed again when the run fails before writing anything into it.
    """
    out_dir = Path(out_dir)
    if train_images.shape[1:] != val_images.shape[1:]:
        raise InputError(f"train volumes {train_images.shape[1:]} and val volumes {val_images.shape[1:]} "
                         "differ in shape; preprocess both to the same grid (crop/pad).")
    made = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(out_dir, "patch2loc train"):
            return _train(train_images, train_masks, val_images, val_masks, cfg, out_dir, subjects, progress)
    finally:
        if made and not any(out_dir.iterdir()):
            out_dir.rmdir()


def _train(train_images, train_masks, val_images, val_masks, cfg: TrainConfig, out_dir: Path,
           subjects: dict | None, progress: bool) -> dict:
    from tqdm.auto import tqdm

    last_path, best_path, csv_path = out_dir / "last.pt", out_dir / "best.pt", out_dir / "loss.csv"
    device = resolve_device(cfg.device)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    for path in (last_path, best_path, csv_path):
        remove_stale_temps(path)  # left by a writer killed mid-write (SIGKILL, power loss)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed batch and patch shapes: let cuDNN pick kernels
    patch_size = cfg.patch_size or patch_size_for(train_images.shape[1])
    # The resolved patch size and the training grid are recorded for inference (cli predict checks it).
    config = {**asdict(cfg), "patch_size": patch_size, "volume_shape": list(train_images.shape[1:])}
    subjects = subjects or {"train": [f"train_{i:03d}" for i in range(len(train_images))],
                            "val": [f"val_{i:03d}" for i in range(len(val_images))]}

    # Seeds first, so the model's initial weights are a function of cfg.seed.
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    random.seed(cfg.seed)

    # Data on the device; validation patches are drawn once, with a generator of their own.
    train_sampler = PatchSampler(train_images, train_masks, patch_size, cfg.min_brain_fraction, device)
    val_sampler = PatchSampler(val_images, val_masks, patch_size, cfg.min_brain_fraction, device)
    val_gen = torch.Generator(device).manual_seed(cfg.seed + 1)
    val_set = [val_sampler.sample(cfg.patches_per_step, val_gen) for _ in range(cfg.val_batches)]
    del val_sampler
    gen = torch.Generator(device).manual_seed(cfg.seed)

    model = Patch2LocNet(patch_size).to(device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    # fused: one kernel per parameter instead of ~10 passes over memory (1.5x the step rate on a CPU).
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")

    step, best_val_loss, rows = 0, math.inf, []
    if last_path.exists():
        step, best_val_loss, rows = restore(last_path, csv_path, config, subjects, model, optimizer, scaler, gen)

    def checkpoint() -> dict:
        ckpt = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "patch_size": patch_size, "step": step, "config": config, "versions": versions(),
                "modality": cfg.modality,
                "subjects": subjects, "best_val_loss": best_val_loss, "loss_rows": list(rows),
                "optimizer": optimizer.state_dict(), "rng": rng_state(gen)}
        if scaler.is_enabled():
            ckpt["grad_scaler"] = scaler.state_dict()
        return ckpt

    model.train()
    train_loss_sum, train_loss_n = torch.zeros((), device=device), 0
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="train", unit="step")
    start = time.perf_counter()
    while step < cfg.steps:
        patches, target, slice_pos = train_sampler.sample(cfg.patches_per_step, gen)
        loss = train_step(model, optimizer, scaler, patches.contiguous(memory_format=memory_format),
                          target, slice_pos, cfg)
        step += 1
        train_loss_sum += loss
        train_loss_n += 1
        bar.update(1)

        if step % cfg.val_every == 0 or step == cfg.steps:
            row = {"step": step, "train_loss": train_loss_sum.item() / train_loss_n,
                   **evaluate(model, val_set, cfg.beta, cfg.amp)}
            train_loss_sum.zero_()
            train_loss_n = 0
            rows.append(row)
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_loss=f"{row['val_loss']:.3f}",
                            val_err=f"{row['val_error']:.2f}%")
            # Checkpoints first: loss.csv is never ahead of what was saved (last.pt holds the rows).
            if row["val_loss"] < best_val_loss:
                best_val_loss = row["val_loss"]
                _written(best_path, lambda: save_checkpoint(best_path, checkpoint()), last_path)
            if step == cfg.steps or step % (cfg.checkpoint_every or cfg.val_every) == 0:
                _written(last_path, lambda: save_checkpoint(last_path, checkpoint()), last_path)
            _written(csv_path, lambda: write_loss_csv(csv_path, rows), last_path)
        elif progress and step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()

    best = min(rows, key=lambda r: r["val_loss"]) if rows else None
    return {"step": step, "best_step": best["step"] if best else None, "best_val_loss": best_val_loss,
            "last": rows[-1] if rows else None, "seconds": time.perf_counter() - start,
            "patch_size": patch_size, "device": str(device),
            "paths": {"last": str(last_path), "best": str(best_path), "loss_csv": str(csv_path)}}


def _subject_ids(paths: list[str | Path]) -> list[str]:
    """File stems (name without .nii/.nii.gz), or the parent folders' names when stems repeat or
    are the pipeline's generic `image` (its layout is .../{subject}/image.nii.gz)."""
    paths = [Path(p) for p in paths]
    stems = [p.name.removesuffix(".gz").removesuffix(".nii") for p in paths]
    if len(set(stems)) < len(stems) or "image" in stems:
        stems = [p.parent.name for p in paths]
    return stems


def _load_stack(pairs: list[tuple[str | Path, str | Path]], shape: tuple | None, role: str):
    if not pairs:
        raise InputError(f"no {role} subjects given; pass at least one (image, mask) pair.")
    images, masks = None, None
    for i, (image_path, mask_path) in enumerate(pairs):
        case = load_case(image_path, mask_path)
        if shape is None:
            shape = case.image.data.shape
        if case.image.data.shape != shape:
            other = "other training volumes" if role == "training" else "training volumes"
            raise InputError(f"{image_path}: {role} volume of shape {case.image.data.shape} differs from the "
                             f"{other} {shape}. Crop/pad every volume to one shape (preprocessing).")
        if images is None:  # allocate once: the stacks can be several GB
            images = np.empty((len(pairs), *shape), np.float32)
            masks = np.empty((len(pairs), *shape), bool)
        images[i], masks[i] = case.image.data, case.mask
    return images, masks, shape


def train_from_files(train_pairs: list[tuple[str | Path, str | Path]],
                     val_pairs: list[tuple[str | Path, str | Path]],
                     cfg: TrainConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """Load (image, brain mask) NIfTI pairs with `io.load_case`, then `train`. Subject ids (file
    stems, or folder names when stems repeat) are recorded in the checkpoints."""
    train_images, train_masks, shape = _load_stack(train_pairs, None, "training")
    val_images, val_masks, _ = _load_stack(val_pairs, shape, "validation")
    ids = _subject_ids([p[0] for p in [*train_pairs, *val_pairs]])  # one naming rule for both lists
    subjects = {"train": ids[:len(train_pairs)], "val": ids[len(train_pairs):]}
    return train(train_images, train_masks, val_images, val_masks, cfg, out_dir, subjects, progress)
