"""Runs one challenge's own evaluation code on the comparison's cases, in an environment of its own.

    CHALLENGE_PYTHON tools/challenge_official_runner.py {wmh,isles22,brats23} CHECKOUT CASES_JSON OUT_JSON

Started by tools/challenge_official.py, once per challenge, with the Python of an environment
that holds that code's dependencies at the versions it was published with (its requirements.txt:
BraTS 2023 numpy 1.24.3, pandas 1.3.4, scipy 1.11.1, cc3d 3.12.1, nibabel 5.1.0; ISLES'22 numpy
1.19.5, cc3d 3.9.1, nibabel 3.2.1; the WMH script numpy and SimpleITK, unpinned), so that the code
runs as published, unpatched. It imports nothing of patch2loc. Each metric is called on its own; an
exception is recorded as {"fails": message} (the WMH script stops on an empty truth or boundary).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import sys
from pathlib import Path


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _value(call):
    """A metric's value as JSON holds it (NaN and inf as strings), or why it failed."""
    try:
        value = float(call())
    except Exception as err:  # the official code's own failures are results here
        return {"fails": f"{type(err).__name__}: {err}"}
    return value if math.isfinite(value) else str(value)


def wmh(module, folder: Path) -> dict:
    """evaluation.py's five metrics, as its do() calls them (lines 18-33)."""
    test, result = module.getImages(str(folder / "wmh.nii.gz"), str(folder / "pred.nii.gz"))
    detection = functools.cache(lambda: module.getLesionDetection(test, result))  # (recall, F1), once
    return {
        "wmh_dice": _value(lambda: module.getDSC(test, result)),
        "wmh_hd95_mm": _value(lambda: module.getHausdorff(test, result)),
        "wmh_avd_pct": _value(lambda: module.getAVD(test, result)),
        "wmh_recall": _value(lambda: detection()[0]),
        "wmh_f1": _value(lambda: detection()[1]),
    }


def isles(module, folder: Path) -> dict:
    """eval_utils.py's four metrics, as isles22_evaluate.ipynb calls them (voxel volume from the zooms)."""
    import nibabel as nib
    import numpy as np

    truth_image = nib.load(str(folder / "truth.nii.gz"))
    truth, pred = truth_image.get_fdata(), nib.load(str(folder / "pred.nii.gz")).get_fdata()
    voxel_volume = np.prod(truth_image.header.get_zooms()) / 1000
    return {
        "isles_dice": _value(lambda: module.compute_dice(truth, pred)),
        "isles_avd_ml": _value(lambda: module.compute_absolute_volume_difference(truth, pred, voxel_volume)),
        "isles_f1": _value(lambda: module.compute_lesion_f1_score(truth, pred)),
        "isles_count_diff": _value(lambda: module.compute_absolute_lesion_difference(truth, pred)),
    }


BRATS_COLUMNS = {
    "LesionWise_Score_Dice": "lesion_dice",
    "LesionWise_Score_HD95": "lesion_hd95_mm",
    "Legacy_Dice": "dice",
    "Legacy_HD95": "hd95_mm",
    "Num_TP": "tp",
    "Num_FP": "fp",
    "Num_FN": "fn",
}


def brats(module, folder: Path) -> dict:
    """metrics.py's get_LesionWiseResults (BraTS-GLI) per region WT, TC, ET."""
    try:
        table = module.get_LesionWiseResults(
            str(folder / "pred_brats.nii.gz"), str(folder / "brats23.nii.gz"), "BraTS-GLI"
        )
    except Exception as err:
        return {"fails": f"{type(err).__name__}: {err}"}
    out = {}
    for row in table.to_dict("records"):
        region = str(row["Labels"]).lower()
        for theirs, ours in BRATS_COLUMNS.items():
            out[f"brats_{region}_{ours}"] = _value(lambda v=row[theirs]: v)
    return out


RUNS = {
    "wmh": (("evaluation.py",), wmh),
    "isles22": (("utils", "eval_utils.py"), isles),
    "brats23": (("metrics.py",), brats),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("challenge", choices=sorted(RUNS))
    ap.add_argument("checkout", help="hjkuijf/wmhchallenge, ezequieldlrosa/isles22 or rachitsaluja/BraTS-2023-Metrics")
    ap.add_argument("cases", help="the cases' json (written by challenge_official.py)")
    ap.add_argument("out", help="where to write the official values (json)")
    args = ap.parse_args()
    sys.path.insert(0, args.checkout)  # BraTS' metrics.py imports its vendored surface_distance
    where, run = RUNS[args.challenge]
    module = _load(Path(args.checkout).joinpath(*where), f"official_{args.challenge}")
    cases = json.loads(Path(args.cases).read_text(encoding="utf-8"))
    results = {case["id"]: run(module, Path(case["folder"])) for case in cases}
    Path(args.out).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
