"""Atlas space -> the scan's own grid, through the inverse of the transform the chain computed.

`preprocess_scan` saves the affine registration it found as `transform.tfm` (SimpleITK; it maps
atlas points to native points). A map on the atlas-space grid goes back onto the native scan's
grid by resampling it through the inverse transform: no second registration. SimpleITK works in
LPS world coordinates, nibabel in RAS: `sitk_image` converts the nibabel affine.

`native_map` is the one way a post-processed map reaches the native grid: `patch2loc predict
--from-run` (S_native.nii.gz) and the workflow's native-space scoring (`evaluate.space: native`)
both call it, so the same model gives the same native map in both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patch2loc.errors import InputError

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def sitk_image(data: np.ndarray, affine: np.ndarray):
    """A nibabel-ordered [X, Y, Z] array with its RAS affine -> SimpleITK image (LPS geometry)."""
    import SimpleITK as sitk

    lps = LPS_FROM_RAS @ np.asarray(affine, np.float64)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing
    img = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(data).transpose(2, 1, 0)))
    img.SetSpacing([float(s) for s in spacing])
    img.SetOrigin([float(o) for o in lps[:3, 3]])
    img.SetDirection([float(d) for d in direction.ravel()])
    return img


def read_transform(path: str | Path):
    import SimpleITK as sitk

    try:
        transform = sitk.ReadTransform(str(path))
        return transform.GetInverse()
    except RuntimeError as exc:
        raise InputError(
            f"{path}: not an invertible SimpleITK transform ({str(exc).strip()[-120:]}). "
            "Preprocess the scan again (predict: --overwrite; the workflow: delete its preprocessed folder)."
        ) from None


def to_native(
    volume: np.ndarray,
    affine: np.ndarray,
    transform: str | Path,
    native: str | Path,
    nearest: bool = False,
    background: float = 0.0,
) -> np.ndarray:
    """Resample an atlas-space [X, Y, Z] volume onto the grid of the native scan file `native`
    (linear, or nearest neighbour for masks); points outside the atlas grid get `background`."""
    import SimpleITK as sitk

    inverse = read_transform(transform)
    reference = native_reference(native)
    moving = sitk_image(np.asarray(volume, np.float32), affine)
    interp = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    out = sitk.Resample(moving, reference, inverse, interp, float(background), sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out).transpose(2, 1, 0)


def native_map(
    score: np.ndarray, mask: np.ndarray, affine: np.ndarray, transform: str | Path, native: str | Path
) -> tuple[np.ndarray, np.ndarray]:
    """(map, brain) on the native scan's grid: the atlas-space post-processed `score` resampled
    linearly, the atlas-space brain `mask` by nearest neighbour, the map 0 outside that brain
    (the background value, as on the atlas grid). float32 map, bool brain."""
    brain = to_native(np.asarray(mask, np.float32), affine, transform, native, nearest=True) > 0.5
    score = to_native(score, affine, transform, native)
    score[~brain] = 0.0
    return score.astype(np.float32, copy=False), brain


def native_reference(native: str | Path):
    """The native scan's grid as SimpleITK reads it (the chain read the scan the same way)."""
    import SimpleITK as sitk

    return sitk.ReadImage(str(native))


def itk_affine(native: str | Path) -> np.ndarray:
    """The RAS affine ITK gives a file, from its header alone (no voxels read)."""
    import SimpleITK as sitk

    from patch2loc.preprocessing.imaging import quiet_itk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(native))
    with quiet_itk():
        reader.ReadImageInformation()
    n = reader.GetDimension()
    lps = np.eye(4)
    lps[:3, :3] = np.asarray(reader.GetDirection()).reshape(n, n)[:3, :3] * np.asarray(reader.GetSpacing()[:3])
    lps[:3, 3] = reader.GetOrigin()[:3]
    return LPS_FROM_RAS @ lps
