"""Small brain-like training volumes for the slice methods' trainers (AE/VAE, RA, PHANES, FAE)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np


def ellipsoid_pairs(folder: Path, count: int = 3, depth: int = 4) -> list[tuple[Path, Path]]:
    """NIfTI (image, mask) pairs of 32 x 32 x `depth` volumes at 3 mm: an ellipsoid with a smooth
    gradient and noise (seeded by the pair's index)."""
    axes = (np.linspace(-1, 1, 32), np.linspace(-1, 1, 32), np.linspace(-1, 1, depth))
    grid = np.stack(np.meshgrid(*axes, indexing="ij"))
    brain = (grid[0] ** 2 + grid[1] ** 2 + (grid[2] / 1.5) ** 2) < 0.8
    affine, pairs = np.diag([3.0, 3.0, 3.0, 1.0]), []
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        noise = np.random.default_rng(i).standard_normal(brain.shape)
        image = (brain * (0.5 + 0.3 * grid[0] * grid[1] + 0.05 * noise)).astype(np.float32)
        paths = (folder / f"s{i}_image.nii.gz", folder / f"s{i}_mask.nii.gz")
        nib.save(nib.Nifti1Image(image, affine), paths[0])
        nib.save(nib.Nifti1Image(brain.astype(np.uint8), affine), paths[1])
        pairs.append(paths)
    return pairs


def smooth_pairs(folder: Path, shape: tuple, count: int) -> list[tuple[Path, Path]]:
    """NIfTI (image, mask) pairs at 3 mm, each in a folder of its own: a smooth pattern with noise
    (seeded by the pair's index) in an ellipsoid brain of `shape`."""
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    brain = (x**2 + y**2 + (z / 1.5) ** 2) < 0.8
    affine, pairs = np.diag([3.0, 3.0, 3.0, 1.0]), []
    for i in range(count):
        rng = np.random.default_rng(i)
        image = (0.6 + 0.2 * np.cos(3 * x) * np.sin(2 * y) + 0.05 * rng.standard_normal(shape)) * brain
        d = folder / f"s{i}"
        d.mkdir(parents=True)
        nib.save(nib.Nifti1Image(image.astype(np.float32), affine), d / "image.nii.gz")
        nib.save(nib.Nifti1Image(brain.astype(np.uint8), affine), d / "mask.nii.gz")
        pairs.append((d / "image.nii.gz", d / "mask.nii.gz"))
    return pairs
