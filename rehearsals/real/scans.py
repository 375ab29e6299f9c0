"""What every rehearsal fixture shares: the plan (how many subjects, at which size), synthetic
subjects rendered once, and writing them on a scanner-like grid (rehearsals.real.geometry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from rehearsals.real.geometry import Grid, resample, rotation_x, save
from patch2loc.synth import render_scan, subject_seed


@dataclass
class Plan:
    """How many subjects of each dataset, at which size; which fixture is deliberately bad."""

    ixi_train: int = 3
    ixi_val: int = 1  # the first is IXI014-HH-1236 (4.98 mm T2 slices): validation in fold 0 of splits/IXI.csv
    ixi_test: int = 1
    lesion_subjects: dict = field(default_factory=lambda: {"BraTS21": 2, "MSLUB": 2, "ATLAS_v2": 2, "WMH": 3})
    render_spacing: float = 2.0  # mm, the synthesiser's grid
    voxel_scale: float = 2.0  # real voxel sizes times this (capped at 3 mm) ...
    real_voxels: tuple[str, ...] = ("MSLUB", "WMH")  # ... except these: their real headers, full size
    seed: int = 11
    bad_wmh: bool = True  # the last WMH subject's headers tilted 90 degrees: a misregistered scan
    user_masks: tuple[str, ...] = ()  # datasets given brain masks a user would add (MASK_NAMES)
    mslub_layout: str = "mirror"  # "mirror": served per file (coregistered/); "official": dropped in
    wmh_test: int = 2  # subjects in the WMH dataset's test/ (the first in `Philips_VU .PETMR_01.`)
    wmh_test_in_splits: int = 1  # of those, in the WMH split (fetched with datasets.WMH.test_set)


def vox(real, plan: Plan, dataset: str, cap: float | None = 3.0) -> tuple[float, ...]:
    """Voxel size of a fixture: the real one for plan.real_voxels, else scaled (and capped)."""
    if dataset in plan.real_voxels:
        return tuple(float(v) for v in real)
    return tuple(min(cap or np.inf, v * plan.voxel_scale) for v in real)


def field_of_view(real_shape, real_spacing) -> tuple[float, ...]:
    """Field of view (mm, per voxel axis) of a real matrix; make_grid fits any voxel size in it."""
    return tuple(n * s for n, s in zip(real_shape, real_spacing))


@lru_cache(maxsize=64)
def render(dataset: str, modality: str, subject: str, seed: int, spacing: float):
    return render_scan(dataset, modality, subject_seed(seed, dataset, subject), spacing)


def centre(r) -> np.ndarray:
    """World centre of the rendered head (its native field of view)."""
    return (r.affine @ np.append((np.asarray(r.image.shape) - 1) / 2.0, 1.0))[:3]


def write(
    r,
    grid: Grid,
    image: Path,
    *,
    seg: Path | None = None,
    mask: Path | None = None,
    affine: np.ndarray | None = None,
    mask_affine: np.ndarray | None = None,
) -> None:
    """Sample a rendered subject on `grid`; write image (+ lesion labels, + brain mask).

    `affine`: the header of every file (default the grid's; a wrong one makes the bad fixture);
    `mask_affine`: the brain mask's own header (MSLUB's sits half a voxel off)."""
    affine = grid.affine if affine is None else affine
    save(resample(r.image, r.affine, grid, 1), affine, image)
    if seg is not None:
        labels = r.seg if r.seg is not None else np.zeros(r.image.shape, np.uint8)
        save(resample(labels, r.affine, grid, 0), affine, seg, kind="labels")
    if mask is not None:
        save(
            resample(r.brain.astype(np.uint8), r.affine, grid, 0),
            affine if mask_affine is None else mask_affine,
            mask,
            kind="labels",
        )


def tilted(grid: Grid, degrees: float = 90.0) -> np.ndarray:
    """The grid's affine rotated about its centre: what a wrong orientation header looks like."""
    c = grid.affine @ np.append((np.asarray(grid.shape) - 1) / 2.0, 1.0)
    rot = np.eye(4)
    rot[:3, :3] = rotation_x(degrees)
    rot[:3, 3] = c[:3] - rot[:3, :3] @ c[:3]
    return rot @ grid.affine


def offset_affine(grid: Grid, voxels) -> np.ndarray:
    """The grid's affine with its origin moved by `voxels` along its own voxel axes."""
    affine = grid.affine.copy()
    affine[:3, 3] += affine[:3, :3] @ np.asarray(voxels, float)
    return affine
