"""Entry points and crafted files of the hostile tests of round 6 (tests/cli/test_battery_round6.py): what a
child runs with `entry_call.py --call module:function JSON`. They import nothing but patch2loc, numpy and
nibabel (entry_call.py's folder is on the child's path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHAPE = (32, 32, 8)


def train_block(method: str, block: dict, data: str, out: str) -> None:
    """A method trained on data/train.csv and data/val.csv with its settings `block`, as the workflow's
    training rule (workflow/scripts/train_model.py) calls it."""
    from patch2loc.cli.train import read_pairs
    from patch2loc.registry import implementation

    pairs = [read_pairs(Path(data) / f"{split}.csv") for split in ("train", "val")]
    implementation(method).train_from_files(
        *pairs, block, Path(out) / "model", modality="T1", threads=1, progress=False
    )


def training_lists(folder: Path) -> Path:
    """Three tiny preprocessed-looking subjects and the train (2) and val (1) lists naming them."""
    from patch2loc.files.io import save_volume

    rng = np.random.default_rng(0)
    x, y, _ = np.meshgrid(*[np.linspace(-1, 1, s) for s in SHAPE], indexing="ij")
    mask = (x**2 + y**2 < 0.8).astype(np.uint8)
    rows = []
    for i in range(3):
        sub = folder / f"sub{i}"
        save_volume((rng.random(SHAPE) + x + 2 * y).astype(np.float32) * mask, sub / "image.nii.gz")
        save_volume(mask, sub / "mask.nii.gz")
        rows.append(f"{sub / 'image.nii.gz'},{sub / 'mask.nii.gz'}")
    (folder / "train.csv").write_text("image,mask\n" + "\n".join(rows[:2]) + "\n")
    (folder / "val.csv").write_text("image,mask\n" + rows[2] + "\n")
    return folder


def slab(scan: Path, mask: Path, to: Path, slices: int = 6) -> tuple[Path, Path]:
    """The scan and its mask kept on `slices` slices around the middle of the brain (zero elsewhere)."""
    import nibabel as nib

    img, brain = nib.load(scan), np.asarray(nib.load(mask).dataobj) > 0
    keep = np.zeros(img.shape, bool)
    middle = int(np.mean(np.nonzero(brain.any(axis=(0, 1)))[0]))
    keep[:, :, middle - slices // 2 : middle + slices - slices // 2] = True
    data = np.where(keep, np.asarray(img.dataobj, np.float32), 0).astype(np.float32)
    to.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, img.affine), to / "slab_T2w.nii.gz")
    nib.save(nib.Nifti1Image((keep & brain).astype(np.uint8), img.affine), to / "slab_mask.nii.gz")
    return to / "slab_T2w.nii.gz", to / "slab_mask.nii.gz"
