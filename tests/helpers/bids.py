"""A tiny T2 DAE model bundle and a copied "preprocessing" for the BIDS App tests (test_bids*.py).

The demo's BIDS set (patch2loc.bids.demo) is written at 6 mm voxels (37 x 43 x 36); the chain is
`crop_prepare`: the scan's central 32^3 voxels with their own affine as the "normalised" scan and
an identity transform, so predict's native-space step maps the heatmap back onto the scan's grid
(the real registration is tested in test_predict_tool and test_workflow, slow). The bundle holds
two untrained width-4 DAE folds (seconds on a CPU), exported by `patch2loc export` from a run
folder laid out by patch2loc.run.layout, as test_predict_dae does for its grid.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
import yaml

from patch2loc import cli
from patch2loc.methods.dae.model import DenoisingUNet
from patch2loc.run.checkpoint import save_checkpoint
from patch2loc.run.layout import RunLayout
from tests.helpers.checkpoints import RANGE, as_written

GRID = (32, 32, 32)
SPACING = 6.0
THRESHOLDS = {0: 1.1, 1: 1.3}  # the untrained DAEs' scores reach about 1.5: a few components


def crop_prepare(self, image, mask, out_dir, subject, skull_strip=None):
    import SimpleITK as sitk

    out_dir = Path(out_dir)
    img = nib.load(image)
    data = np.asarray(img.dataobj, np.float32)
    start = [(n - g) // 2 for n, g in zip(data.shape, GRID)]
    box = tuple(slice(a, a + g) for a, g in zip(start, GRID))
    affine = img.affine.copy()
    affine[:3, 3] = img.affine[:3, :3] @ np.asarray(start, float) + img.affine[:3, 3]
    brain = (np.asarray(nib.load(mask).dataobj) > 0) if mask is not None else data > 0
    image_crop = data[box] / max(float(np.percentile(data[brain], 98)), 1e-6)
    nib.save(nib.Nifti1Image(image_crop.astype(np.float32), affine), out_dir / "normalized.nii.gz")
    nib.save(nib.Nifti1Image(brain[box].astype(np.uint8), affine), out_dir / "mask.nii.gz")
    sitk.WriteTransform(sitk.AffineTransform(3), str(out_dir / "transform.tfm"))
    return out_dir / "normalized.nii.gz", out_dir / "mask.nii.gz"


def make_bundle(base: Path, modality: str = "T2", contrasts: tuple[str, ...] = ()) -> Path:
    """A finished run (config, landmarks, atlas, two DAE folds and thresholds) and its bundle.
    contrasts: a model input of several (e.g. modality T1T2 of T1, T2): config `inputs`, each
    contrast's landmarks, DAEs of as many channels."""
    layout = RunLayout(base / "results" / "r")
    cfg = {
        "run_name": "r",
        "folds": [0, 1],
        "preprocess": {"spacing": [SPACING] * 3, "target_shape": list(GRID)},
        "normalize": {"percentile": 98.0},
        "heatmap": {"median_size": 3, "stride": 1, "centres": "dilated"},
    }
    if contrasts:
        cfg["inputs"] = {modality: list(contrasts)}
    Path(layout.landmarks(modality)).parent.mkdir(parents=True)
    Path(layout.config).write_text(yaml.safe_dump(cfg))
    for contrast in contrasts or (modality,):
        np.save(layout.landmarks(contrast), np.vstack([np.linspace(1, 100, 11), [1, *range(10, 100, 10), 99]]))
    channels = max(len(contrasts), 1)
    Path(layout.atlas_image).parent.mkdir()
    for path in (layout.atlas_image, layout.atlas_mask):
        nib.save(nib.Nifti1Image(np.ones(GRID, np.uint8), np.diag([SPACING] * 3 + [1.0])), path)
    for k, thr in THRESHOLDS.items():
        torch.manual_seed(k)
        path = Path(layout.checkpoint(modality, k, "DAE"))
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(
            path,
            {
                **as_written(
                    {
                        "model": DenoisingUNet(width=4, depth=4, channels=channels).state_dict(),
                        "config": {"width": 4, "depth": 4, "channels": channels}
                        | ({"intensity_ranges": [RANGE] * channels} if contrasts else {}),
                    },
                    "DAE",
                    GRID,
                    modality,
                ),
                "step": 3,
            },
        )
        Path(layout.threshold("DAE", modality, f"fold{k}")).parent.mkdir(parents=True)
        Path(layout.threshold("DAE", modality, f"fold{k}")).write_text(json.dumps({"threshold": thr}))
    bundle = base / f"{modality.lower()}_dae.zip"
    assert (
        cli.main(
            ["export", str(layout.root), "--modality", modality, "--method", "DAE", "--out", str(bundle), "--quiet"]
        )
        == 0
    )
    return bundle


def demo_t1t2(base: Path) -> tuple[Path, Path]:
    """(the demo's BIDS set in base/raw, a T1T2 bundle of T1 and T2 in base/t1t2)."""
    from patch2loc.bids.demo import write_demo_bids

    return write_demo_bids(base / "raw", spacing=SPACING), make_bundle(base / "t1t2", "T1T2", ("T1", "T2"))


def participant_argv(raw: Path, out: Path, bundle: Path, *extra: str, quiet: bool = True) -> list[str]:
    """`patch2loc bids RAW OUT participant` with the bundle and the demo set's brain masks, on the CPU;
    quiet=False: the progress and the closing counts shown."""
    return [
        "bids",
        str(raw),
        str(out),
        "participant",
        "--model",
        str(bundle),
        "--mask-derivatives",
        str(raw / "derivatives" / "masks"),
        "--device",
        "cpu",
        *(["--quiet"] if quiet else []),
        *extra,
    ]
