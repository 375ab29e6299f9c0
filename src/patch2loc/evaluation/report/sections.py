"""Report sections read from a finished run's folder: the demo's checks, the per-volume table
that links each volume to its heatmap viewer, and the viewers of the healthy test volumes.

Everything is read from what is there (any method, fold or dataset in the tables; any viewer
under `viewers/`), so a new method or dataset needs no change here. Viewer links are relative
to the run folder, where report.html is written.
"""

from __future__ import annotations

import html
import io
import os
from contextlib import redirect_stderr, redirect_stdout

import pandas as pd

from patch2loc.evaluation.report import demo_summary
from patch2loc.evaluation.report.html import Html, Item, sortable_table, status_list
from patch2loc.evaluation.tables.aggregate import DATASET_ORDER
from patch2loc.errors import InputError
from patch2loc.run.layout import ALL_FOLDS, RunLayout

HEALTHY = "IXI"
METRICS = {"auprc": "AUPRC (%)", "best_dice": "best Dice (%)", "dice_unsup": "Dice at threshold (%)"}


def fold_folder(fold: object) -> str:
    """The scores/ and viewers/ folder of a fold: 'fold{k}', or 'all' for fold-free methods."""
    text = "" if fold is None or pd.isna(fold) else str(fold).strip()
    return RunLayout.fold_name(int(float(text))) if text else ALL_FOLDS


def viewer_pages(run_dir: str | os.PathLike) -> dict[tuple[str, ...], str]:
    """(method, modality, fold folder, dataset, subject) -> the viewer's path relative to run_dir."""
    pages = {}
    for page in RunLayout(run_dir).viewer_pages():
        keys = RunLayout.parse(page, "viewer")
        key = tuple(keys[k] for k in ("method", "modality", "fold", "dataset", "subject"))
        pages[key] = page.relative_to(run_dir).as_posix()
    return pages


def _datasets(names) -> list[str]:
    names = set(names)
    return [d for d in DATASET_ORDER if d in names] + sorted(names - set(DATASET_ORDER))


def per_volume_items(per_volume_csv: str | os.PathLike, run_dir: str | os.PathLike) -> list[Item]:
    """One sortable table per lesion set: subject, model, AUPRC, best Dice, Dice at the
    unsupervised threshold (in %) and a link to the volume's viewer where one was written."""
    try:
        df = pd.read_csv(per_volume_csv, dtype={"subject": str, "fold": str, "modality": str})
    except Exception as exc:  # unreadable csv: name the file
        raise InputError(f"{per_volume_csv}: cannot be read as csv ({exc}); re-run rule table1.") from exc
    missing = {"method", "modality", "fold", "dataset", "subject", *METRICS} - set(df.columns)
    if missing:
        raise InputError(f"{per_volume_csv}: missing columns {sorted(missing)}; re-run rule table1.")
    pages = viewer_pages(run_dir)
    items: list[Item] = []
    for dataset in _datasets(df["dataset"]):
        rows = df[df["dataset"] == dataset].reset_index(drop=True)
        folds = rows["fold"].map(fold_folder)
        links = [pages.get((r.method, r.modality, f, dataset, r.subject)) for r, f in zip(rows.itertuples(), folds)]
        table = pd.DataFrame(
            {
                "subject": rows["subject"],
                "method": rows["method"],
                "modality": rows["modality"],
                "fold": folds,
                **{label: 100 * rows[col] for col, label in METRICS.items()},
                "viewer": ["open" if link else "not kept" for link in links],
            }
        )
        if "lesion_voxels" in rows:
            table.insert(len(METRICS) + 4, "lesion voxels", rows["lesion_voxels"])
        kept = sum(link is not None for link in links)
        items.append(
            (
                f"{dataset}: {len(rows)} rows (volume x model), {kept} with a viewer. Click a header to "
                "sort (AUPRC: the worst volume first); 'open' shows the scan, the score with a threshold "
                "slider and the ground-truth outline. Volumes without a kept heatmap have no viewer "
                "(evaluate.keep_heatmaps).",
                Html(f"<h3>{html.escape(dataset)}</h3>" + sortable_table(table, {"viewer": links})),
            )
        )
    return items


def healthy_items(run_dir: str | os.PathLike) -> list[Item]:
    """The viewers of healthy test volumes (no lesion, so no metrics): the unsupervised
    threshold comes from them, and every voxel above it is a false positive."""
    pages = {k: v for k, v in viewer_pages(run_dir).items() if k[3] == HEALTHY}
    if not pages:
        return []
    table = pd.DataFrame(
        [(s, m, mod, f, "open") for (m, mod, f, _, s) in pages],
        columns=["subject", "method", "modality", "fold", "viewer"],
    )
    return [
        (
            f"Healthy {HEALTHY} test volumes: every voxel above the threshold is a false positive.",
            sortable_table(table, {"viewer": list(pages.values())}),
        )
    ]


def demo_check_items(run_dir: str | os.PathLike) -> list[Item]:
    """The PASS / FAIL lines of `python -m patch2loc.evaluation.report.demo_summary RUN_DIR`."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = demo_summary.main([str(run_dir)])
    checks = [
        (line.startswith("PASS"), line[4:].strip())
        for line in out.getvalue().splitlines()
        if line.startswith(("PASS", "FAIL"))
    ]
    if not checks:
        return [(f"The demo's checks could not be run (exit status {status}): {err.getvalue().strip()}", None)]
    passed = sum(ok for ok, _ in checks)
    return [
        (
            f"{passed} of {len(checks)} checks pass: python -m patch2loc.evaluation.report.demo_summary {run_dir} "
            "(thresholds set for the demo: models that learned the anatomy, and Patch2Loc ahead of the "
            "intensity baseline on the small-lesion sets).",
            status_list(checks),
        )
    ]
