"""A `--from-run` folder whose preprocessing is a copy (for tests of what predict does around it).

`fake_run` writes the files `RunChain.open` needs (config, landmarks, an atlas placeholder) for
the grid of `helpers.safety.make_case`; `fake_prepare` stands in for `RunChain.prepare`: it
copies the case's image and mask into the staging folder as the "normalised" scan and writes an
identity transform, so the native-space step maps the heatmap back onto the same grid. The
registration itself is tested elsewhere (test_predict_tool, slow); here it would cost 30 s.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import yaml

from tests.helpers.safety import SHAPE, make_case, placeholder_atlas, predict_argv


def fake_run(workdir: Path) -> Path:
    run = workdir / "results" / "r"
    (run / "landmarks").mkdir(parents=True)
    # [2, L]: the fitted landmarks and the increasing standard scale (what fit_landmarks saves)
    np.save(run / "landmarks" / "T1.npy", np.vstack([np.linspace(1, 100, 11), [1, *range(10, 100, 10), 99]]))
    placeholder_atlas(run / "atlas" / "image.nii.gz")  # layout.atlas_image; fake_prepare never reads it
    cfg = {
        "preprocess": {"spacing": [1.0, 1.0, 1.0], "target_shape": list(SHAPE)},
        "normalize": {"percentile": 98},
        "heatmap": {"median_size": 3},
    }
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
    return run


def fake_prepare(self, image, mask, out_dir, subject, skull_strip=None):
    import SimpleITK as sitk

    import nibabel as nib

    out_dir = Path(out_dir)
    shutil.copy(image, out_dir / "normalized.nii.gz")
    if mask is None:  # --skull-strip none: the brain is where the scan is above 0
        img = nib.load(image)
        nib.save(nib.Nifti1Image((np.asarray(img.dataobj) > 0).astype(np.uint8), img.affine), out_dir / "mask.nii.gz")
    else:
        shutil.copy(mask, out_dir / "mask.nii.gz")
    sitk.WriteTransform(sitk.AffineTransform(3), str(out_dir / "transform.tfm"))
    return out_dir / "normalized.nii.gz", out_dir / "mask.nii.gz"


def from_run_argv(run: Path, c: dict, out: Path, *extra: str, image: Path | None = None) -> list[str]:
    """predict --from-run: the shared argv (safety.predict_argv) with the run folder."""
    return predict_argv(c, out, *extra, image=image, from_run=run)


def no_compute(*args, **kwargs):
    """Stands in for the compute (RunChain.prepare) where a check must refuse before it."""
    raise AssertionError("compute started before the check")


def faked_case(tmp_path: Path, monkeypatch) -> dict:
    """make_case's case under tmp_path/in, preprocessed by fake_prepare; Python's temporary folder
    moved to tmp_path/tmp, so that what a refusal would leave there is seen."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", fake_prepare)
    return make_case(tmp_path / "in")
