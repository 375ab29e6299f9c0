"""Subject lists and folds, built from the authors' split lists with the leakage removed.

The reference csv (`dataset, subject_id, split, fold`) has, per fold, IXI subjects that are both
in that fold's train (or val) list and in the held-out IXI test list. A subject that is scored as
a healthy test volume must not have been seen in training or model selection, so those subjects
stay in test and are dropped from the fold's train/val lists. A few subjects are also in both the
train and the val list of the same fold; model selection must not use training subjects, so they
stay in train and are dropped from val. Every removal is written to `removed.csv`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from patch2loc.data.layouts import LESION_DATASETS
from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output

# names used in the authors' lists -> names used here
DATASET_ALIASES = {"Brats21": "BraTS21", "ATLAS": "ATLAS_v2", "ATLASv2": "ATLAS_v2"}


def _read_reference(reference_csv: str | os.PathLike) -> pd.DataFrame:
    ref = pd.read_csv(reference_csv, dtype={"dataset": str, "subject_id": str, "split": str})
    need = {"dataset", "subject_id", "split"}
    if not need <= set(ref.columns):
        raise InputError(
            f"{reference_csv}: needs columns {sorted(need)} (and 'fold' for IXI), "
            f"found {list(ref.columns)}. Use the reference splits csv."
        )
    ref = ref.copy()
    ref["dataset"] = ref["dataset"].replace(DATASET_ALIASES)
    if "fold" not in ref:
        ref["fold"] = pd.NA
    ref["fold"] = _folds(reference_csv, ref["fold"])
    return ref.drop_duplicates(["dataset", "subject_id", "split", "fold"])


def _folds(path, column: pd.Series) -> pd.Series:
    """The fold column as whole numbers 0-99 (empty allowed); text or fractions are refused, naming the row."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = (column.notna() & ~numbers.between(0, 99)) | (numbers.notna() & (numbers % 1 != 0))
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise InputError(
            f"{path}: row {row + 2}, column fold: {str(column.iloc[row])[:40]!r} is not a fold number "
            "(a whole number, or empty for a test subject); fix the cell or use the reference splits csv."
        )
    return numbers.astype("Int64")


