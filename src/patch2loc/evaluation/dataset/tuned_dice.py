"""Dice at a threshold tuned on labelled validation volumes (docs/evaluation.md, "Dice three ways").

Each scoring shard writes tuning.npz: per volume, the code histogram (scoring/tuning.py) of its graded
map under the shared protocol and, where the method's reference protocol tunes its Dice threshold on
validation volumes, of its reference map. When the shards are merged, each volume's threshold is tuned
on the volumes of the other tuning folds (`splits_dir`/<set>_val.csv) and applied to it: `dice_val`
and `val_threshold` (shared protocol) and, for such a reference protocol, `ref_dice` and
`ref_threshold`. No volume's own labels choose its threshold.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from patch2loc.errors import InputError
from patch2loc.evaluation.dataset import shard_npz
from patch2loc.files.staging import atomic_output
from patch2loc.scoring import tuning

KINDS = ("shared", "ref")  # the graded map of the shared protocol; the reference protocol's map
CROSSFIT_MODE = "threshold tuned on the other tuning fold's labelled volumes (cross-fitted), no component filter"
WHAT = "tuning-histogram"
Entry = dict  # {"subject": str, "shared": CodeHistogram, "ref": CodeHistogram | None}


def write_tuning(path: str | os.PathLike, entries: list[Entry]) -> None:
    """One npz of the volumes' histograms: per kind, the concatenated arrays and each volume's offset."""
    arrays = {"subjects": np.array([e["subject"] for e in entries], dtype=str)}
    for kind in KINDS:
        hists = [e.get(kind) or (np.zeros(0, np.uint16), np.zeros(0, np.int64), np.zeros(0, np.int64)) for e in entries]
        arrays[f"{kind}_present"] = np.array([e.get(kind) is not None for e in entries], bool)
        arrays[f"{kind}_offsets"] = np.cumsum([0] + [h[0].size for h in hists]).astype(np.int64)
        for i, name in enumerate(("codes", "lesion", "other")):
            parts = [h[i] for h in hists]
            dtype = np.uint16 if i == 0 else np.int64
            arrays[f"{kind}_{name}"] = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def _layout() -> dict[str, tuple[str, int]]:
    arrays = {"subjects": ("U", 1)}
    for kind in KINDS:
        arrays.update({f"{kind}_present": ("bool", 1), f"{kind}_offsets": ("int64", 1), f"{kind}_codes": ("uint16", 1)})
        arrays.update({f"{kind}_lesion": ("int64", 1), f"{kind}_other": ("int64", 1)})
    return arrays


def _check_kind(path, z: dict, kind: str, n: int) -> None:
    """One kind's histograms: a segment of ascending codes per volume, empty where absent, counts in range."""
    present, off, codes = z[f"{kind}_present"], z[f"{kind}_offsets"], z[f"{kind}_codes"]
    lesion, other = z[f"{kind}_lesion"], z[f"{kind}_other"]
    if present.size != n or off.size != n + 1 or codes.size != lesion.size:
        raise shard_npz.bad(path, WHAT, f"{kind}: {n} subjects, {present.size} flags, {off.size} offsets")
    if off[0] != 0 or off[-1] != codes.size or np.any(np.diff(off) < 0) or np.any(np.diff(off)[~present] != 0):
        raise shard_npz.bad(path, WHAT, f"{kind}_offsets do not split its {codes.size} codes into the volumes'")
    step = np.diff(codes.astype(np.int64))
    starts = np.zeros(codes.size, bool)
    starts[off[:-1][off[:-1] < codes.size]] = True
    if np.any(step[~starts[1:]] <= 0):
        raise shard_npz.bad(path, WHAT, f"{kind}: a volume's codes are not strictly ascending")
    shard_npz.check_counts(path, WHAT, lesion, other, shard_npz.MAX_VOLUME_VOXELS)
    if np.any(shard_npz.segment_totals(off, lesion + other) > shard_npz.MAX_VOLUME_VOXELS):
        raise shard_npz.bad(path, WHAT, f"{kind}: a volume counts more than {shard_npz.MAX_VOLUME_VOXELS:,} voxels")


