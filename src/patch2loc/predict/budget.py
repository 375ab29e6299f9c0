"""The memory one scan's predict job will need, estimated from headers and settings before any voxel
is read, and refused above a budget (PATCH2LOC_MEMORY_BUDGET_MB, default 4096 MB).

A size limit on one image (PATCH2LOC_MAX_IMAGE_MB) is not a memory budget: a 0.5 MB `.nii.gz`
claiming 640^3 uint8 voxels is 1,000 MB as float32, within the limit, but the chain makes many
copies of it (reading and clipping, the ITK image, resampling, registration, the native-space
outputs) and passed 6 GB. The job runs in stages, one after the other; the estimate is the
largest stage plus the models, each stage a sum of arrays of the grids it works on:

    N  voxels of the scan (its header; a DICOM series: rows x columns x slices)
    R  the scan resampled to the run's spacing          N x (scan voxel volume / spacing^3)
    A  the atlas on the run's grid (--from-run/--model) atlas voxels x (atlas voxel volume / spacing^3)
    T  the grid the model scores: the run's target_shape, or the scan's own grid without a run

    reading the scan        (bytes per stored voxel + READ) x N    float32 copy, |x|, nonzero, percentile
    registration chain      NATIVE x N + RESAMPLED x R + ATLAS x A   (--from-run / --model)
    scoring                 the larger of LOOP x T + the batch's activations (the method's
                            `activation_bytes`: Patch2Loc's batch x patch^2 x 128, the DAE's 16
                            slices x slice side^2 x 1600) while the network runs, and SCORE x T
                            for the maps after
    native-space outputs    OUTPUT x N (+ reading the scan again for --html)   (--from-run / --model)
    models                  2 x the checkpoints' sizes on disk (the state dict and the network)

The per-voxel factors are bytes and were measured (anonymous memory of the CLI, sampled every
20 ms; studies/hostile_memory_budget.py prints estimate and measurement side by side); the
estimate is meant to be at or above the measured peak, never far below it. The libraries
themselves (torch, SimpleITK: about 0.8-1.1 GB of resident pages) are not part of the budget.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from patch2loc.checks.limits import MB, MEMORY_ENV, limit_bytes
from patch2loc.errors import InputError
from patch2loc.files.outputs import printable
from patch2loc.registry import implementation

READ = 17  # float32 copy 4 + |x| 4 + nonzero 4 + percentile's copy 4 + a boolean 1
NATIVE = 14  # the ITK image 4 (+ its clamp 4), the brain mask (uint8, float32 while read), kept through the chain
RESAMPLED = 24  # resampled image, masked copy, the registration's pyramid and smoothed copies
ATLAS = 30  # atlas image and mask read and resampled, warped scan, N4's field, exp, quotient, mask
LOOP = 16  # while the network runs: image, mask, region, the padded volume on the device
SCORE = 64  # after it: per-centre and full maps (3 each), numpy copies, the ensemble's float64 sum, the median
OUTPUT = 22  # native score, brain, ITK reference and resampled copy, lesion mask, labels, centroid weights


def _voxels(shape) -> int:
    return math.prod(int(n) for n in shape[:3])


def _volume(zooms) -> float:
    return math.prod(float(z) for z in zooms[:3])


def estimate(
    image,
    *,
    chain_grid: tuple | None,
    method: str,
    batch_size: int,
    stride: int,
    patch_size: int | None,
    model_bytes: int,
    html: bool,
) -> dict[str, float]:
    """Bytes of each stage of one scan's job (see the module doc). `image`: claims.Claims;
    `chain_grid`: (spacing, target_shape, atlas claims) with --from-run / --model, else None."""
    n = _voxels(image.shape)
    stages = {"reading the scan": (image.dtype.itemsize + READ) * n}
    if chain_grid is not None:
        spacing, target, atlas = chain_grid
        resampled = n * _volume(image.zooms) / _volume(spacing)
        atlas_grid = _voxels(atlas.shape) * _volume(atlas.zooms) / _volume(spacing)
        stages["the registration chain"] = NATIVE * n + RESAMPLED * resampled + ATLAS * atlas_grid
        stages["the native-space outputs"] = OUTPUT * n + (stages["reading the scan"] if html else 0)
        grid = tuple(int(s) for s in target)
    else:
        grid = tuple(int(s) for s in image.shape[:3])

    batch = implementation(method).activation_bytes(grid, {"batch_size": batch_size, "stride": stride}, patch_size)
    stages["scoring"] = max(LOOP * _voxels(grid) + batch, SCORE * _voxels(grid))
    return {name: size + model_bytes for name, size in stages.items()}


def model_bytes(checkpoints: list[Path]) -> int:
    """What the loaded models hold: the checkpoint dicts and the networks built from them."""
    total = 0
    for path in checkpoints:
        try:
            total += os.stat(path).st_size
        except OSError:  # read_checkpoint names it
            continue
    return 2 * total


def check_budget(
    scan,
    claims,
    chain,
    *,
    method: str,
    checkpoints: list[Path],
    batch_size: int,
    stride: int,
    patch_size: int | None = None,
    html: bool = False,
) -> None:
    """Refuse the scan when its job's estimated peak exceeds the budget (one line: the estimate,
    the stage, the budget and the variable that raises it). `claims`: preflight.check_claims'."""
    image, _ = claims
    if image is None:
        return
    chain_grid = None
    if chain is not None:
        from patch2loc.checks.claims import nifti_claims  # numpy: not at `patch2loc --help`

        atlas = nifti_claims(chain.atlas_image, "the run's recorded atlas")
        pre = chain.config["preprocess"]
        chain_grid = (pre.get("spacing", (1.0, 1.0, 1.0)), pre["target_shape"], atlas)
    stages = estimate(
        image,
        chain_grid=chain_grid,
        method=method,
        batch_size=batch_size,
        stride=stride,
        patch_size=patch_size,
        model_bytes=model_bytes(checkpoints),
        html=html,
    )
    stage, need = max(stages.items(), key=lambda item: item[1])
    budget = limit_bytes(MEMORY_ENV)
    if need > budget:
        dims = " x ".join(str(int(n)) for n in image.shape[:3])
        spacing = (
            (f" at the {list(chain_grid[0])} mm spacing of {printable(_settings_file(chain))} (preprocess.spacing)")
            if chain_grid
            else ""
        )
        raise InputError(
            f"{printable(scan.image)}: predicting this {dims} scan{spacing} needs about "
            f"{need / MB:,.0f} MB ({stage}), more than the memory budget of {budget / MB:,.0f} MB; "
            f"nothing was read. If the scan and settings are right and the machine has the memory, "
            f"raise the budget (environment variable {MEMORY_ENV}); otherwise check the scan's "
            f"header{' and that setting' if chain_grid else ''}."
        )


def _settings_file(chain) -> str:
    """Where the chain's settings come from: the run's resolved config, or the bundle's settings."""
    if "--model" in chain.given:
        return f"{chain.run}: settings.json"
    return str(chain.given.get("the run's config", chain.run))
