"""The analytic phantom of the preprocessing tests (shared by test_preprocess.py
and test_grid_offsets.py): defined in physical (LPS) coordinates, sampled on an atlas grid or a native one under a known
affine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from patch2loc.preprocessing.pipeline import (
    PreprocessConfig,
)

ATLAS_SHAPE, ATLAS_SPACING = (44, 50, 40), 3.0
LESION_CENTRE = np.array([18.0, -12.0, 10.0])  # mm, inside the white matter


def phantom(
    points: np.ndarray, lesion: bool = False, texture: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intensity, brain mask and lesion mask at physical points [..., 3] (mm).

    Brain: ellipsoid with grey-matter rim (0.55), white matter (1.0), two off-centre "ventricles"
    (0.2) and a "skull" shell (0.8) outside the brain; asymmetric so that the pose is identifiable.
    """

    def inside(c, r):
        return (((points - np.asarray(c)) / np.asarray(r)) ** 2).sum(-1) <= 1.0

    brain = inside((0, 0, 0), (55, 66, 50))
    wm = inside((0, 0, 0), (46, 57, 41))
    image = np.where(brain, 0.55, 0.0)
    image = np.where(wm, 1.0, image)
    image = np.where(inside((-10, 8, 5), (6, 20, 8)) | inside((12, 14, 12), (5, 12, 6)), 0.2, image)
    image = np.where(inside((5, -30, -20), (10, 10, 7)), 0.7, image)
    skull = inside((0, 0, 0), (64, 75, 59)) & ~inside((0, 0, 0), (59, 70, 54))
    image = np.where(skull, 0.8, image)
    # Smooth "anatomical" texture (fixed random plane waves, ~20-40 mm): gives the registration
    # metric a gradient inside the flat tissue classes, as real anatomy does.
    waves = np.random.default_rng(42)
    for _ in range(6 if texture else 0):
        k = waves.normal(size=3)
        k *= 2 * np.pi / waves.uniform(20, 40) / np.linalg.norm(k)
        image = image * (1 + 0.06 * np.sin(points @ k + waves.uniform(0, 2 * np.pi)))
    seg = inside(LESION_CENTRE, (8, 8, 8)) if lesion else np.zeros(brain.shape, bool)
    image = np.where(seg, 1.6, image)
    return image.astype(np.float32), brain, seg


def grid_points(img: sitk.Image) -> np.ndarray:
    """Physical points of every voxel, as [X, Y, Z, 3] (package order)."""
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in img.GetSize()], indexing="ij"), -1)
    d = np.asarray(img.GetDirection()).reshape(3, 3) * np.asarray(img.GetSpacing())
    return idx @ d.T + np.asarray(img.GetOrigin())


def make_image(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    out = sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0)))
    out.CopyInformation(like)
    return out


def random_affine(rng: np.random.Generator) -> sitk.AffineTransform:
    """Atlas -> native mapping: rotations <= 10 deg, scaling +-6 %, shifts <= 8 mm."""
    angles = np.deg2rad(rng.uniform(-10, 10, 3))
    cx, cy, cz = np.cos(angles)
    sx, sy, sz = np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    matrix = rz @ ry @ rx @ np.diag(rng.uniform(0.94, 1.06, 3))
    t = sitk.AffineTransform(3)
    t.SetMatrix(matrix.ravel().tolist())
    t.SetTranslation(rng.uniform(-8, 8, 3).tolist())
    return t


def native_scan(
    tmp: Path, true: sitk.AffineTransform, *, lesion=False, bias=None, name="native", spacing=(2.5, 2.5, 3.5)
) -> tuple[Path, Path, Path]:
    """Sample the phantom on a native grid: value at native point q is phantom(true^-1(q))."""
    grid = sitk.Image([int(round(190 / s)) for s in spacing], sitk.sitkFloat32)
    grid.SetSpacing(spacing)
    grid.SetOrigin([-95.0 + 3, -95.0 - 2, -95.0 + 1])
    q = grid_points(grid)
    inv = true.GetInverse()
    m = np.asarray(inv.GetMatrix()).reshape(3, 3)
    c = np.asarray(inv.GetCenter())
    p = (q - c) @ m.T + c + np.asarray(inv.GetTranslation())
    image, brain, seg = phantom(p, lesion)
    if bias is not None:
        image = image * bias(q)
    paths = tmp / f"{name}.nii.gz", tmp / f"{name}_brainmask.nii.gz", tmp / f"{name}_seg.nii.gz"
    for arr, path in zip((image, brain.astype(np.uint8), seg.astype(np.uint8)), paths):
        sitk.WriteImage(make_image(arr, grid), str(path))
    return paths


@pytest.fixture(scope="module")
def atlas(tmp_path_factory) -> tuple[Path, Path]:
    """The phantom in atlas space, skull-stripped (as SRI24's T1_brain), plus its mask."""
    tmp = tmp_path_factory.mktemp("atlas")
    grid = sitk.Image(list(ATLAS_SHAPE), sitk.sitkFloat32)
    grid.SetSpacing([ATLAS_SPACING] * 3)
    grid.SetOrigin([-(n - 1) * ATLAS_SPACING / 2 for n in ATLAS_SHAPE])
    image, brain, _ = phantom(grid_points(grid))
    sitk.WriteImage(make_image(image * brain, grid), str(tmp / "T1_brain.nii.gz"))
    sitk.WriteImage(make_image(brain.astype(np.uint8), grid), str(tmp / "brain_mask.nii.gz"))
    return tmp / "T1_brain.nii.gz", tmp / "brain_mask.nii.gz"


CFG = PreprocessConfig(
    spacing=(3.0, 3.0, 3.0),
    skull_strip="provided",
    target_shape=(40, 48, 36),
    n4_iterations=(20, 20),
    n4_tolerance=1e-3,
)
