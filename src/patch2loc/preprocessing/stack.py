"""A subject's contrasts stacked as channels: the input of a model of several contrasts (docs/multimodal.md).

Each contrast is preprocessed and Nyul-normalised on its own (its own registration to the atlas, its
own landmarks); the stack is one 4-D NIfTI `[X, Y, Z, C]` on the shared atlas grid, channels in the
input's order (the first is the reference), with one brain mask: the voxels every contrast's mask
holds, so that no channel is read outside its own brain. The lesion mask is the reference's.
`load_stacked_case` reads a stack back as `[C, X, Y, Z]`, the models' channel layout.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from patch2loc.checks.labels import label_values
from patch2loc.errors import InputError
from patch2loc.files.io import Case, Volume, brain_of, load_case, load_volume, save_volume
from patch2loc.files.staging import atomic_output

Paths = list[str | os.PathLike]


def stack_contrasts(
    images: Paths, masks: Paths, out_image, out_mask, seg=None, out_seg=None, contrasts=None, labels=None,
    tissue_order: bool = True,
) -> dict:  # fmt: skip
    """Write the stack of one subject's normalised contrasts (and its mask, and its seg copied);
    every contrast must be on the first's grid. `contrasts` (their names, the reference first): the
    channels are checked first (checks.contrasts.check_channels; `labels` name them in a refusal,
    default the images' paths). Returns {voxels of each mask, of the stack's, and the channels' checks}."""
    cases = [load_case(i, m) for i, m in zip(images, masks, strict=True)]
    first = cases[0].image
    for path, case in zip(images[1:], cases[1:]):
        if case.image.data.shape != first.data.shape or not np.allclose(case.image.affine, first.affine, atol=1e-3):
            raise InputError(
                f"{path}: grid {case.image.data.shape} differs from the reference contrast's {images[0]} "
                f"{first.data.shape} (or its affine does). Preprocess every contrast to the same atlas and target_shape."
            )
    mask = np.logical_and.reduce([c.mask for c in cases])
    if not mask.any():
        raise InputError(
            f"{masks[0]}: the contrasts' brain masks {list(map(str, masks))} share no voxel. Check their registration."
        )
    checked = None
    if contrasts is not None:
        from patch2loc.checks.contrasts import check_channels

        checked = check_channels(
            [c.image.data for c in cases], [c.mask for c in cases], list(contrasts),
            list(labels or map(str, images)), tissue_order,
        )  # fmt: skip
    stack = np.stack([c.image.data for c in cases], axis=-1).astype(np.float32)
    outputs = [out_image, out_mask] + ([out_seg] if out_seg else [])
    try:  # all or nothing: a failed write leaves none of them
        save_volume(stack, out_image, like=first)
        save_volume(mask.astype(np.uint8), out_mask, like=first)
        if out_seg:
            with atomic_output(out_seg) as tmp:
                shutil.copyfile(seg, tmp)
    except BaseException:
        for path in outputs:
            Path(path).unlink(missing_ok=True)
        raise
    counts = {"mask_voxels": [int(c.mask.sum()) for c in cases], "stack_voxels": int(mask.sum())}
    return counts if checked is None else {**counts, "channels": checked}


def load_stack_volume(path: str | os.PathLike) -> Volume:
    """A stack as a Volume with data `[C, X, Y, Z]` (a 3-D file: C = 1); InputError naming the file."""
    import nibabel as nib

    from patch2loc.checks.claims import quiet_nibabel

    with quiet_nibabel():
        img = nib.load(str(path))
    if len(img.shape) == 3:
        volume = load_volume(path)
        return Volume(volume.data[None], volume.affine, volume.header, volume.path)
    if len(img.shape) != 4 or not 1 <= img.shape[3] <= 16:
        raise InputError(f"{path}: expected a stack of 1 to 16 contrasts [X, Y, Z, C], got shape {img.shape}.")
    data = np.moveaxis(np.asarray(img.dataobj, dtype=np.float32), -1, 0)
    if not np.all(np.isfinite(data)):
        raise InputError(f"{path}: the stack contains NaN or infinite values. Re-run its normalisation.")
    return Volume(np.ascontiguousarray(data), np.asarray(img.affine, np.float64), img.header, str(path))


def is_stack(path: str | os.PathLike) -> bool:
    """Whether a NIfTI holds several channels (a 4th axis longer than 1), from its header alone."""
    import nibabel as nib

    from patch2loc.checks.claims import quiet_nibabel

    try:
        with quiet_nibabel():
            shape = nib.load(str(path)).shape
    except Exception:  # unreadable: load_case's one-line error names it
        return False
    return len(shape) == 4 and shape[3] > 1


def load_stacked_case(image: str | os.PathLike, mask: str | os.PathLike) -> Case:
    """A stack and its brain mask: the image `[C, X, Y, Z]`, the mask `[X, Y, Z]` (checked as load_case's)."""
    volume = load_stack_volume(image)
    brain = load_volume(mask, kind="brain mask")
    if brain.data.shape != volume.data.shape[1:] or not np.allclose(brain.affine, volume.affine, atol=1e-3):
        raise InputError(
            f"{mask}: brain mask grid {brain.data.shape} differs from the stack {image} {volume.data.shape[1:]}. "
            "Use the mask written with this stack."
        )
    return Case(image=volume, mask=brain_of(brain, mask, "Re-run the stacking of this subject."))


def load_any_case(image: str | os.PathLike, mask: str | os.PathLike, seg: str | os.PathLike | None = None) -> Case:
    """One contrast (`load_case`) or a stack of several (`load_stacked_case`, image `[C, X, Y, Z]`), with
    the lesion mask when given (on the mask's grid): how the workflow, training and predict read a case."""
    if not is_stack(image):
        return load_case(image, mask, seg)
    case = load_stacked_case(image, mask)
    if seg is not None:
        lesion = load_volume(seg, kind="lesion mask").data
        if lesion.shape != case.mask.shape:
            raise InputError(
                f"{seg}: lesion mask shape {lesion.shape} differs from the stack {image} {case.mask.shape}. "
                "Use the segmentation preprocessed with this stack's reference contrast."
            )
        case.seg = label_values(lesion, seg) > 0
    return case
