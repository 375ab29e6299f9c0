"""Learning sanity check: a short CPU training on a synthetic phantom must locate patches.

The phantom (32 x 32 x 16, ellipsoidal "brain") has a position-dependent texture: even columns
hold the row coordinate, odd columns the column coordinate, blurred by a per-subject smooth random
field and noise, so a 4 x 4 patch carries its own location. After a few hundred steps the
validation location error must be well below the error of always predicting the mean position.

    python studies/train_sanity.py [--steps 1000] [--patches 32] [--threads 1]

Prints the loss curve and exits non-zero if val_error >= 0.5 * centre_error at the end.
A script rather than a test: with the paper's lr (1e-2, Adam) the mean head needs a few hundred
steps just to reach the 0-100 target range, so a convincing run takes ~1000 steps, about 4.5 min
on one shared CPU core (measured: val_error 6.6% vs centre_error 24.5% at step 1000; 13.2% at 600).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np
from scipy.ndimage import gaussian_filter

from patch2loc.methods.patch2loc.train import TrainConfig, train

SHAPE = (32, 32, 16)


def phantom(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n subjects of the position-textured phantom -> (images float32, brain masks bool)."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*[np.linspace(-1, 1, s) for s in SHAPE], indexing="ij")
    images = np.empty((n, *SHAPE), np.float32)
    masks = np.empty((n, *SHAPE), bool)
    for i in range(n):
        radii = 0.85 + 0.1 * rng.random(3)
        masks[i] = (x / radii[0]) ** 2 + (y / radii[1]) ** 2 + (z / radii[2]) ** 2 <= 1
        texture = np.where(np.arange(SHAPE[1])[None, :, None] % 2 == 0, x, y)
        field = gaussian_filter(rng.standard_normal(SHAPE), 4) * 2
        images[i] = 1 + texture + 0.2 * field + 0.05 * rng.standard_normal(SHAPE)
    return images, masks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--patches", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--val-every", type=int, default=100)
    args = ap.parse_args(argv)

    train_images, train_masks = phantom(8, 0)
    val_images, val_masks = phantom(2, 1)
    cfg = TrainConfig(
        steps=args.steps,
        patches_per_step=args.patches,
        lr=args.lr,
        val_every=args.val_every,
        val_batches=4,
        device="cpu",
        num_threads=args.threads,
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        summary = train(train_images, train_masks, val_images, val_masks, cfg, out, progress=False)
        print(open(f"{out}/loss.csv").read())
    last = summary["last"]
    print(
        f"{args.steps} steps x {args.patches} patches in {time.perf_counter() - start:.1f} s "
        f"({args.threads} thread(s)); final val_error {last['val_error']:.2f}% vs "
        f"centre_error {last['centre_error']:.2f}% (ratio {last['val_error'] / last['centre_error']:.2f})"
    )
    return 0 if last["val_error"] < 0.5 * last["centre_error"] else 1


if __name__ == "__main__":
    sys.exit(main())
