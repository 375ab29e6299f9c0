"""SimpleITK chain that brings one raw scan into atlas space (paper §4, METHOD.md).

    resample to cfg.spacing -> skull strip -> affine registration to the atlas brain ->
    cut to the atlas brain's bounding box -> masked N4 -> centred crop/pad to target_shape

Design choices:
- The registration is estimated on the resampled, skull-stripped image, but the image, brain mask
  and lesion mask are then warped straight from their native grids (one interpolation, not two):
  image linear, masks nearest neighbour.
- The output grid is the atlas resampled to cfg.spacing and cut to the bounding box of the
  ATLAS's brain mask. Every subject gets the same box, so a given slice index is the same
  anatomical level in every volume (the model is told the slice position).
- N4 runs on a shrunk copy (speed) inside the brain mask; the fitted bias field is evaluated and
  divided out at full resolution.
- Everything is written with the output grid's RAS affine (atlas space), and nothing is written
  until every step succeeded.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from patch2loc.checks.labels import label_values
from patch2loc.preprocessing.atlas import Atlas, load_atlas
from patch2loc.data.layouts import RawScan, binarize_seg
from patch2loc.preprocessing.corrections import n4_correct, register_affine
from patch2loc.preprocessing.grid import onto_image_grid
from patch2loc.preprocessing.imaging import (
    crop_or_pad,
    ras_affine,
    read_image,
    resample_to_spacing,
    shift_affine,
    to_numpy,
)
from patch2loc.errors import InputError
from patch2loc.preprocessing.records import Cropped, scan_record, volume_record, write_outputs
from patch2loc.preprocessing.skullstrip import strip
from patch2loc.run.settings import config_from_dict

SKULL_STRIP = ("none", "provided", "hdbet", "robex")


@dataclass(frozen=True)
class PreprocessConfig:
    """Every knob of the chain; defaults are the paper's (1 mm, 192 x 192 x 100)."""

    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    skull_strip: str = "provided"  # none (already stripped: mask = image > 0) | provided | hdbet | robex
    target_shape: tuple[int, int, int] = (192, 192, 100)
    # affine registration: Mattes mutual information, 3 resolution levels
    # Shrink factors and smoothing sigmas are those of 1 mm voxels: at spacing s the factor is
    # round(f / s) (>= 1) and the sigmas are in mm, so a 3 mm demo keeps comparable smoothing.
    reg_shrink: tuple[int, ...] = (4, 2, 1)
    reg_smoothing: tuple[float, ...] = (2.0, 1.0, 0.0)  # Gaussian sigma (mm)
    reg_iterations: int = 200
    reg_step: float = 2.0  # initial step (mm) of the regular-step gradient descent
    reg_bins: int = 50
    reg_sampling: float = 0.25  # fraction of voxels sampled by the metric
    # N4 bias field correction (authors: 4 levels x 200 iterations, tolerance 5e-4, masked)
    n4_iterations: tuple[int, ...] = (200, 200, 200, 200)
    n4_tolerance: float = 5e-4
    n4_shrink: int = 4  # lowered automatically for small images (see corrections._n4_shrink)
    hdbet_device: str = "cuda"  # HD-BET outside the workflow (predict); its command: skullstrip.HDBET_COMMAND
    wmh_other_pathology: bool = True  # WMH label 2 counts as lesion (datasets.binarize_seg)
    seed: int = 3141

    def __post_init__(self) -> None:
        if self.skull_strip not in SKULL_STRIP:
            raise ValueError(f"skull_strip must be one of {SKULL_STRIP}, got {self.skull_strip!r}")
        if len(self.reg_shrink) != len(self.reg_smoothing):
            raise ValueError("reg_shrink and reg_smoothing need one entry per resolution level")

    @classmethod
    def from_config(cls, preprocess: dict, **overrides) -> "PreprocessConfig":
        """Build from the workflow config's `preprocess:` block (+ e.g. skull_strip=...); an
        unknown key is an error (settings.config_from_dict)."""
        return config_from_dict(
            cls,
            {**preprocess, **overrides},
            "preprocess settings",
            ("spacing", "target_shape", "reg_shrink", "reg_smoothing", "n4_iterations"),
        )


# --------------------------------------------------------------------------- the steps


