"""Effect of the reduced-precision encoder (bf16 on CPU, bf16/fp16 on GPU) on a finished run.

Scores every lesion volume of a run twice with the same model, fp32 (`amp=none`) and the given
precision, and prints the largest score difference in the brain and the change of AUPRC and
best Dice per dataset. Usage (after `make demo`):

    python studies/precision_effect.py results/demo --fold 0 [--amp bf16] [--stride 2]
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np

from patch2loc.data.layouts import LESION_DATASETS, MODALITIES
from patch2loc.checks.devices import resolve_device
from patch2loc.run.layout import RunLayout
from patch2loc.methods.patch2loc.heatmap import score_volume
from patch2loc.scoring import postprocess
from patch2loc.files.io import load_case
from patch2loc.scoring.metrics import evaluate_volume
from patch2loc.methods.patch2loc.model import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--amp", default="bf16", choices=("bf16", "fp16"))
    ap.add_argument("--stride", type=int, default=1)
    args = ap.parse_args()
    device = resolve_device("auto")
    layout = RunLayout(args.run)
    for dataset in LESION_DATASETS:
        modality = MODALITIES[dataset][0]
        model, _ = load_model(layout.checkpoint(modality, args.fold), device)
        diffs, rows = [], []
        for image in sorted(glob.glob(layout.normalized(dataset, modality, "*"))):
            subject = RunLayout.parse(image, "normalized")["subject"]
            case = load_case(
                image,
                *(layout.preprocessed(dataset, modality, subject, name) for name in ("mask.nii.gz", "seg.nii.gz")),
            )
            scores = {}
            for amp in ("none", args.amp):
                res = score_volume(model, case.image.data, case.mask, stride=args.stride, device=device, amp=amp)
                scores[amp] = postprocess(res.score, case.mask)
            diffs.append(float(np.abs(scores["none"] - scores[args.amp])[case.mask].max()))
            rows.append(
                [
                    evaluate_volume(scores[a], case.seg, case.mask)[k]
                    for a in ("none", args.amp)
                    for k in ("auprc", "best_dice")
                ]
            )
        if not rows:
            continue
        r = np.nanmean(np.array(rows), axis=0)
        print(
            f"{dataset} ({len(rows)} volumes): max |score diff| {max(diffs):.4f}; "
            f"AUPRC fp32 {r[0]:.4f} vs {args.amp} {r[2]:.4f}; best Dice fp32 {r[1]:.4f} vs {args.amp} {r[3]:.4f}"
        )


if __name__ == "__main__":
    main()
