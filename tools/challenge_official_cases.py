"""The volumes of the official-code comparison (tools/challenge_official.py), written as NIfTI.

Each case is one lesion geometry on one grid, written the way each challenge's code reads it:
- `wmh.nii.gz`: float32 labels, 1 = lesion, 2 = "other pathology" (the WMH script thresholds the
  label image with SimpleITK, which casts the bounds to an integer pixel type: float avoids that);
- `truth.nii.gz`: uint8, every lesion voxel 1 (ISLES'22);
- `brats21.nii.gz`: int16 BraTS 2021 labels (1 necrotic core, 2 oedema, 4 enhancing tumour), what
  patch2loc reads; `brats23.nii.gz`: the same with 4 relabelled 3, what BraTS 2023's metrics.py reads;
- `pred.nii.gz`: uint8 0/1, the thresholded map; `pred_brats.nii.gz`: 3 where predicted, so that
  metrics.py's regions (WT 1-3, TC 1 and 3, ET 3) all see the one mask, as patch2loc scores it.

Kinds: `small` (8-20 voxels a side, spacings drawn from 0.9, 1 and 3 mm per axis, 0-3 box lesions
(a quarter without), each box a shell of oedema around enhancing tumour around a core when it is
thick enough, the prediction a shifted and thinned truth (a fifth empty) with extra blobs, label-2
boxes in half) and `tumour` (64 x 64 x 48, an ellipsoid tumour of radii 20, 16, 12 voxels with a
rough edge and nested regions, the prediction a smaller offset ellipsoid plus smooth noise above its
97th percentile: a tumour-sized surface against thousands of predicted surface elements). The first
small cases are the edge cases: a truth filling whole slices (no in-plane boundary), an empty truth,
an empty prediction, both empty.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

SPACINGS = (0.9, 1.0, 3.0)
TUMOUR_SPACINGS = ((1.0, 1.0, 1.0), (0.9375, 0.9375, 1.5), (0.9, 1.0, 3.0), (1.2, 1.2, 1.2))
EDGE_CASES = ("whole_slices", "empty_truth", "empty_pred", "both_empty")


def _nested(labels: np.ndarray, box: tuple[slice, ...], rng) -> None:
    """A box lesion: oedema (2), inside it enhancing tumour (4) and a necrotic core (1) where thick enough."""
    labels[box] = 2
    inner = tuple(slice(s.start + 1, s.stop - 1) for s in box)
    if all(s.stop - s.start >= 1 for s in inner) and rng.random() < 0.8:
        labels[inner] = 4
        core = tuple(slice(s.start + 1, s.stop - 1) for s in inner)
        if all(s.stop - s.start >= 1 for s in core) and rng.random() < 0.7:
            labels[core] = 1


def small_case(rng, edge: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """(BraTS 2021 labels, WMH label 2 mask, prediction, spacing) of one small random case."""
    shape = tuple(int(n) for n in rng.integers(8, 21, 3))
    spacing = tuple(float(rng.choice(SPACINGS)) for _ in range(3))
    labels = np.zeros(shape, np.int16)
    boxes = 0 if rng.random() < 0.25 or edge in (*EDGE_CASES[:2], "both_empty") else int(rng.integers(1, 4))
    for _ in range(boxes):
        start = [int(rng.integers(0, n - 1)) for n in shape]
        size = [int(rng.integers(1, max(2, n // 2))) for n in shape]
        _nested(labels, tuple(slice(a, min(a + s, n)) for a, s, n in zip(start, size, shape)), rng)
    if edge == "whole_slices":
        labels[:, :, shape[2] // 2 : shape[2] // 2 + 2] = 2
    lesion = labels > 0
    shift = tuple(int(s) for s in rng.integers(-2, 3, 3))
    pred = np.roll(lesion, shift, axis=(0, 1, 2)) & (rng.random(shape) < 0.85)
    for _ in range(int(rng.integers(0, 4))):
        corner = [int(rng.integers(0, n)) for n in shape]
        pred[tuple(slice(c, c + int(rng.integers(1, 3))) for c in corner)] = True
    if edge in ("empty_pred", "both_empty") or (edge is None and rng.random() < 0.2):
        pred[:] = False
    other = np.zeros(shape, bool)
    if rng.random() < 0.5:
        corner = [int(rng.integers(0, n)) for n in shape]
        other[tuple(slice(c, c + int(rng.integers(1, 4))) for c in corner)] = True
        other &= ~lesion
    return labels, other, pred, spacing


def tumour_case(rng, spacing) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """(BraTS 2021 labels, WMH label 2 mask, prediction, spacing) of one tumour-sized case."""
    shape = (64, 64, 48)
    grid = np.indices(shape).astype(float)

    def ellipsoid(centre, radii, rough=0.15):
        noise = ndimage.gaussian_filter(rng.standard_normal(shape), 3)
        return sum(((grid[i] - centre[i]) / radii[i]) ** 2 for i in range(3)) + rough * noise / noise.std()

    tumour = ellipsoid((32, 32, 24), (20, 16, 12))
    labels = np.zeros(shape, np.int16)
    labels[tumour < 1] = 2
    labels[tumour < 0.45] = 4
    labels[tumour < 0.2] = 1
    scattered = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    pred = (scattered > np.percentile(scattered, 97)) | (ellipsoid((34, 30, 25), (14, 12, 9)) < 1)
    other = (ellipsoid((12, 12, 10), (4, 4, 3), rough=0) < 1) & (labels == 0)
    return labels, other, pred, spacing


def _save(array: np.ndarray, path: Path, spacing, dtype) -> None:
    nib.save(nib.Nifti1Image(array.astype(dtype), np.diag([*spacing, 1.0])), str(path))


def write_case(folder: Path, labels: np.ndarray, other: np.ndarray, pred: np.ndarray, spacing) -> None:
    """The case's files (module docstring) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    _save(np.where(other, 2, labels > 0), folder / "wmh.nii.gz", spacing, np.float32)
    _save(labels > 0, folder / "truth.nii.gz", spacing, np.uint8)
    _save(labels, folder / "brats21.nii.gz", spacing, np.int16)
    _save(np.where(labels == 4, 3, labels), folder / "brats23.nii.gz", spacing, np.int16)
    _save(pred, folder / "pred.nii.gz", spacing, np.uint8)
    _save(np.where(pred, 3, 0), folder / "pred_brats.nii.gz", spacing, np.uint8)


def write_cases(root: Path, n_small: int, n_tumour: int, seed: int) -> list[dict]:
    """Write every case under `root`; [{id, kind, folder}] in order."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n_small):
        edge = EDGE_CASES[i] if i < len(EDGE_CASES) else None
        cases.append({"id": f"small{i:03d}", "kind": edge or "small", "make": lambda e=edge: small_case(rng, e)})
    for i in range(n_tumour):
        spacing = TUMOUR_SPACINGS[i % len(TUMOUR_SPACINGS)]
        cases.append({"id": f"tumour{i:03d}", "kind": "tumour", "make": lambda s=spacing: tumour_case(rng, s)})
    for case in cases:
        case["folder"] = str(root / case["id"])
        write_case(Path(case["folder"]), *case.pop("make")())
    return cases