def skull_strip(
    image: sitk.Image,
    scan: RawScan,
    cfg: PreprocessConfig,
    native: sitk.Image,
    brain_mask: str | os.PathLike | None = None,
    notes: list | None = None,
) -> tuple[sitk.Image, sitk.Image]:
    """Brain mask (uint8) on `image`'s grid, and the mask on the native grid (for warping).

    `brain_mask`: a mask already made for this scan on its native grid (the workflow's skull-strip
    rules write one for hdbet and robex); otherwise hdbet/robex run here, on the native scan.
    A mask a fraction of a voxel off the native grid is moved onto it (grid.onto_image_grid); the
    record of the move is appended to `notes`.
    """
    if cfg.skull_strip == "none":
        mask = sitk.Cast(image > 0, sitk.sitkUInt8)
        return mask, sitk.Cast(native > 0, sitk.sitkUInt8)
    if brain_mask is None and cfg.skull_strip == "provided":
        if scan.mask is None:
            raise InputError(
                f"{scan.dataset}: no brain mask is provided for {scan.subject}; use "
                "skull_strip: robex or hdbet (or none for already-stripped scans)."
            )
        brain_mask = scan.mask
    if brain_mask is None:  # hdbet / robex outside the workflow (e.g. patch2loc predict)
        options = {"device": cfg.hdbet_device} if cfg.skull_strip == "hdbet" else {"seed": cfg.seed}
        with tempfile.TemporaryDirectory(prefix="skullstrip-") as tmp:
            made = strip(cfg.skull_strip, scan.image, Path(tmp) / "brainmask.nii.gz", **options)
            native_mask = read_image(made, "brain mask")
    else:
        native_mask = read_image(brain_mask, "brain mask")
    native_mask, moved = onto_image_grid(
        native, native_mask, scan.image, brain_mask or "skull-strip output", "brain mask"
    )
    if moved and notes is not None:
        notes.append(moved)
    native_mask = sitk.Cast(native_mask > 0, sitk.sitkUInt8)
    return _on_grid(native_mask, image), native_mask


