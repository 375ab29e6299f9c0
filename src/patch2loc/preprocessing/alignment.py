"""How well two contrasts of one subject line up on the atlas grid after each was registered to the
atlas on its own (docs/multimodal.md, "Alignment of two contrasts").

Each contrast's preprocessing writes `transform.tfm` (atlas -> its native grid, SimpleITK's LPS
physical space) and `mask.nii.gz` (its brain on the atlas grid). With the true map between the two
native scans (the demo knows it: the synthesiser's poses), the misalignment at an atlas voxel x is
|T_a(x) - M(T_b(x))| in contrast a's native space, M the true map from b's native space to a's;
without it, the Dice of the two brain masks is what can be measured.
"""

from __future__ import annotations

import os

import numpy as np
import SimpleITK as sitk

from patch2loc.files.io import load_volume

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS (nibabel, the synthesiser's poses) <-> LPS (SimpleITK)


def _apply(transform: sitk.Transform, points_lps: np.ndarray) -> np.ndarray:
    return np.array([transform.TransformPoint(tuple(map(float, p))) for p in points_lps])


def mask_dice(mask_a: str | os.PathLike, mask_b: str | os.PathLike) -> float:
    """Dice of two contrasts' brain masks on the atlas grid."""
    a, b = (load_volume(m, kind="brain mask").data > 0 for m in (mask_a, mask_b))
    return float(2 * (a & b).sum() / max(1, a.sum() + b.sum()))


def displacement_mm(
    mask_a: str | os.PathLike,
    mask_b: str | os.PathLike,
    transform_a: str | os.PathLike,
    transform_b: str | os.PathLike,
    b_to_a_ras: np.ndarray,
    max_points: int = 4000,
) -> np.ndarray:
    """|T_a(x) - M(T_b(x))| (mm) at brain voxels x of both masks (a fixed subsample of at most
    `max_points`); `b_to_a_ras`: the true 4x4 map from b's native world (RAS) to a's."""
    a = load_volume(mask_a, kind="brain mask")
    both = (a.data > 0) & (load_volume(mask_b, kind="brain mask").data > 0)
    voxels = np.argwhere(both)
    voxels = voxels[np.linspace(0, len(voxels) - 1, min(max_points, len(voxels))).astype(int)]
    ras = (a.affine @ np.c_[voxels, np.ones(len(voxels))].T).T
    lps = (LPS @ ras.T).T[:, :3]
    in_a = _apply(sitk.ReadTransform(str(transform_a)), lps)
    in_b = _apply(sitk.ReadTransform(str(transform_b)), lps)
    truth = LPS @ b_to_a_ras @ LPS  # the same map in LPS coordinates
    mapped = (truth @ np.c_[in_b, np.ones(len(in_b))].T).T[:, :3]
    return np.linalg.norm(in_a - mapped, axis=1)


def native_brain(image: str | os.PathLike, mask: str | os.PathLike | None, spacing) -> sitk.Image:
    """A native scan inside its brain mask (BraTS: image > 0), resampled to `spacing` (registration's input)."""
    from patch2loc.preprocessing.imaging import read_image, resample_to_spacing

    img = resample_to_spacing(sitk.Clamp(read_image(image, "image"), lowerBound=0.0), spacing)
    brain = (
        img > 0
        if mask is None
        else sitk.Resample(read_image(mask, "brain mask"), img, sitk.Transform(), sitk.sitkNearestNeighbor)
    )
    return sitk.Mask(img, sitk.Cast(brain > 0, sitk.sitkUInt8))


def via_reference_mm(
    mask_a: str | os.PathLike,
    transform_a: str | os.PathLike,
    a_to_b: sitk.Transform,
    b_to_a_ras: np.ndarray,
    max_points: int = 4000,
) -> np.ndarray:
    """The same misalignment when contrast b reaches the atlas through a (its atlas transform
    `a_to_b` after T_a, `a_to_b` estimated by registering b to a): |T_a(x) - M(R(T_a(x)))| (mm)."""
    a = load_volume(mask_a, kind="brain mask")
    voxels = np.argwhere(a.data > 0)
    voxels = voxels[np.linspace(0, len(voxels) - 1, min(max_points, len(voxels))).astype(int)]
    lps = (LPS @ (a.affine @ np.c_[voxels, np.ones(len(voxels))].T)).T[:, :3]
    in_a = _apply(sitk.ReadTransform(str(transform_a)), lps)
    in_b = _apply(a_to_b, in_a)
    mapped = ((LPS @ b_to_a_ras @ LPS) @ np.c_[in_b, np.ones(len(in_b))].T).T[:, :3]
    return np.linalg.norm(in_a - mapped, axis=1)
