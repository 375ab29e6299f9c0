"""The QC record and the outputs of one preprocessed scan (preprocessing.pipeline's last step).

`Cropped` holds the atlas-box volumes cut or padded to target_shape; `scan_record` and
`volume_record` make qc.json's two parts; `write_outputs` writes every file, each atomically, and
removes those already written when one fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from patch2loc.data.layouts import RawScan
from patch2loc.files.io import save_volume
from patch2loc.files.staging import atomic_output
from patch2loc.preprocessing.atlas import Atlas
from patch2loc.preprocessing.corrections import affine_summary
from patch2loc.preprocessing.imaging import crop_or_pad, ras_affine, to_numpy


@dataclass(frozen=True)
class Cropped:
    """The atlas-box volumes cut or padded to target_shape (the image masked), and their affine."""

    image: np.ndarray
    mask: np.ndarray
    seg: np.ndarray | None
    affine: np.ndarray


def scan_record(scan: RawScan, native: sitk.Image, grid_notes: list, reg_qc: dict, transform) -> dict:
    """The QC record's scan and registration part."""
    return {
        "dataset": scan.dataset,
        "modality": scan.modality,
        "subject": scan.subject,
        "source": str(scan.image),
        "native_spacing": [float(v) for v in native.GetSpacing()],  # QC flags unusual voxel sizes
        "native_shape": list(native.GetSize()),
        "grid_resampled": grid_notes,  # masks moved onto the image grid (a fraction of a voxel off)
        "registration_metric": reg_qc["metric"],
        "registration_iterations": reg_qc["iterations"],
        "registration_stop": reg_qc["stop"],
        **affine_summary(transform),
    }


def volume_record(cropped: Cropped, atlas: Atlas, mask_a: sitk.Image, cfg) -> dict:
    """The QC record's part about the output volume: overlap with the atlas brain, volumes, intensities."""
    voxel_ml = float(np.prod(cfg.spacing)) / 1000.0
    atlas_np, _ = crop_or_pad(to_numpy(atlas.mask).astype(bool), cfg.target_shape)
    brain = cropped.mask.astype(bool)
    percentiles = np.percentile(cropped.image[brain], (1, 5, 50, 95, 99))
    return {
        "atlas_mask_dice": float(2 * (brain & atlas_np).sum() / max(1, brain.sum() + atlas_np.sum())),
        "brain_volume_ml": float(brain.sum() * voxel_ml),
        "brain_lost_to_crop_ml": float(to_numpy(mask_a).sum() * voxel_ml - brain.sum() * voxel_ml),
        "lesion_volume_ml": None if cropped.seg is None else float(cropped.seg.astype(bool).sum() * voxel_ml),
        "intensity_percentiles": {str(p): float(v) for p, v in zip((1, 5, 50, 95, 99), percentiles)},
        "shape": list(cropped.image.shape),
    }


def write_outputs(
    out_dir: Path, image_a, mask_a, cropped: Cropped, warp_mask, native, box, qc: dict, transform
) -> None:
    """Every output, each atomically; on any failure the ones already written are removed."""
    written: list[Path] = []
    try:
        # The atlas-box volume before the crop/pad: Nyul and the percentile division are computed
        # on the whole brain and the crop/pad comes last (normalize.normalize_scan).
        full_mask = to_numpy(mask_a).astype(np.uint8)
        box_affine = ras_affine(box)
        written.append(
            save_volume(
                to_numpy(image_a).astype(np.float32) * full_mask, out_dir / "uncropped.nii.gz", affine=box_affine
            )
        )
        written.append(save_volume(full_mask, out_dir / "uncropped_mask.nii.gz", affine=box_affine))
        written.append(save_volume(cropped.image, out_dir / "image.nii.gz", affine=cropped.affine))
        written.append(save_volume(cropped.mask, out_dir / "mask.nii.gz", affine=cropped.affine))
        # the skull-strip mask on the scan's own grid, before registration: the brain that
        # native-space scoring counts (evaluate.space: native)
        written.append(save_volume(to_numpy(warp_mask), out_dir / "native_mask.nii.gz", affine=ras_affine(native)))
        if cropped.seg is not None:
            written.append(save_volume(cropped.seg, out_dir / "seg.nii.gz", affine=cropped.affine))
        with atomic_output(out_dir / "qc.json") as tmp:
            tmp.write_text(json.dumps(qc, indent=1))
        written.append(out_dir / "qc.json")
        # atlas -> native affine; predict maps heatmaps back onto the native scan with its inverse
        with atomic_output(out_dir / "transform.tfm") as tmp:
            sitk.WriteTransform(transform, str(tmp))
        written.append(out_dir / "transform.tfm")
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