def read_tuning(path: str | os.PathLike) -> dict[str, dict[str, tuning.CodeHistogram]]:
    """{kind: {subject: histogram}} of one tuning.npz (a kind's volumes without a histogram left out),
    checked (shard_npz.py; call shard_npz.check_declared on the merge's files first)."""
    z = shard_npz.load_arrays(path, WHAT, _layout())
    subjects = [str(s) for s in z["subjects"]]
    if len(set(subjects)) != len(subjects) or not all(subjects):
        raise shard_npz.bad(path, WHAT, "a subject is listed twice, or empty")
    for kind in KINDS:
        _check_kind(path, z, kind, len(subjects))
    if not z["shared_present"].all():
        raise shard_npz.bad(path, WHAT, "a volume has no histogram of its shared-protocol map")
    out = {}
    for kind in KINDS:
        off, present = z[f"{kind}_offsets"], z[f"{kind}_present"]
        codes, lesion, other = z[f"{kind}_codes"], z[f"{kind}_lesion"], z[f"{kind}_other"]
        out[kind] = {
            s: (codes[off[i] : off[i + 1]], lesion[off[i] : off[i + 1]], other[off[i] : off[i + 1]])
            for i, s in enumerate(subjects)
            if present[i]
        }
    return out


def crossfit(hists: dict[str, tuning.CodeHistogram], folds: dict[str, int]) -> dict[str, tuple[float, float]]:
    """{subject: (dice, threshold)}: each volume of a tuning fold at the threshold tuned on the pooled
    voxels of the other folds' volumes (NaN for volumes without a fold, or with no lesion to tune on)."""
    out = {s: (float("nan"), float("nan")) for s in hists}
    for fold in sorted({folds[s] for s in hists if s in folds}):
        tuned_on = [h for s, h in hists.items() if s in folds and folds[s] != fold]
        code = tuning.tune_code(tuned_on)
        t = float("nan") if code is None else tuning.threshold_of(code)
        for s, h in hists.items():
            if folds.get(s) == fold:
                out[s] = (tuning.dice_at_code(h, code), t)
    return out


def add_tuned_dice(metrics: pd.DataFrame, tuned: dict[str, dict], folds: dict[str, int] | None) -> pd.DataFrame:
    """The merged metrics with dice_val / val_threshold, and ref_dice / ref_threshold / ref_dice_mode filled
    for volumes whose reference protocol tunes on validation volumes; NaN where the run has no
    <set>_val.csv (`folds` None)."""
    out = metrics.copy()
    subjects = out["subject"].astype(str)
    shared = crossfit(tuned["shared"], folds) if folds is not None else {}
    out["dice_val"] = [shared.get(s, (np.nan, np.nan))[0] for s in subjects]
    out["val_threshold"] = [shared.get(s, (np.nan, np.nan))[1] for s in subjects]
    if tuned["ref"] and folds is not None and "ref_dice" in out:
        ref = crossfit(tuned["ref"], folds)
        has = subjects.isin(list(ref))
        out.loc[has, "ref_dice"] = [ref[s][0] for s in subjects[has]]
        out.loc[has, "ref_threshold"] = [ref[s][1] for s in subjects[has]]
        out.loc[has, "ref_dice_mode"] = CROSSFIT_MODE
    return out


def read_shards(paths: list) -> tuple[dict, dict]:
    """({kind: {subject: histogram}}, {subject: its file}) of every shard's tuning.npz, checked (a subject
    in two shards is refused); nothing is written, so the merge can check them before anything else."""
    shard_npz.check_declared(paths, WHAT)
    tuned, origin = {kind: {} for kind in KINDS}, {}
    for path in paths:
        for kind, hists in read_tuning(path).items():
            if kind == "shared":
                for s in hists:
                    if s in origin:
                        raise shard_npz.bad(path, WHAT, f"subject {s[:60]!r} is in {origin[s]} too")
                    origin[s] = path
            tuned[kind].update(hists)
    return tuned, origin


def merge_tuning(paths: list, metrics_csv: str | os.PathLike, folds: dict[str, int] | None, shards=None) -> int:
    """Add the tuned columns to a merged metrics csv (rewritten in place, atomically); the volumes tuned.
    The shards' histograms (`shards`: read_shards' when read already) must be those of the merged volumes,
    each once: a volume twice, or one the metrics lack, would tune the others' thresholds on voxels
    nobody scored."""
    tuned, origin = shards or read_shards(paths)
    metrics = pd.read_csv(metrics_csv, dtype={"subject": str})  # "001" stays "001", as the shards wrote it
    subjects = metrics["subject"].astype(str)
    if sorted(origin) != sorted(subjects):
        odd = sorted(set(origin) ^ set(subjects)) or ["(one twice)"]
        raise InputError(
            f"{metrics_csv}: its volumes and the shards' {Path(paths[0]).name} files differ (e.g. {odd[0][:60]!r}); "
            "each shard's files must come from one scoring job. Delete the shards and score again."
        )
    with atomic_output(metrics_csv) as tmp:
        add_tuned_dice(metrics, tuned, folds).to_csv(tmp, index=False)
    return 0 if folds is None else sum(s in folds for s in tuned["shared"])
