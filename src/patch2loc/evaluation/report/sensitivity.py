"""How large and how bright must an anomaly be before a trained model's score flags it?

Paints spheres of chosen radii and intensities into a *healthy* normalised volume at random deep
brain centres, scores the painted voxels with Patch2Loc (raw score, stride 1, no median filter)
and with Thresh (the intensity itself), and reports where the sphere's mean score falls among
the healthy volume's own in-brain scores (percentile 0.5: invisible; near 1: flagged). This
separates "the lesions are too small for this model" from "the pipeline loses them".

    python -m patch2loc.evaluation.report.sensitivity --checkpoint results/demo/models/T2/fold0/best.pt \\
        --image results/demo/normalized/IXI/T2/<subject>/image.nii.gz \\
        --mask results/demo/preprocessed/IXI/T2/<subject>/mask.nii.gz --out sensitivity.csv
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from patch2loc.errors import InputError
from patch2loc.files.io import load_case
from patch2loc.files.outputs import check_output
from patch2loc.files.staging import atomic_output
from patch2loc.registry import BASELINE, DEFAULT_METHOD

# score_at(volume, centres [N, 3] int64) -> score per centre [N]
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


def paint_sphere(
    volume: np.ndarray, mask: np.ndarray, centre: Sequence[int], radius: float, value: float
) -> tuple[np.ndarray, np.ndarray]:
    """A copy of `volume` with the in-brain voxels within `radius` voxels of `centre` set to `value`."""
    grid = np.indices(volume.shape, dtype=np.float32)
    dist2 = sum((grid[i] - centre[i]) ** 2 for i in range(3))
    ball = (dist2 <= radius * radius) & mask
    painted = volume.copy()
    painted[ball] = value
    return painted, ball


def pick_centres(mask: np.ndarray, n: int, seed: int, depth: int = 5) -> np.ndarray:
    """`n` centres at least `depth` voxels inside the brain, away from the first and last slices."""
    deep = ndimage.binary_erosion(mask, iterations=depth)
    z = mask.shape[2]
    deep[:, :, : z // 3] = False
    deep[:, :, 2 * z // 3 :] = False
    candidates = np.argwhere(deep)
    if len(candidates) < n:
        raise ValueError(f"only {len(candidates)} deep brain voxels; the mask is too small for {n} spheres")
    return candidates[np.random.default_rng(seed).choice(len(candidates), n, replace=False)]


def sphere_sensitivity(
    scorers: dict[str, Scorer],
    volume: np.ndarray,
    mask: np.ndarray,
    centres: np.ndarray,
    radii: Sequence[float],
    levels: Sequence[float],
    low_pct: float = 30.0,
    high_pct: float = 97.0,
) -> pd.DataFrame:
    """One row per (method, radius, level): sphere size, mean score change, percentile among healthy.

    A sphere's intensity is `low + level * (high - low)`, with `low`/`high` the in-brain
    intensity percentiles `low_pct`/`high_pct` (in T2: about white matter and CSF).
    """
    mask = mask.astype(bool)
    brain = np.argwhere(mask).astype(np.int64)
    low, high = np.percentile(volume[mask], [low_pct, high_pct])
    healthy = {name: np.full(volume.shape, np.nan, np.float32) for name in scorers}
    for name, score_at in scorers.items():
        healthy[name][mask] = score_at(volume, brain)
    ranked = {name: np.sort(h[mask]) for name, h in healthy.items()}
    rows = []
    for radius in radii:
        for level in levels:
            value = float(low + level * (high - low))
            change = {name: [] for name in scorers}
            pct = {name: [] for name in scorers}
            size = []
            for centre in centres:
                painted, ball = paint_sphere(volume, mask, centre, radius, value)
                inside = np.argwhere(ball).astype(np.int64)
                size.append(int(ball.sum()))
                for name, score_at in scorers.items():
                    scores = score_at(painted, inside)
                    change[name].append(float(np.mean(scores - healthy[name][ball])))
                    pct[name].append(np.searchsorted(ranked[name], float(np.mean(scores))) / len(ranked[name]))
            for name in scorers:
                rows.append(
                    {
                        "method": name,
                        "radius_vox": radius,
                        "level": level,
                        "voxels": float(np.mean(size)),
                        "score_change": float(np.mean(change[name])),
                        "percentile": float(np.mean(pct[name])),
                        "percentile_min": float(np.min(pct[name])),
                        "percentile_max": float(np.max(pct[name])),
                    }
                )
    return pd.DataFrame(rows)


def intensity_at(volume: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Thresh's score: the intensity itself."""
    return volume[tuple(centres.T)].astype(np.float32)


def patch2loc_scorer(checkpoint: str | Path, mask: np.ndarray, device: str | None = None) -> Scorer:
    """Raw Patch2Loc score (no median filter) at given centres, from a checkpoint (weights only)."""
    from patch2loc.methods.patch2loc.heatmap import predict_at
    from patch2loc.methods.patch2loc.model import load_model

    model, _ = load_model(str(checkpoint))
    return lambda volume, centres: predict_at(model, volume, mask, centres, device=device, amp="none")["score"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="a trained model (best.pt or last.pt)")
    ap.add_argument("--image", required=True, help="a healthy, normalised volume on the model's grid")
    ap.add_argument("--mask", required=True, help="its brain mask")
    ap.add_argument("--out", required=True, help="csv to write (must not exist)")
    ap.add_argument("--radii", type=float, nargs="+", default=[0.8, 1.5, 2.5, 4.0], help="voxels")
    ap.add_argument("--levels", type=float, nargs="+", default=[0.5, 0.9])
    ap.add_argument("--spheres", type=int, default=8, help="centres per (radius, level)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    try:
        out = Path(a.out)
        if out.exists():
            raise InputError(f"{out}: --out exists; choose a new file name (nothing is overwritten).")
        check_output(out, "--out", (".csv",), {"--image": a.image, "--mask": a.mask, "--checkpoint": a.checkpoint})
        case = load_case(a.image, a.mask)
        mask = case.mask
        scorers = {DEFAULT_METHOD: patch2loc_scorer(a.checkpoint, mask), BASELINE: intensity_at}
        try:
            centres = pick_centres(mask, a.spheres, a.seed)
        except ValueError as err:
            raise InputError(f"{a.mask}: {err}; pass the brain mask of a whole brain or fewer --spheres.") from None
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = sphere_sensitivity(scorers, case.image.data, mask, centres, a.radii, a.levels)
    with atomic_output(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4g")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