def _on_grid(mask: sitk.Image, grid: sitk.Image) -> sitk.Image:
    return sitk.Resample(mask, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


# ------------------------------------------------------------------------------- the chain


def preprocess_scan(
    scan: RawScan,
    atlas_image: str | os.PathLike,
    atlas_mask: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    cfg: PreprocessConfig = PreprocessConfig(),
    brain_mask: str | os.PathLike | None = None,
) -> dict:
    """Run the chain on one scan; write out_dir/{image,mask[,seg]}.nii.gz, qc.json, transform.tfm
    (the atlas -> native affine, for mapping results back onto the scan) and native_mask.nii.gz (the
    skull-strip brain mask on the scan's own grid, uint8; native-space scoring counts its voxels).

    `brain_mask`: a skull-strip mask made beforehand on the scan's native grid (see skull_strip).

    Also writes uncropped{,_mask}.nii.gz (the atlas box before the crop/pad), which the Nyul
    normalisation uses so that crop/pad is the chain's last step.
    Returns the QC record (also in qc.json). Nothing is left in out_dir if any step fails.
    The steps: read_step, strip_step, register_step, correct_step, crop_step; then the records.
    """
    t0 = time.perf_counter()
    atlas = load_atlas(atlas_image, atlas_mask, cfg.spacing)
    native, native_seg, grid_notes = read_step(scan, cfg)
    resampled, mask, warp_mask = strip_step(native, scan, cfg, brain_mask, grid_notes)
    t_strip = time.perf_counter()
    transform, reg_qc, warped, image_a, mask_a = register_step(atlas, resampled, mask, native, warp_mask, scan, cfg)
    t_reg = time.perf_counter()
    image_a = correct_step(image_a, mask_a, cfg)
    t_n4 = time.perf_counter()
    cropped = crop_step(image_a, mask_a, None if native_seg is None else warped.mask(native_seg), atlas.brain, cfg)
    seconds = {"skull_strip": t_strip - t0, "registration": t_reg - t_strip, "n4": t_n4 - t_reg}
    qc = {
        **scan_record(scan, native, grid_notes, reg_qc, transform),
        **volume_record(cropped, atlas, mask_a, cfg),
        "seconds": {**{k: round(v, 2) for k, v in seconds.items()}, "total": round(time.perf_counter() - t0, 2)},
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
    }
    write_outputs(Path(out_dir), image_a, mask_a, cropped, warp_mask, native, atlas.brain, qc, transform)
    return qc


def strip_step(native: sitk.Image, scan: RawScan, cfg: PreprocessConfig, brain_mask, grid_notes: list):
    """(the scan resampled to cfg.spacing, its brain mask there, the brain mask on the native grid)."""
    resampled = resample_to_spacing(native, cfg.spacing)
    mask, warp_mask = skull_strip(resampled, scan, cfg, native, brain_mask, grid_notes)
    if not sitk.GetArrayViewFromImage(mask).any():
        raise InputError(f"{scan.mask or scan.image}: the brain mask is empty; check the skull strip.")
    return resampled, mask, warp_mask


def register_step(atlas: Atlas, resampled, mask, native, warp_mask, scan: RawScan, cfg: PreprocessConfig):
    """The affine registration of the stripped scan to the atlas brain (transform, its QC, the warp),
    and the native image and brain mask warped onto the atlas box."""
    transform, reg_qc = register_affine(atlas.brain, sitk.Mask(resampled, mask), cfg)
    warped = _Warped(atlas.brain, transform)
    image_a, mask_a = warped.image(native), warped.mask(warp_mask)
    if not sitk.GetArrayViewFromImage(mask_a).any():
        raise InputError(
            f"{scan.image}: the brain lies outside the atlas box after registration; "
            "check the scan's orientation header and the qc of this subject."
        )
    return transform, reg_qc, warped, image_a, mask_a


def correct_step(image_a: sitk.Image, mask_a: sitk.Image, cfg: PreprocessConfig) -> sitk.Image:
    """Masked N4 bias-field correction on the atlas box."""
    return n4_correct(image_a, mask_a, cfg.n4_iterations, cfg.n4_tolerance, cfg.n4_shrink)


def read_step(scan: RawScan, cfg: PreprocessConfig) -> tuple[sitk.Image, sitk.Image | None, list]:
    """The scan (negatives clamped: magnitude images), its binary lesion mask on the scan's grid (or
    None), and the notes of masks moved onto that grid."""
    native = sitk.Clamp(read_image(scan.image, "image"), lowerBound=0.0)
    native_seg, grid_notes = None, []
    if scan.seg is not None:
        # Metrics are computed against this mask on the image grid: a ground truth a fraction of a
        # voxel off is moved onto it (nearest neighbour), anything else stops.
        native_seg, moved = onto_image_grid(
            native, read_image(scan.seg, "lesion mask"), scan.image, scan.seg, "lesion mask"
        )
        grid_notes += [moved] if moved else []
        labels = label_values(sitk.GetArrayViewFromImage(native_seg), scan.seg)  # whole numbers, or refused
        lesion = binarize_seg(scan.dataset, labels, wmh_other_pathology=cfg.wmh_other_pathology)
        native_seg = sitk.GetImageFromArray(lesion.astype(np.uint8))
        native_seg.CopyInformation(native)
    return native, native_seg, grid_notes


@dataclass(frozen=True)
class _Warped:
    """Native-grid images onto the atlas box, straight from their own grids (one interpolation)."""

    box: sitk.Image
    transform: sitk.Transform

    def image(self, img: sitk.Image) -> sitk.Image:
        return sitk.Resample(img, self.box, self.transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)

    def mask(self, img: sitk.Image) -> sitk.Image:
        return sitk.Resample(img, self.box, self.transform, sitk.sitkNearestNeighbor, 0.0, sitk.sitkUInt8)


def crop_step(image_a: sitk.Image, mask_a: sitk.Image, seg_a: sitk.Image | None, box: sitk.Image, cfg) -> Cropped:
    """The atlas-box volumes cut or padded to target_shape, the image masked, with their affine."""
    image_np, offset = crop_or_pad(to_numpy(image_a).astype(np.float32), cfg.target_shape)
    mask_np, _ = crop_or_pad(to_numpy(mask_a).astype(np.uint8), cfg.target_shape)
    image_np *= mask_np
    seg_np = None if seg_a is None else crop_or_pad(to_numpy(seg_a).astype(np.uint8), cfg.target_shape)[0]
    return Cropped(image_np, mask_np, seg_np, shift_affine(ras_affine(box), offset))
