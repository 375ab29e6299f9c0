"""What the figures need from the patch tables, read in chunks: never every patch row at once.

At paper scale the `patches.csv.gz` files of one dataset hold about 20 M rows over the folds. The
KDE figure uses at most `max_points` patches per class (and the full count for its legend); the
ellipse figure uses the rows of one grid location. Both are gathered here chunk by chunk, so the
`figures` rule's memory is bounded by the chunk size, not by the dataset:

- `sample_classes`: a uniform random sample of at most `max_points` normal and abnormal patches
  and the exact count of each class (each row gets a random key from a seeded generator, in file
  order; the rows with the smallest keys are kept, which merges across chunks and files and does
  not depend on the chunk size);
- `rows_at_best_location`: the lowest fold's rows at the location `analysis.location_with_both`
  would pick from the pooled table (counts summed chunk by chunk, then the same choice).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from patch2loc.evaluation.patches.classes import PatchClasses
from patch2loc.evaluation.patches.statistics import best_location, location_counts
from patch2loc.errors import InputError

CHUNK_ROWS = 200_000
CLASSES = ("normal", "abnormal")


def _chunks(paths: Iterable[str | os.PathLike], dataset: str, chunksize: int) -> Iterator[pd.DataFrame]:
    """The rows of `dataset` in every file, `chunksize` rows at a time."""
    for path in paths:
        with pd.read_csv(path, chunksize=chunksize) as reader:
            for chunk in reader:
                for column in ("dataset", "lesion_fraction"):
                    if column not in chunk.columns:
                        raise InputError(
                            f"{path}: patch table lacks '{column}'; build it with "
                            "analysis.patch_statistics (rerun the scoring rule)."
                        )
                chunk = chunk[chunk["dataset"] == dataset]
                if len(chunk):
                    yield chunk


def sample_classes(
    paths: Iterable[str | os.PathLike],
    dataset: str,
    max_points: int = 10000,
    seed: int = 0,
    chunksize: int = CHUNK_ROWS,
    definition: PatchClasses = PatchClasses(),
) -> tuple[pd.DataFrame, dict[str, int]]:
    """At most `max_points` random normal and abnormal patches of `dataset` by `definition` (mixed
    ones are left out), and the number of each class in all the files."""
    rng = np.random.default_rng(seed)
    kept: dict[str, tuple[np.ndarray, pd.DataFrame]] = {}
    counts = dict.fromkeys(CLASSES, 0)
    for chunk in _chunks(paths, dataset, chunksize):
        cls = definition.of(chunk)
        chunk_keys = rng.random(len(chunk))  # one key per row in file order: the chunk size does not matter
        for c in CLASSES:
            rows, keys = chunk[cls == c], chunk_keys[cls == c]
            counts[c] += len(rows)
            if c in kept:
                keys = np.concatenate([kept[c][0], keys])
                rows = pd.concat([kept[c][1], rows], ignore_index=True)
            order = np.argsort(keys, kind="stable")[:max_points]
            kept[c] = (keys[order], rows.iloc[order].reset_index(drop=True))
    if not any(counts.values()) and not kept:
        raise InputError(f"no patches of dataset {dataset!r} in the patch tables; check the patches.csv inputs.")
    sample = pd.concat([kept[c][1] for c in CLASSES if c in kept], ignore_index=True)
    return sample, counts


def rows_at_best_location(
    paths: list[str | os.PathLike],
    dataset: str,
    chunksize: int = CHUNK_ROWS,
    definition: PatchClasses = PatchClasses(),
) -> tuple[pd.DataFrame, tuple[int, int, int]]:
    """The lowest fold's rows at the (z, x, y) with the most normal and abnormal patches (by
    `definition`) across subjects (as `analysis.location_with_both` on that fold's pooled rows), in
    two passes."""
    counts: dict[int, pd.DataFrame] = {}
    for chunk in _chunks(paths, dataset, chunksize):
        for fold, rows in chunk.groupby("fold"):
            here = location_counts(rows, definition)
            counts[fold] = here if fold not in counts else counts[fold].add(here, fill_value=0)
    if not counts:
        raise InputError(f"no patches of dataset {dataset!r} in the patch tables; check the patches.csv inputs.")
    fold = min(counts)
    z, x, y = best_location(counts[fold])
    parts = [
        c[(c["fold"] == fold) & (c["z"] == z) & (c["x"] == x) & (c["y"] == y)]
        for c in _chunks(paths, dataset, chunksize)
    ]
    return pd.concat(parts, ignore_index=True), (z, x, y)
