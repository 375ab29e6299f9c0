"""The subject lists of a run, read in one place: `splits_dir`/IXI.csv and one csv per lesion set
(splits/README.md; written by `patch2loc.data.splits`).

Lists keep the csv's order (the workflow's shards, kept heatmaps and `max_subjects` follow it)
and each subject once. Only the csv module is used: the workflow reads these lists to build its
DAG, before any job runs.
"""

from __future__ import annotations

import csv
import functools
import io
import os
from pathlib import Path

from patch2loc.checks.parsing import read_bounded
from patch2loc.errors import InputError


def read_split(splits_dir: str | os.PathLike, dataset: str) -> list[dict]:
    """The rows of `dataset`'s list; InputError naming the file and the fix when it is missing."""
    path = Path(splits_dir) / f"{dataset}.csv"
    if not path.exists():
        raise InputError(
            f"{path}: subject list for {dataset} not found. Set `splits_dir` in the config to the "
            "folder holding IXI.csv and one csv per lesion dataset (see splits/README.md), or "
            "generate them with `python -m patch2loc.data.splits`."
        )
    return list(_rows(path.read_bytes()))


@functools.lru_cache(maxsize=64)  # every job's input functions ask while Snakemake plans the DAG
def _rows(content: bytes) -> tuple[dict, ...]:
    """The csv's rows, parsed once per content (callers only read them)."""
    return tuple(csv.DictReader(io.StringIO(content.decode("utf-8"), newline="")))


def _unique(ids) -> list[str]:
    return list(dict.fromkeys(ids))


def has_t2(row: dict) -> bool:
    return row.get("has_t2", "1").lower() in ("1", "true", "yes")


def ixi_subjects(splits_dir: str | os.PathLike, split: str, modality: str, fold=None) -> list[str]:
    """IXI subjects of a split ('train', 'val', 'test'), of one fold when given, with a scan of
    `modality` (T2: the subjects marked has_t2)."""
    return _unique(
        r["subject_id"]
        for r in read_split(splits_dir, "IXI")
        if r["split"] == split and (fold is None or r.get("fold", "") == str(fold)) and (modality == "T1" or has_t2(r))
    )


def lesion_subjects(splits_dir: str | os.PathLike, dataset: str, split: str | None = None) -> list[str]:
    """The subjects of a lesion set's list (of one split when given; the lists hold test only)."""
    return _unique(r["subject_id"] for r in read_split(splits_dir, dataset) if split in (None, r["split"]))


MAX_LIST_BYTES = 16 << 20  # a tuning split of 100,000 subjects is about 2 MB
MAX_TUNING_FOLD = 99


def tuning_folds(splits_dir: str | os.PathLike, dataset: str) -> dict[str, int] | None:
    """`dataset`_val.csv: each labelled volume's tuning fold (a volume's validation-tuned Dice uses the
    threshold tuned on the other folds' volumes; docs/evaluation.md, "Dice three ways"); None when the
    run's splits have no such file. Each subject once: listed twice, it took its last fold silently."""
    path = Path(splits_dir) / f"{dataset}_val.csv"
    if not path.exists():
        return None
    fix = "regenerate it with `python -m patch2loc.data.splits --tuning-folds SPLITS_DIR`."
    text = read_bounded(path, "the tuning split", MAX_LIST_BYTES)  # a regular file of at most 16 MB
    try:
        rows = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path}: cannot be read as a UTF-8 csv ({str(err)[:80]}); {fix}") from None
    folds: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        subject, fold = (row.get("subject_id") or "").strip(), (row.get("tuning_fold") or "").strip()
        if not subject or not (fold.isascii() and fold.isdigit()) or int(fold) > MAX_TUNING_FOLD:
            raise InputError(
                f"{path}: line {line} needs a subject_id and a tuning_fold from 0 to {MAX_TUNING_FOLD} "
                f"(found {subject[:40]!r}, {fold[:20]!r}); {fix}"
            )
        if subject in folds:
            raise InputError(f"{path}: line {line}: subject {subject[:60]!r} is listed twice; list each once, or {fix}")
        folds[subject] = int(fold)
    return folds
