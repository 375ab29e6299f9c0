"""NIfTI I/O, atomic writes and input validation.

Every file the package writes goes through `atomic_output` (patch2loc.files.staging, its one home): it is written under a temporary name
in the same folder and renamed into place only when complete, so a failed job never leaves a
half-written file that looks finished. Every volume the package reads goes through `load_volume`
or `load_case`, which turn unreadable files, NaNs, empty masks and shape mismatches into an
`InputError` that names the file and says what to do.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patch2loc.checks.labels import label_values
from patch2loc.checks.claims import nifti_claims, quiet_nibabel
from patch2loc.checks.intensities import clip_outliers, warn_full_mask, warn_int16_wrap
from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output


@dataclass
class Volume:
    """An image array with the affine and header it came with (nibabel)."""

    data: np.ndarray
    affine: np.ndarray
    header: object = None
    path: str | None = None


def load_volume(path: str | os.PathLike, *, kind: str = "image", dtype=np.float32) -> Volume:
    """Read a 3D NIfTI volume; raise InputError naming the file if it is unusable.

    What the header claims (size against PATCH2LOC_MAX_IMAGE_MB, voxel sizes, affine) is checked
    before any voxel is read (`claims.py`). NaN/inf are refused; for kind "image", extreme
    outliers are clipped with one warning (`intensities.py`)."""
    import nibabel as nib

    path = str(path)
    claims = nifti_claims(path, kind, "Check the path (or the dataset root in the config).")
    try:
        with quiet_nibabel():
            img = nib.load(path)
            data = np.asarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types for corrupt files
        detail = " ".join(str(exc).split())[:200]  # one line: nibabel's texts can hold newlines
        raise InputError(
            f"{path}: cannot be read as NIfTI ({type(exc).__name__}: {detail}). "
            "Re-download or re-export the file; it may be truncated or not a NIfTI image."
        ) from exc
    data = np.squeeze(data)
    if data.ndim != 3:
        raise InputError(f"{path}: expected a 3D {kind}, got shape {data.shape}. Pass a single 3D volume.")
    if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
        raise InputError(
            f"{path}: the {kind} contains NaN or infinite values. Fix or re-export it "
            "(e.g. replace NaNs by 0 outside the brain) before running patch2loc."
        )
    if kind == "image":
        slope, inter = img.header.get_slope_inter()
        warn_int16_wrap(data, claims.dtype if slope in (None, 1.0) and not inter else np.float32, path, kind)
        data = clip_outliers(data, path, kind)
    data = data.astype(dtype, copy=False)
    if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):  # float64 beyond float32
        raise InputError(f"{path}: the {kind}'s values exceed the float32 range. Rescale and re-export it.")
    return Volume(data=data, affine=np.asarray(img.affine, dtype=np.float64), header=img.header, path=path)


def header_volume(path: str | os.PathLike) -> Volume:
    """A Volume with the file's affine and header but no voxels (to write outputs `like` it)."""
    import nibabel as nib

    nifti_claims(path)
    with quiet_nibabel():
        img = nib.load(str(path))
    return Volume(
        data=np.empty(0, np.float32), affine=np.asarray(img.affine, np.float64), header=img.header, path=str(path)
    )


def save_volume(
    data: np.ndarray, path: str | os.PathLike, *, like: Volume | None = None, affine: np.ndarray | None = None
) -> Path:
    """Write `data` as NIfTI atomically, with the affine and header of `like` when given."""
    import nibabel as nib

    if like is not None:
        affine = like.affine
    if affine is None:
        affine = np.eye(4)
    header = None
    if like is not None and like.header is not None:
        header = like.header.copy()
        header.set_data_dtype(data.dtype)
    img = nib.Nifti1Image(np.asarray(data), affine, header)
    if header is not None:
        # The data type and scaling of the template do not apply to the new data.
        img.header.set_slope_inter(None, None)
    with atomic_output(path) as tmp:
        nib.save(img, str(tmp))
    return Path(path)


@dataclass
class Case:
    """One subject after preprocessing: image, brain mask and (optional) lesion mask."""

    image: Volume
    mask: np.ndarray
    seg: np.ndarray | None = None


def brain_of(volume: Volume, mask: str | os.PathLike, fix: str) -> np.ndarray:
    """The brain (voxels > 0) of brain mask `mask` read as `volume`; one line naming it, with `fix`,
    when it is empty."""
    brain = volume.data > 0
    if not brain.any():
        raise InputError(f"{mask}: the brain mask is empty. {fix}")
    return brain


def load_case(image: str | os.PathLike, mask: str | os.PathLike, seg: str | os.PathLike | None = None) -> Case:
    """Load image + brain mask (+ lesion mask), checking that they belong together."""
    img = load_volume(image, kind="image")
    msk = load_volume(mask, kind="brain mask")
    if msk.data.shape != img.data.shape:
        raise InputError(
            f"{mask}: brain mask shape {msk.data.shape} differs from image {image} shape "
            f"{img.data.shape}. Use the mask produced for this image (same preprocessing)."
        )
    if not np.allclose(msk.affine, img.affine, atol=1e-3):
        raise InputError(
            f"{mask}: brain mask orientation/affine differs from image {image}. "
            "Resample the mask onto the image grid (or use the mask from the same preprocessing)."
        )
    brain = brain_of(msk, mask, "Re-run skull stripping for this subject.")
    warn_full_mask(brain, mask)
    inside = img.data[brain]
    if inside.min() == inside.max():  # e.g. an all-zero image: nothing to score, metrics meaningless
        raise InputError(
            f"{image}: the image is constant ({inside.min():g}) inside the brain mask {mask}. "
            "Check that you passed the right image (and that it was not zeroed by a bad export)."
        )
    lesion = None
    if seg is not None:
        s = load_volume(seg, kind="lesion mask")
        if s.data.shape != img.data.shape:
            raise InputError(
                f"{seg}: lesion mask shape {s.data.shape} differs from image {image} shape "
                f"{img.data.shape}. Use the segmentation preprocessed together with this image."
            )
        lesion = label_values(s.data, seg) > 0
    return Case(image=img, mask=brain, seg=lesion)


def write_csv(df, path: str | os.PathLike) -> None:
    """A pandas table as csv (no index), atomically."""
    with atomic_output(path) as tmp:
        df.to_csv(tmp, index=False)


def write_json(obj: dict, path: str | os.PathLike) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2))
