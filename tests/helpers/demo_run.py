"""A finished demo run's files, as much as the demo's summary reads (tests of demo_summary)."""

from __future__ import annotations

import pandas as pd

from patch2loc.evaluation.figures.loss_curves import loss_curves
from patch2loc.evaluation.report import demo_summary
from patch2loc.evaluation.tables.aggregate import METRICS_COLUMNS


def finished_demo_run(
    tmp_path, ours_auprc: float, val_error: float, dae: bool = False, brats_auprc: float | None = None
):
    rows = []
    for d in ("BraTS21", "MSLUB", "ATLAS_v2", "WMH"):
        own = "T1" if d in ("ATLAS_v2", "WMH") else "T2"  # the set's own contrast, as the paper scores it
        for s in range(2):
            rows.append(
                dict(method="Thresh", modality=own, fold="", dataset=d, subject=f"s{s}", auprc=0.1, best_dice=0.2)
            )
            for fold, shift in ((0, -0.01), (1, 0.01)):
                auprc = brats_auprc if d == "BraTS21" and brats_auprc is not None else ours_auprc
                rows.append(
                    dict(
                        method="Patch2Loc",
                        modality=own,
                        fold=fold,
                        dataset=d,
                        subject=f"s{s}",
                        auprc=auprc + shift,
                        best_dice=0.3 + shift,
                    )
                )
                for method in demo_summary.COMPARED if dae else ():  # the DAE and the diffusion models
                    rows.append(
                        dict(
                            method=method,
                            modality=own,
                            fold=fold,
                            dataset=d,
                            subject=f"s{s}",
                            auprc=0.3,
                            best_dice=0.4,
                        )
                    )
    metrics = pd.DataFrame(rows).reindex(columns=METRICS_COLUMNS)
    metrics["region"] = "brain"
    (tmp_path / "tables").mkdir()
    metrics.to_csv(tmp_path / "tables" / "per_volume_metrics.csv", index=False)
    for fold in (0, 1):
        d = tmp_path / "models" / "T2" / f"fold{fold}"
        d.mkdir(parents=True)
        pd.DataFrame(
            {
                "step": [100, 200],
                "train_loss": [1, 1],
                "val_loss": [1, 1],
                "val_error": [20.0, val_error],
                "centre_error": [30.0, 30.0],
            }
        ).to_csv(d / "loss.csv", index=False)
    # a finished run's figures: one whose every panel has data (figures.check)
    losses = {f"T2 fold{k}": tmp_path / "models" / "T2" / f"fold{k}" / "loss.csv" for k in (0, 1)}
    loss_curves(losses, tmp_path / "figures" / "loss_curves_Patch2Loc.png")
    return tmp_path