def build_splits(
    reference_csv: str | os.PathLike, t2_available_csv: str | os.PathLike, out_dir: str | os.PathLike
) -> pd.DataFrame:
    """Write `IXI.csv`, one csv per lesion dataset and `removed.csv` under `out_dir`.

    IXI.csv: subject_id, split (train/val/test), fold (empty for test), has_t2.
    <dataset>.csv: subject_id, split (test).
    removed.csv: subject_id, fold, dropped_from, reason.
    Returns the removal table (also printed as a per-fold summary).
    """
    out_dir = Path(out_dir)
    ref = _read_reference(reference_csv)
    t2_table = pd.read_csv(t2_available_csv, dtype=str)
    if "subject_id" not in t2_table:
        raise InputError(f"{t2_available_csv}: needs a column subject_id, found {list(t2_table.columns)[:8]}.")
    t2 = set(t2_table["subject_id"])

    ixi = ref[ref["dataset"] == "IXI"]
    test = set(ixi.loc[ixi["split"] == "test", "subject_id"])
    keep, removed = [], []
    for fold in sorted(ixi["fold"].dropna().unique()):
        rows = ixi[ixi["fold"] == fold]
        train = set(rows.loc[rows["split"] == "train", "subject_id"])
        for split in ("train", "val"):
            for sid in sorted(rows.loc[rows["split"] == split, "subject_id"]):
                if sid in test:
                    removed.append((sid, fold, split, "in IXI test list"))
                elif split == "val" and sid in train:
                    removed.append((sid, fold, split, "also in this fold's train list"))
                else:
                    keep.append((sid, split, fold))
    keep += [(sid, "test", pd.NA) for sid in sorted(test)]
    table = pd.DataFrame(keep, columns=["subject_id", "split", "fold"])
    table["fold"] = table["fold"].astype("Int64")
    table["has_t2"] = table["subject_id"].isin(t2)
    removed_df = pd.DataFrame(removed, columns=["subject_id", "fold", "dropped_from", "reason"])

    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output(out_dir / "IXI.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(out_dir / "removed.csv") as tmp:
        removed_df.to_csv(tmp, index=False)
    for dataset in LESION_DATASETS:
        rows = ref[ref["dataset"] == dataset]
        with atomic_output(out_dir / f"{dataset}.csv") as tmp:
            rows[["subject_id", "split"]].sort_values("subject_id").to_csv(tmp, index=False)
    write_tuning_folds(out_dir)
    print(summarize_removed(removed_df))
    return removed_df


TUNING_FOLDS = 2
TUNING_SEED = 0


def tuning_folds(subjects: list[str], folds: int = TUNING_FOLDS, seed: int = TUNING_SEED) -> dict[str, int]:
    """Each labelled volume's tuning fold: the subjects, sorted, in a seeded random order, dealt to the
    folds in turn (sizes differ by at most one). The authors test on every volume of a lesion set, so
    no volume can be set aside for tuning without changing their test lists: the threshold of a
    volume's validation-tuned Dice is tuned on the other folds' volumes instead (cross-fitting)."""
    order = sorted(subjects)
    rng = np.random.default_rng(seed)
    return {order[i]: k % folds for k, i in enumerate(rng.permutation(len(order)))}


def write_tuning_folds(splits_dir: str | os.PathLike) -> list[Path]:
    """`<set>_val.csv` (subject_id, tuning_fold) beside each lesion set's list of `splits_dir`."""
    from patch2loc.data.subjects import lesion_subjects

    written = []
    for dataset in LESION_DATASETS:
        if not (Path(splits_dir) / f"{dataset}.csv").exists():
            continue
        folds = tuning_folds(lesion_subjects(splits_dir, dataset))
        table = pd.DataFrame(sorted(folds.items()), columns=["subject_id", "tuning_fold"])
        with atomic_output(Path(splits_dir) / f"{dataset}_val.csv") as tmp:
            table.to_csv(tmp, index=False)
        written.append(Path(splits_dir) / f"{dataset}_val.csv")
    return written


def summarize_removed(removed: pd.DataFrame) -> str:
    """One line per fold: how many subjects were dropped from train and from val, and why."""
    lines = []
    for fold, rows in removed.groupby("fold"):
        parts = [f"{len(r)} from {split} ({reason})" for (split, reason), r in rows.groupby(["dropped_from", "reason"])]
        lines.append(f"fold {fold}: " + "; ".join(parts))
    return "\n".join(lines)


def load_subjects(
    splits_dir: str | os.PathLike,
    dataset: str,
    split: str = "test",
    fold: int | None = None,
    modality: str | None = None,
) -> list[str]:
    """Subject ids of one list, sorted: e.g. ("IXI", "train", fold=0, modality="T2"), read by
    `data.subjects` (the workflow's reader). For IXI, `fold` is required for train/val, and
    modality T2 keeps only subjects with a T2 scan."""
    from patch2loc.data.subjects import ixi_subjects, lesion_subjects

    if dataset != "IXI":
        return sorted(lesion_subjects(splits_dir, dataset, split))
    if split != "test" and fold is None:
        raise ValueError("IXI train/val lists need a fold")
    return sorted(ixi_subjects(splits_dir, split, modality or "T1", None if split == "test" else fold))


def main(argv: list[str] | None = None) -> None:
    """python -m patch2loc.data.splits REFERENCE_CSV T2_AVAILABLE_CSV OUT_DIR, or
    python -m patch2loc.data.splits --tuning-folds SPLITS_DIR (the `<set>_val.csv` of existing lists)"""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--tuning-folds":
        for path in write_tuning_folds(args[1]):
            print(path)
        return
    if len(args) != 3:
        raise SystemExit(
            "usage: python -m patch2loc.data.splits REFERENCE_CSV T2_AVAILABLE_CSV OUT_DIR | --tuning-folds SPLITS_DIR"
        )
    build_splits(*args)


if __name__ == "__main__":
    main()
