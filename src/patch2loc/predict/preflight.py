"""Per-scan checks that come before any of the scan's compute (each a one-line InputError).

`check_headers` (headers only, before any model is loaded) and `check_voxels` (the voxels, no
compute) run them for one job of the plan against the call's `Limits` (made once, command.py).
- What the scan's files claim (claims.py), from their headers: see check_claims.
- Paths SimpleITK will open (with --from-run, or a DICOM series) must be valid UTF-8: SimpleITK
  aborts the whole process (SIGABRT) on any other, which would kill a folder batch and leave its
  0700 staging folder behind.
- --stride and --median-size must fit the grid the model scores (the run's target shape with
  --from-run, else the image header's shape): a stride of half a slice or more scores one column
  per slice, and a median filter wider than the slice filters padding.
- A raw scan (--from-run) that is constant everywhere, or whose brain mask is empty, has nothing to
  register: refused here instead of failing inside the registration with a C++ traceback.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from patch2loc.errors import InputError
from patch2loc.files.outputs import check_utf8_path, printable
from patch2loc.predict.budget import check_budget


@dataclass(frozen=True)
class Limits:
    """What one call holds each scan to: its method and checkpoints (the memory budget), and the
    scoring flags as that method applies them."""

    method: str
    checkpoints: tuple
    stride: int  # 1 for a method that ignores --stride: it scores every pixel
    median_size: int
    batch_size: int


def check_headers(job, chain, limits: Limits, patch_size: int | None = None) -> None:
    """The checks of one scan that read headers only (and budget.py's estimate): a scan refused here
    costs no model, no voxel and no torch import. `patch_size`: the loaded models' own, once known."""
    scan = job.scan
    if chain is not None or scan.is_dicom:  # SimpleITK opens these paths
        outputs = {f"--out ({name})": path for name, path in job.outputs.items()}
        check_paths_utf8({"--image": scan.image, "--mask": scan.mask, "--seg": scan.seg, **outputs})
    claims = check_claims(scan, chain is not None)
    check_flags_fit(model_grid(scan.image, chain), limits.stride, limits.median_size, scan.image)
    check_budget(
        scan,
        claims,
        chain,
        method=limits.method,
        checkpoints=list(limits.checkpoints),
        batch_size=limits.batch_size,
        stride=limits.stride,
        patch_size=patch_size,
        html=job.html is not None,
    )


def check_voxels(job, chain) -> None:
    """The checks of one scan that read its voxels, but compute nothing: a raw NIfTI scan (and the
    mask the chain is given) before its registration, and --seg's labels (checks/labels.py)."""
    if chain is not None and not job.scan.is_dicom:
        check_raw_scan(job.scan.image, job.scan.mask if job.strip == "provided" else None)
    if job.scan.seg is not None:
        from patch2loc.checks.labels import label_values  # numpy: not at `patch2loc --help`
        from patch2loc.files.io import load_volume  # numpy: not at `patch2loc --help`

        label_values(load_volume(job.scan.seg, kind="lesion mask").data, job.scan.seg)


def check_paths_utf8(paths: dict[str, Path | None]) -> None:
    for what, path in paths.items():
        if path is not None:
            check_utf8_path(path, what)


def model_grid(scan_image: Path, chain) -> tuple[int, ...] | None:
    """The shape the model scores for this scan; None when the header cannot tell (the scan's
    own reading then reports the problem)."""
    if chain is not None:
        shape = (chain.config.get("preprocess") or {}).get("target_shape")
        return tuple(int(s) for s in shape) if shape else None
    try:
        import nibabel as nib  # nibabel: not at `patch2loc --help`

        return tuple(int(s) for s in nib.load(str(scan_image)).shape[:3])
    except Exception:  # unreadable: load_case names the file with its own message
        return None


def check_flags_fit(shape: tuple[int, ...] | None, stride: int, median_size: int, what: Path) -> None:
    if shape is None or len(shape) < 2:
        return
    side = min(shape[0], shape[1])
    if stride > 1 and 2 * stride >= side:
        raise InputError(
            f"--stride {stride}: {printable(what)} is scored on a {shape[0]} x {shape[1]} slice grid; "
            f"the stride must be below half the slice side ({(side - 1) // 2} at most). Use a "
            "smaller --stride (1 scores every voxel)."
        )
    if median_size > side:
        raise InputError(
            f"--median-size {median_size}: {printable(what)} is scored on a {shape[0]} x {shape[1]} "
            f"slice grid; the filter must not be wider than the slice ({side} at most). Use a "
            "smaller --median-size."
        )


def check_raw_scan(image: Path, mask: Path | None) -> None:
    """A raw NIfTI scan about to be registered: not constant, and its brain mask not empty."""
    import numpy as np  # numpy: not at `patch2loc --help`

    from patch2loc.files.io import load_volume  # numpy: not at `patch2loc --help`

    data = load_volume(image).data
    low, high = float(data.min()), float(data.max())
    del data
    if low == high:
        raise InputError(
            f"{printable(image)}: the raw scan is constant ({low:g} everywhere), so there is nothing "
            "to register to the atlas. Check that you passed the right file (a bad export can "
            "zero a scan)."
        )
    if mask is not None and not np.any(load_volume(mask, kind="brain mask").data > 0):
        raise InputError(
            f"{printable(mask)}: the brain mask is empty. Pass this scan's brain mask, or use --skull-strip hdbet."
        )


def check_claims(scan, from_run: bool):
    """What the scan's files claim, checked before any compute (claims.py): regular files, sizes
    within PATCH2LOC_MAX_IMAGE_MB, one 3D volume of single numbers, voxel sizes > 0, a usable
    affine; for a raw scan also one geometry for nibabel and ITK (the native outputs must not mix
    two); the brain mask on the image's grid (from the headers: before 3.5 GB of a scan were read to
    find out); --seg on the scan's grid. A DICOM series: complete and evenly spaced (dicom.py); its
    --seg is checked once converted. Returns (image claims, mask claims), None where not NIfTI."""
    from patch2loc.checks.claims import check_orthogonal, nifti_claims  # numpy: not at `patch2loc --help`
    from patch2loc.predict.dicom import series_claims  # numpy: not at `patch2loc --help`
    from patch2loc.predict.geometry import check_same_geometry  # numpy, scipy: not at `patch2loc --help`

    image = mask = None
    if scan.is_dicom and from_run:
        image = series_claims(scan.image)
    elif not scan.is_dicom:
        image = nifti_claims(scan.image, "image")
        if from_run:
            check_orthogonal(image, scan.image)
            check_same_geometry(scan.image, image.affine)
    if scan.mask is not None:
        mask = nifti_claims(scan.mask, "brain mask")
        if image is not None:
            check_mask_grid(scan.mask, scan.image, mask, image, exact=not from_run)
    if scan.seg is not None and image is not None and not scan.is_dicom:
        check_seg_grid(scan.seg, scan.image, image)
    return image, mask


def check_mask_grid(mask_path: Path, image_path: Path, mask, image, exact: bool) -> None:
    """The brain mask lies on the image's grid: same shape and voxel sizes, and (for a
    preprocessed image, `exact`) the same affine; a raw scan's mask may be a fraction of a voxel
    off (the chain moves it: preprocessing/grid.py)."""
    import numpy as np  # numpy: not at `patch2loc --help`

    if mask.shape[:3] != image.shape[:3]:
        raise InputError(
            f"{mask_path}: brain mask shape {mask.shape[:3]} differs from image {image_path} shape "
            f"{image.shape[:3]} (from their headers; nothing was read). Use the mask produced for "
            "this image (same preprocessing)."
        )
    same = (
        np.allclose(mask.affine, image.affine, atol=1e-3)
        if exact
        else np.allclose(mask.zooms[:3], image.zooms[:3], rtol=1e-3)
    )
    if not same:
        raise InputError(
            f"{mask_path}: brain mask orientation/affine differs from image {image_path} (from their "
            "headers; nothing was read). Resample the mask onto the image grid (or use the mask from "
            "the same preprocessing)."
        )


def check_seg_grid(seg_path: Path, image_path: Path, image) -> None:
    """--seg must lie on the input scan's own grid (where the summary's metrics are computed)."""
    import numpy as np  # numpy: not at `patch2loc --help`

    from patch2loc.checks.claims import nifti_claims  # numpy: not at `patch2loc --help`

    seg = nifti_claims(seg_path, "lesion mask (--seg)")
    if seg.shape[:3] != image.shape[:3] or not np.allclose(seg.affine, image.affine, atol=1e-3):
        raise InputError(
            f"{seg_path}: --seg grid {seg.shape[:3]} differs from the scan's {image.shape[:3]} (or its "
            f"affine does) of {image_path}. Give the ground truth on the input scan's own grid."
        )


def check_checkpoint_fits(
    ckpt: dict, checkpoint: str, modality: str | None, shape: tuple | None, allow_mismatch: bool
) -> None:
    """A model trained on another modality or grid: error, or a warning with --allow-mismatch."""
    from patch2loc.run.checkpoint import checkpoint_grid, checkpoint_modality  # torch: not at `patch2loc --help`

    problems = []
    trained = checkpoint_modality(ckpt)
    if modality and trained and trained != modality:
        problems.append(f"it was trained on {trained} scans, not {modality}")
    grid = checkpoint_grid(ckpt)
    if shape is not None and grid is not None and grid != tuple(shape):
        problems.append(
            f"it was trained on volumes of shape {grid}, the image has {tuple(shape)} "
            "(scores are only comparable on the same preprocessing grid)"
        )
    if not problems:
        return
    text = f"{checkpoint}: {'; '.join(problems)}."
    if not allow_mismatch:
        raise InputError(f"{text} Use a checkpoint for this modality and grid, or pass --allow-mismatch.")
    warnings.warn(text, stacklevel=2)
