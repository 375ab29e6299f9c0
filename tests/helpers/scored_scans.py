"""Small random scans with a brain mask and a lesion mask, saved as NIfTI, for the dataset scoring
jobs (score_healthy, score_lesions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patch2loc.evaluation.dataset.score_dataset import Scan
from patch2loc.files.io import save_volume


def saved_scans(folder: Path, names: list[str], seed: int, brighter_from: int | None = None) -> list[Scan]:
    """One Scan per name: a random 16 x 16 x 6 image (seeded), a 12 x 12 x 4 brain and a 4 x 4 x 2
    lesion, saved under folder/s{i}/. From scan `brighter_from` on, the lesion is 0.5 brighter."""
    rng = np.random.default_rng(seed)
    scans = []
    for i, name in enumerate(names):
        image = rng.random((16, 16, 6)).astype(np.float32)
        mask = np.zeros(image.shape, np.uint8)
        mask[2:14, 2:14, 1:5] = 1
        seg = np.zeros(image.shape, np.uint8)
        seg[5:9, 5:9, 2:4] = 1
        if brighter_from is not None and i >= brighter_from:
            image[seg > 0] += 0.5
        arrays = ((image, "image.nii.gz"), (mask, "mask.nii.gz"), (seg, "seg.nii.gz"))
        scans.append(Scan(name, *[str(save_volume(a, folder / f"s{i}" / n)) for a, n in arrays]))
    return scans
