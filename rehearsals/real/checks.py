"""What a rehearsal must show besides Snakemake's exit code: every method of the paper config has
its Table 1 rows, and both layouts of the SRI24 archive give the same atlas."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from patch2loc.data.layouts import LESION_DATASETS


def table1_methods(table: Path, methods: list[str]) -> dict:
    """Which of `methods` have a "this harness" row in Table 1 with a number (0-100) in every
    lesion set's Dice and AUPRC column."""
    if not table.exists():
        return {"expected": methods, "complete": [], "missing": methods, "table": f"{table} not written"}
    df = pd.read_csv(table, dtype=str, keep_default_na=False)
    ours = df[df["source"] == "this harness"]
    columns = [f"{d} {m}" for d in LESION_DATASETS for m in ("Dice", "AUPRC") if f"{d} {m}" in df]

    def complete(method: str) -> bool:
        rows = ours[ours["method"] == method]
        cells = [
            c.split(" ")[0].strip() for c in rows[columns].to_numpy().ravel()
        ]  # "mean [low, high]" or "mean ± std"
        return len(rows) > 0 and len(columns) > 0 and all(_percent(c) for c in cells)

    done = [m for m in methods if complete(m)]
    return {
        "expected": methods,
        "complete": done,
        "missing": [m for m in methods if m not in done],
        "table": str(table),
    }


def _percent(cell: str) -> bool:
    try:
        return 0.0 <= float(cell) <= 100.0
    except ValueError:
        return False


def same_atlas(first: tuple[str | Path, str | Path], second: tuple[str | Path, str | Path]) -> bool:
    """Whether two (image, mask) atlas pairs hold the same voxels on the same grid."""
    for a, b in zip(first, second):
        ia, ib = nib.load(str(a)), nib.load(str(b))
        if (
            ia.shape != ib.shape
            or not np.allclose(ia.affine, ib.affine)
            or not np.array_equal(np.asanyarray(ia.dataobj), np.asanyarray(ib.dataobj))
        ):
            return False
    return True
