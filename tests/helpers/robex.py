"""A stand-in for ROBEX (skullstrip.run_robex) that thresholds the image and records the scans it saw."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from patch2loc.preprocessing import skullstrip


def fake_robex(monkeypatch) -> list[str]:
    """Replace skullstrip.run_robex for the test; the returned list gets each stripped file's name."""
    calls: list[str] = []

    def run(image, out_mask, *, seed=0):
        calls.append(Path(image).name)
        img = nib.load(str(image))
        nib.save(nib.Nifti1Image((np.asarray(img.dataobj) > 0).astype(np.uint8), img.affine), str(out_mask))
        return Path(out_mask)

    monkeypatch.setattr(skullstrip, "run_robex", run)
    return calls
