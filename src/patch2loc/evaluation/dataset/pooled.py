"""pooled.npz: the mergeable summary behind a pooled AUPRC (evaluate.protocol reference, a method whose
reference protocol pools the set's voxels; docs/protocols.md). One per scoring shard, summed into one per
(method, modality, fold, lesion set) by merge_score_shards, read by the protocols table. Holds the
half-precision score histogram of scoring.steps (empty when nothing is pooled) and its keys."""

from __future__ import annotations

import json
import os

import numpy as np

from patch2loc.checks.parsing import load_json
from patch2loc.evaluation.dataset import shard_npz
from patch2loc.files.staging import atomic_output
from patch2loc.scoring import steps

WHAT = "pooled-score"
LAYOUT = {"values": ("float16", 1), "lesion": ("int64", 1), "other": ("int64", 1), "meta": ("U", 0)}


def write_pooled(path: str | os.PathLike, hist: steps.Histogram, meta: dict) -> None:
    values, lesion, other = hist
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, values=values, lesion=lesion, other=other, meta=np.array(json.dumps(meta, sort_keys=True)))


def read_pooled(path: str | os.PathLike) -> tuple[steps.Histogram, dict]:
    """A checked pooled.npz (shard_npz.py): ascending distinct float16 scores, voxel counts in range, its
    keys a JSON object."""
    shard_npz.check_declared([path], WHAT)
    z = shard_npz.load_arrays(path, WHAT, LAYOUT)
    values, lesion, other = z["values"], z["lesion"], z["other"]
    if values.size != lesion.size or np.isnan(values).any() or np.any(np.diff(values.astype(np.float64)) <= 0):
        raise shard_npz.bad(path, WHAT, "its scores are not distinct, ascending numbers, one per count")
    shard_npz.check_counts(path, WHAT, lesion, other, shard_npz.MAX_POOLED_VOXELS)
    if int(lesion.sum()) + int(other.sum()) > shard_npz.MAX_POOLED_VOXELS:
        raise shard_npz.bad(path, WHAT, f"it counts more than {shard_npz.MAX_POOLED_VOXELS:,} voxels")
    try:
        meta = load_json(str(z["meta"]), f"{path}: meta")
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise shard_npz.bad(path, WHAT, "its meta is not a JSON object")
    return (values, lesion, other), meta


def merge_pooled(paths: list, out: str | os.PathLike) -> int:
    """Sum the shards' histograms into `out` (their meta without the shard); the voxels counted."""
    shard_npz.check_declared(paths, WHAT)
    parts = [read_pooled(p) for p in paths]
    hist = steps.merge_histograms([h for h, _ in parts])
    metas = [{k: v for k, v in meta.items() if k != "shard"} for _, meta in parts]
    for path, meta in zip(paths, metas):
        if meta != metas[0]:  # another method's, model's or set's scores
            raise shard_npz.bad(path, WHAT, f"its keys {str(meta)[:80]} differ from the first shard's")
    meta = metas[0] if metas else {}
    write_pooled(out, hist, meta)
    return int(hist[1].sum() + hist[2].sum())
