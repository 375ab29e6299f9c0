"""pooled.npz: the mergeable summary behind a pooled AUPRC (evaluate.protocol reference, a method whose
reference protocol pools the set's voxels; docs/protocols.md). One per scoring shard, summed into one per
(method, modality, fold, lesion set) by merge_score_shards, read by the protocols table. Holds the
half-precision score histogram of scoring.steps (empty when nothing is pooled) and its keys."""

from __future__ import annotations

import json
import os

import numpy as np

from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output
from patch2loc.scoring import steps


def write_pooled(path: str | os.PathLike, hist: steps.Histogram, meta: dict) -> None:
    values, lesion, other = hist
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, values=values, lesion=lesion, other=other, meta=np.array(json.dumps(meta, sort_keys=True)))


def read_pooled(path: str | os.PathLike) -> tuple[steps.Histogram, dict]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return (z["values"], z["lesion"], z["other"]), json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"{path}: not a pooled-score file ({err}). Delete it and rerun its scoring.") from err


def merge_pooled(paths: list, out: str | os.PathLike) -> int:
    """Sum the shards' histograms into `out` (their meta without the shard); the voxels counted."""
    parts = [read_pooled(p) for p in paths]
    hist = steps.merge_histograms([h for h, _ in parts])
    meta = {k: v for k, v in (parts[0][1] if parts else {}).items() if k != "shard"}
    write_pooled(out, hist, meta)
    return int(hist[1].sum() + hist[2].sum())
