"""The one place `patch2loc bids` calls into predict and the bundle reader (re-point it here when
predict's interface changes).

The BIDS scans go to predict's folder mode as a csv (image, mask) in a `PredictRequest` whose
other settings are predict's defaults, so a BIDS run scores a scan exactly as `patch2loc predict
--model BUNDLE --image scans.csv --out OUTPUT_DIR/.predict` does: predict's checks before any
compute, one bad scan reported and the others going on, and a scan skipped when its outputs
were made from the same input files (checksums) with the same settings. The BIDS names are then
copies of predict's outputs (publish.py).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path

import numpy as np


def bundle_info(model: str | Path, atlas_copy: Path | None = None) -> dict:
    """What the derivatives record of a bundle (its method, modality, folds, sha256);
    the bundle is checked as predict checks it. `atlas_copy`: write its atlas image there."""
    from patch2loc.bundle import members as M
    from patch2loc.bundle.reader import open_bundle
    from patch2loc.files.outputs import check_utf8_path
    from patch2loc.predict.runstate import sha256_of

    check_utf8_path(model, "--model")
    with open_bundle(model) as bundle:
        settings = bundle.settings
        if atlas_copy is not None:
            shutil.copyfile(bundle.member(M.ATLAS_IMAGE), atlas_copy)
        return {
            "method": settings["method"],
            "modality": settings["modality"],
            **({"contrasts": list(settings["contrasts"])} if "contrasts" in settings else {}),
            "folds": [f["fold"] for f in settings["folds"]],
            "run_name": settings.get("run_name"),
            "file": Path(model).name,
            # a zip: the file's sha256; a folder: one over its files, manifest.json (every member's sha256) included
            "sha256": sha256_of(model),
        }


def run_predict(scans, work: Path, model, device: str, overwrite: bool, quiet: bool, tissue_order: bool = True) -> int:
    """predict's folder mode on these scans, outputs in `work`; returns predict's exit status
    (the number of scans that failed; each was reported on one line). predict is called with a
    request, as the command line calls it (`predict.request`), not with an argv. A bundle of several
    contrasts: one call per subject's session (predict scores one subject of several contrasts at
    a time), its other contrasts as the request's `contrast` (and `contrast_mask`). tissue_order=False:
    predict's --skip-tissue-order."""
    call = {"model": str(model), "device": device, "overwrite": overwrite, "quiet": quiet}
    call["skip_tissue_order"] = not tissue_order
    if any(scan.contrasts for scan in scans):
        return sum(_run_pair(scan, work, call) for scan in scans)
    return _run_listed(scans, work, call)


def _run_pair(scan, work: Path, call: dict) -> int:
    """One session's scans of every contrast through predict; a refusal is that scan's one line."""
    import sys

    from patch2loc.errors import InputError

    others = scan.contrasts.items()
    extra = {
        "contrast": tuple((c, str(s.path.resolve())) for c, s in others),
        "contrast_mask": tuple((c, str(s.mask.resolve())) for c, s in others if s.mask is not None),
    }
    try:
        return _run_listed([scan], work, call, extra)
    except InputError as exc:  # this session only: the others go on
        print(f"patch2loc bids: error: {exc}", file=sys.stderr)
        return 1


def _run_listed(scans, work: Path, call: dict, extra=None) -> int:
    from patch2loc.predict.driver import predict
    from patch2loc.predict.request import PredictRequest

    with tempfile.TemporaryDirectory(prefix="patch2loc-bids-") as tmp:
        listing = Path(tmp) / "scans.csv"
        with open(listing, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["image", "mask"])
            for scan in scans:
                writer.writerow([str(scan.path.resolve()), str(scan.mask.resolve()) if scan.mask else ""])
        request = PredictRequest(
            image=(str(listing),),
            out=str(work),
            **call,
            **(extra or {}),
        )
        return predict(request)


def predict_outputs(scan, work: Path) -> dict[str, Path]:
    """predict's outputs of one scan in its folder mode (its own naming, predict.plan.Job)."""
    from patch2loc.predict.inputs import ScanInput
    from patch2loc.predict.plan import Job

    scan_input = ScanInput(scan.id, scan.path, scan.mask)
    return Job(scan_input, work / f"{scan.id}.nii.gz", work / scan.id, work / f"{scan.id}.png", True, True).outputs


def native_brain(outputs: dict[str, Path], native_scan: Path) -> np.ndarray:
    """The brain predict scored, on the scan's own grid: the chain's atlas-space brain mask
    through the inverse of its registration (nearest neighbour), as predict maps it."""
    from patch2loc.files.io import load_volume
    from patch2loc.scoring.native import to_native

    staged = outputs["preprocessed"]
    mask = load_volume(staged / "mask.nii.gz", kind="brain mask")
    return (
        to_native(mask.data.astype(np.float32), mask.affine, staged / "transform.tfm", native_scan, nearest=True) > 0.5
    )
