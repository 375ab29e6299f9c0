"""`group` level: one table over every scored scan of the participants, and a sortable report.

The output dataset is indexed with pybids as a derivatives dataset: every native-space heatmap
(`space-native_desc-anomaly_<T1w|T2w>`) is one row of `group_anomaly.tsv`: participant, session,
flagged volume (mL), number of components, largest component (mL), the heatmap's highest and
99th-percentile score in the brain, the threshold; with `--seg-derivatives`, AUPRC, best Dice
and Dice at the threshold against the lesion mask found for the scan (dataset.match_derivative,
a desc containing "lesion", on the scan's grid). `report.html` lists the same rows, each with a
link to its viewer; a click on a header sorts by that column.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from patch2loc.checks.labels import label_values
from patch2loc.bids import files
from patch2loc.errors import InputError
from patch2loc.files.outputs import printable

LESION_DESC = re.compile(r".*lesion.*", re.IGNORECASE)  # ATLAS v2.0: desc-T1lesion; the demo: desc-lesion
GROUP_TSV, REPORT = "group_anomaly.tsv", "report.html"


def _scan_tables(out_dir: Path, names: dict) -> tuple[dict, list[dict]]:
    """A published scan's sidecar (Threshold, Sources) and components table, types checked."""
    from patch2loc.bids.names import component_columns

    sidecar = out_dir / names["heatmap_json"]
    meta = files.read_json(sidecar, "a published sidecar")
    meta = {
        "Threshold": files.field(meta, "Threshold", "number", sidecar),
        "Sources": files.field(meta, "Sources", "list of strings", sidecar) or [],
    }
    table = out_dir / names["components"]
    return meta, files.read_table(table, "a published components table", list(component_columns()), "\t")


def _rows(out_dir: Path, seg_layout) -> list[dict]:
    from patch2loc.bids.dataset import IDENTITY, Scan, match_derivative
    from patch2loc.bids.names import derivative_paths
    from patch2loc.scoring.metrics import evaluate_volume
    from patch2loc.files.io import load_volume

    layout = _output_layout(out_dir)
    heatmaps = layout.get(desc="anomaly", space="native", suffix=["T1w", "T2w"], extension=".nii.gz")
    if not heatmaps:
        raise InputError(
            f"{out_dir}: no heatmap (space-native_desc-anomaly) in OUTPUT_DIR. Run the participant level first."
        )
    rows = []
    for f in sorted(heatmaps, key=lambda f: f.path):
        entities = {k: str(v) for k, v in f.get_entities().items() if k in IDENTITY or k == "suffix"}
        names = derivative_paths(entities)
        if (
            Path(f.path).relative_to(layout.root).as_posix() != names["heatmap"]
        ):  # a planted name: its text would reach the page
            raise InputError(
                f"{printable(f.path)}: not a heatmap name patch2loc writes (that is {names['heatmap']}). "
                "Remove the file from OUTPUT_DIR, or rerun the participant level into a new folder."
            )
        meta, comps = _scan_tables(out_dir, names)
        score = load_volume(f.path, kind="heatmap").data
        brain = load_volume(out_dir / names["brain"], kind="brain mask").data > 0
        inside = score[brain]
        thr = meta["Threshold"]
        row = {
            "participant_id": f"sub-{entities['subject']}",
            "session_id": f"ses-{entities['session']}" if "session" in entities else "n/a",
            "scan": Path(f.path).name.replace("_space-native_desc-anomaly", ""),
            "flagged_ml": float(sum(c["volume_ml"] for c in comps)),
            "n_components": len(comps),
            "largest_component_ml": max((c["volume_ml"] for c in comps), default=0.0),
            "max_score": float(inside.max()) if inside.size else float("nan"),
            "p99_score": float(np.percentile(inside, 99)) if inside.size else float("nan"),
            "threshold": thr if thr is not None else float("nan"),
            "viewer": names["viewer"],
        }
        if seg_layout is not None:
            raw = next((s for s in meta["Sources"] if s.startswith("bids:raw:")), "")
            scan = Scan(Path(raw), raw[len("bids:raw:") :], entities)
            seg = match_derivative(seg_layout, scan, LESION_DESC, "lesion mask")
            metrics = {"auprc": float("nan"), "best_dice": float("nan"), "dice_at_threshold": float("nan")}
            if seg is not None:
                labels = label_values(load_volume(seg, kind="lesion mask").data, seg) > 0
                if labels.shape != score.shape:
                    raise InputError(
                        f"{seg}: lesion mask of shape {labels.shape}, but the scan's grid is "
                        f"{score.shape}. Give lesion masks on each scan's own grid."
                    )
                m = evaluate_volume(score, labels, brain, region="brain", threshold=thr)
                metrics = {k: float(m[k]) for k in metrics}
            row.update(metrics, lesion_mask=seg.name if seg is not None else "n/a")
        rows.append(row)
    return rows


def _output_layout(out_dir: Path):
    import bids
    from bids.layout import BIDSLayoutIndexer

    return bids.BIDSLayout(
        out_dir, validate=False, config=["bids", "derivatives"], indexer=BIDSLayoutIndexer(index_metadata=False)
    )


def run_group(out_dir: Path, seg_layout) -> tuple[Path, Path]:
    """Write group_anomaly.tsv and report.html into OUTPUT_DIR (both or neither)."""
    import pandas as pd

    from patch2loc.evaluation.report.html import build_report, sortable_table
    from patch2loc.files.staging import OutputSet

    rows = _rows(out_dir, seg_layout)
    table = pd.DataFrame(rows)
    links = table.pop("viewer").tolist()
    shown = table.assign(viewer="open")
    with OutputSet() as outs:
        table.to_csv(outs.file(out_dir / GROUP_TSV), sep="\t", index=False, na_rep="n/a", float_format="%.6g")
        build_report(
            outs.file(out_dir / REPORT),
            "patch2loc: anomaly per scan",
            [
                (
                    "Scans",
                    [
                        (
                            "One row per scored scan; click a header to sort, 'open' for the scan's viewer "
                            "(native space, threshold slider).",
                            sortable_table(shown, {"viewer": links}),
                        )
                    ],
                )
            ],
            run_name=out_dir.name,
        )
    return out_dir / GROUP_TSV, out_dir / REPORT
