"""Native-space scoring (`evaluate.space: native`): a lesion-set volume scored on the scan's own grid.

- the map: the post-processed atlas-space map taken back through the inverse of the scan's
  registration (`scoring.native.native_map`, the call `patch2loc predict --from-run` makes for
  S_native.nii.gz, so the workflow scores the very map predict gives a user);
- the ground truth: the dataset's raw label file as delivered, its label values kept and never
  interpolated (a file a fraction of a voxel off the scan's grid is taken by the whole-voxel shift
  preprocessing applies too, `preprocessing.grid.onto_image_grid`);
- the brain: the skull-strip mask on the scan's grid, before registration, which preprocessing
  keeps as `native_mask.nii.gz`.

Atlas space (`space: atlas`, the authors' protocol) scores the preprocessed map against a ground
truth resampled by nearest neighbour after the affine registration, inside the atlas-space mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patch2loc.data.layouts import raw_paths
from patch2loc.checks.labels import label_values
from patch2loc.errors import InputError
from patch2loc.files.io import header_volume, load_volume
from patch2loc.scoring.native import native_map


@dataclass(frozen=True)
class NativeFiles:
    """One scan's files for native-space scoring."""

    image: str  # the raw scan: its grid is the one scored
    seg: str  # the raw label file
    mask: str  # preprocessing's native_mask.nii.gz
    transform: str  # preprocessing's transform.tfm (atlas -> native)

    @classmethod
    def of_raw(cls, dataset: str, raw_root: str, subject: str, contrast: str, mask, transform) -> "NativeFiles":
        """A lesion-set scan's files: its raw image and labels where the dataset's raw layout keeps them,
        with preprocessing's native mask and transform (rule score_lesions and the seed study)."""
        raw = raw_paths(dataset, raw_root, subject, contrast)
        return cls(str(raw.image), str(raw.seg), str(mask), str(transform))


@dataclass
class NativeVolume:
    score: np.ndarray  # float32, the native map (0 outside the atlas brain taken back)
    labels: np.ndarray  # the raw label values, int, [X, Y, Z]
    brain: np.ndarray  # bool
    spacing: np.ndarray  # mm per voxel axis, x y z


def native_labels(image: str, seg: str) -> np.ndarray:
    """The raw label file's values on the scan's grid, as int32 whole numbers ([X, Y, Z]; checks/labels.py)."""
    from patch2loc.preprocessing.grid import onto_image_grid
    from patch2loc.preprocessing.imaging import read_image, to_numpy

    on_grid, _ = onto_image_grid(read_image(image, "image"), read_image(seg, "lesion mask"), image, seg, "lesion mask")
    return label_values(to_numpy(on_grid), seg)


def load_native(
    files: NativeFiles, score: np.ndarray, atlas_mask: np.ndarray, atlas_affine: np.ndarray
) -> NativeVolume:
    """The atlas-space post-processed `score` (with its brain mask and affine) and the scan's files
    -> everything native-space metrics need."""
    native_score, _ = native_map(score, atlas_mask, atlas_affine, files.transform, files.image)
    labels = native_labels(files.image, files.seg)
    brain = load_volume(files.mask, kind="brain mask").data > 0
    if brain.shape != labels.shape or native_score.shape != labels.shape:
        raise InputError(
            f"{files.mask}: native brain mask shape {brain.shape} differs from scan {files.image} shape "
            f"{labels.shape}. Preprocess the scan again (delete its preprocessed folder)."
        )
    spacing = np.linalg.norm(header_volume(files.image).affine[:3, :3], axis=0)
    return NativeVolume(native_score, labels, brain, spacing)
