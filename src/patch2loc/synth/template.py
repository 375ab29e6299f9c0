"""Template space: the MNI152 T1, tissue and distance maps on a grid (`load_template`), and the demo atlas."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from patch2loc.files.io import save_volume


@dataclass(frozen=True)
class Template:
    """MNI152 arrays on a `spacing` mm grid (read-only, cached per spacing)."""

    spacing: float
    affine: np.ndarray  # voxel -> MNI world (mm)
    t1: np.ndarray  # MNI152 T1 template, zero outside the brain
    brain: np.ndarray  # bool brain mask (nilearn's load_mni152_brain_mask: template > 0.2 at 1 mm)
    gm: np.ndarray  # tissue fractions in [0, 1]; csf + gm + wm = 1 inside the brain
    wm: np.ndarray
    csf: np.ndarray
    depth_mm: np.ndarray  # distance to the outside of the brain (0 outside)
    outside_mm: np.ndarray  # distance to the brain for voxels outside it (0 inside)
    ventricles: np.ndarray  # bool: deep, CSF-dominated voxels (lateral ventricles mostly)
    ventricle_dist_mm: np.ndarray  # distance to the ventricles

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.brain.shape

    def world(self) -> np.ndarray:
        """World coordinates (mm) of every voxel, [3, X, Y, Z]."""
        idx = np.indices(self.shape, dtype=np.float32)
        a = self.affine.astype(np.float32)
        return np.einsum("ij,jxyz->ixyz", a[:3, :3], idx) + a[:3, 3, None, None, None]


def _resample_to_spacing(data: np.ndarray, spacing: float) -> np.ndarray:
    """1 mm MNI array -> grid of `spacing` mm with the same first voxel (as nilearn's resolution=2).

    A Gaussian pre-filter stands in for the larger voxels' partial-volume averaging.
    """
    if spacing == 1.0:
        return data.astype(np.float32)
    shape = tuple(int(np.floor((n - 1) / spacing)) + 1 for n in data.shape)
    smooth = ndimage.gaussian_filter(data.astype(np.float32), sigma=0.5 * np.sqrt(max(spacing**2 - 1.0, 0.0)))
    return ndimage.affine_transform(smooth, np.full(3, spacing), output_shape=shape, order=1)


@functools.lru_cache(maxsize=8)
def load_template(spacing: float = 2.0, anatomy: str = "mni152") -> Template:
    """An anatomy's T1, tissue maps and derived distance maps on the MNI152 grid at `spacing` mm.

    "mni152" (the default) is nilearn's packaged MNI152 2009a (no network); the other anatomies
    (`anatomies.ANATOMIES`) are fetched with pip and registered onto the same 1 mm grid first.
    Computed once per process, spacing and anatomy.
    """
    if not 0.5 <= spacing <= 8.0:
        raise ValueError(f"spacing must be between 0.5 and 8 mm, got {spacing}")
    from patch2loc.synth.anatomies import anatomy_1mm

    src = anatomy_1mm(anatomy)
    affine = np.array(src.affine, dtype=np.float64)
    t1 = _resample_to_spacing(src.t1, spacing)
    # The brain mask (MNI152: nilearn's, template > 0.2) at 1 mm, resampled as a volume fraction:
    # thresholding the smoothed template instead would inflate the brain on coarse grids.
    brain = _resample_to_spacing(src.brain.astype(np.float32), spacing) >= 0.5
    gm = _resample_to_spacing(src.gm, spacing)
    wm = _resample_to_spacing(src.wm, spacing)
    affine[:3, :3] *= spacing
    return template_from_maps(spacing, affine, t1, brain, gm, wm)


def template_from_maps(
    spacing: float, affine: np.ndarray, t1: np.ndarray, brain: np.ndarray, gm: np.ndarray, wm: np.ndarray
) -> Template:
    """A read-only Template from maps on its grid: tissue fractions cleaned, distance maps derived."""
    affine = np.array(affine, dtype=np.float64)
    gm = np.where(brain, np.clip(gm, 0.0, 1.0), 0.0)
    wm = np.where(brain, np.clip(wm, 0.0, 1.0), 0.0)
    over = np.maximum(gm + wm, 1.0)  # probabilities may sum above 1 after resampling
    gm, wm = gm / over, wm / over
    csf = np.where(brain, 1.0 - gm - wm, 0.0)
    t1 = np.where(brain, t1, 0.0)

    depth = ndimage.distance_transform_edt(brain) * spacing
    outside = ndimage.distance_transform_edt(~brain) * spacing
    # Lateral ventricles: CSF-dominated voxels well inside the brain (sulcal CSF is shallow).
    ventricles = (csf > 0.6) & (depth > 18.0)
    ventricles = ndimage.binary_opening(ventricles) if ventricles.sum() > 50 else ventricles
    vdist = ndimage.distance_transform_edt(~ventricles) * spacing
    arrays = [t1, brain, gm, wm, csf, depth, outside, ventricles, vdist]
    arrays = [np.ascontiguousarray(a.astype(np.float32) if a.dtype != bool else a) for a in arrays]
    for a in arrays:
        a.setflags(write=False)
    t1, brain, gm, wm, csf, depth, outside, ventricles, vdist = arrays
    affine.setflags(write=False)
    return Template(float(spacing), affine, t1, brain, gm, wm, csf, depth, outside, ventricles, vdist)


def make_atlas(out_image: str | Path, out_mask: str | Path, spacing: float = 2.0) -> tuple[Path, Path]:
    """Write the demo's registration target: the skull-stripped MNI152 T1 and its brain mask.

    It stands in for SRI24's `T1_brain` (which cannot be downloaded here) at `spacing` mm.
    """
    tpl = load_template(spacing)
    image = np.where(tpl.brain, tpl.t1, 0.0).astype(np.float32)
    save_volume(image, out_image, affine=np.array(tpl.affine))
    save_volume(tpl.brain.astype(np.uint8), out_mask, affine=np.array(tpl.affine))
    return Path(out_image), Path(out_mask)
