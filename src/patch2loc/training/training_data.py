"""Training data of every trained method: (image, brain mask) NIfTI pairs stacked into arrays.

The training and validation lists of a (modality, fold) are the same for every method, so every
method sees exactly the same normalised volumes; the subject ids go into the checkpoints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from patch2loc.checks.intensities import training_range
from patch2loc.errors import InputError
from patch2loc.training.harness import train_seeded
from patch2loc.preprocessing.stack import load_any_case

Pairs = list[tuple[str | Path, str | Path]]


@dataclass
class TrainingData:
    train_images: np.ndarray  # [S, X, Y, Z] float32
    train_masks: np.ndarray  # [S, X, Y, Z] bool
    val_images: np.ndarray
    val_masks: np.ndarray
    subjects: dict  # {"train": [...], "val": [...]}
    spacing: tuple[float, float, float]  # voxel size (mm) of the training volumes


def check_same_grid(train_images: np.ndarray, val_images: np.ndarray) -> None:
    """One line when the training and validation volumes differ in shape (contrasts, grid): every
    trainer validates on volumes of its training grid."""
    if train_images.shape[1:] != val_images.shape[1:]:
        raise InputError(
            f"train volumes {train_images.shape[1:]} and val volumes {val_images.shape[1:]} "
            "differ in shape (contrasts, grid); preprocess both to the same grid (crop/pad)."
        )


def subject_ids(paths: list[str | Path]) -> list[str]:
    """File stems (name without .nii/.nii.gz), or the parent folders' names when stems repeat or
    are the pipeline's generic `image` (its layout is .../{subject}/image.nii.gz)."""
    paths = [Path(p) for p in paths]
    stems = [p.name.removesuffix(".gz").removesuffix(".nii") for p in paths]
    if len(set(stems)) < len(stems) or "image" in stems:
        stems = [p.parent.name for p in paths]
    return stems


def load_stack(pairs: Pairs, shape: tuple | None, role: str):
    """(images, masks, shape, spacing) of (image, mask) pairs that must all have one shape; an image
    that is a stack of contrasts (preprocessing.stack) gives [C, X, Y, Z] and the stack [S, C, X, Y, Z]."""
    if not pairs:
        raise InputError(f"no {role} subjects given; pass at least one (image, mask) pair.")
    images, masks, spacing = None, None, None
    for i, (image_path, mask_path) in enumerate(pairs):
        case = load_any_case(image_path, mask_path)
        if shape is None:
            shape = case.image.data.shape
        if case.image.data.shape != shape:
            other = "other training volumes" if role == "training" else "training volumes"
            raise InputError(
                f"{image_path}: {role} volume of shape {case.image.data.shape} differs from the "
                f"{other} {shape}. Crop/pad every volume to one shape (preprocessing)."
            )
        if images is None:  # allocate once: the stacks can be several GB
            images = np.empty((len(pairs), *shape), np.float32)
            masks = np.empty((len(pairs), *case.mask.shape), bool)
            spacing = tuple(float(s) for s in np.linalg.norm(case.image.affine[:3, :3], axis=0))
        images[i], masks[i] = case.image.data, case.mask
    return images, masks, shape, spacing


def load_training_data(train_pairs: Pairs, val_pairs: Pairs) -> TrainingData:
    """Load both lists with `io.load_case` (one-line errors naming the file); ids from the paths."""
    train_images, train_masks, shape, spacing = load_stack(train_pairs, None, "training")
    val_images, val_masks, _, _ = load_stack(val_pairs, shape, "validation")
    ids = subject_ids([p[0] for p in [*train_pairs, *val_pairs]])  # one naming rule for both lists
    subjects = {"train": ids[: len(train_pairs)], "val": ids[len(train_pairs) :]}
    return TrainingData(train_images, train_masks, val_images, val_masks, subjects, spacing)


def run_config(settings, data: TrainingData, recorded: dict | None = None) -> dict:
    """What a training's checkpoints record as its config: its settings (a dataclass), `recorded`
    (what else its method records beside them), the training grid and voxel size, and the training
    intensities (predict checks a scan's scale against them)."""
    return {
        **asdict(settings),
        **(recorded or {}),
        "volume_shape": list(data.train_images.shape[1:]),
        "spacing": list(data.spacing),
        "intensity_range": training_range(data.train_images, data.train_masks),
    }


def train_task(
    task_cls, data: TrainingData, cfg, out_dir, *task_args, must_match, progress: bool, recorded: dict | None = None
) -> dict:
    """A training whose checkpoints record `run_config`: the two grids checked, then
    `task_cls(data, cfg, *task_args, device)` in the shared seeded loop."""
    check_same_grid(data.train_images, data.val_images)
    task = partial(task_cls, data, cfg, *task_args)
    config = run_config(cfg, data, recorded)
    return train_seeded(task, data, cfg, out_dir, config, must_match=must_match, progress=progress)


def published_first(train, read_published):
    """`train_from_files(train_pairs, val_pairs, cfg, out_dir, progress)` of a method whose
    `train(data, cfg, out_dir, progress, published)` builds on published networks: `read_published(cfg)`
    reads them first, so a missing or altered file is one line before the volumes are read."""

    def train_from_files(train_pairs: Pairs, val_pairs: Pairs, cfg, out_dir: str | Path, progress: bool = True) -> dict:
        published = read_published(cfg)
        return train(load_training_data(train_pairs, val_pairs), cfg, out_dir, progress, published)

    return train_from_files
