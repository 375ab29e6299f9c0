"""Size limits on what an input file claims, checked before anything of that size is allocated.

A 0.5 MB `.nii.gz` can claim gigabytes of voxels and a 2 MB checkpoint can hold a zip member
that inflates to gigabytes; reading either first and checking afterwards is too late. The readers
(`patch2loc.checks.claims`, `patch2loc.run.checkpoint`, the DICOM reader) compare the size a file declares
with these limits and refuse it in one line that names the limit and how to raise it.

- `PATCH2LOC_MAX_IMAGE_MB` (default 1024): one image in memory, voxels x max(bytes per voxel, 4)
  (every volume is converted to float32). The paper's 1 mm scans are 10-70 MB; a 512^3 float32
  volume is 512 MB.
- `PATCH2LOC_MAX_CHECKPOINT_MB` (default 1024): the sum of the uncompressed sizes a checkpoint's
  zip archive declares (a Patch2Loc `last.pt` with its optimizer state is about 140 MB).
- `PATCH2LOC_MAX_BUNDLE_MB` (default 2048): the sum of the sizes a model bundle's members declare
  (unpacked into the temporary folder; a five-fold Patch2Loc bundle is about 230 MB).
- `PATCH2LOC_MEMORY_BUDGET_MB` (default 4096): the peak memory predict may plan for one scan,
  estimated from the headers and settings before any voxel is read (predict/budget.py).
"""

from __future__ import annotations

import math
import os

from patch2loc.errors import InputError

IMAGE_ENV = "PATCH2LOC_MAX_IMAGE_MB"
CHECKPOINT_ENV = "PATCH2LOC_MAX_CHECKPOINT_MB"
BUNDLE_ENV = "PATCH2LOC_MAX_BUNDLE_MB"
MEMORY_ENV = "PATCH2LOC_MEMORY_BUDGET_MB"
DEFAULT_MB = {IMAGE_ENV: 1024.0, CHECKPOINT_ENV: 1024.0, BUNDLE_ENV: 2048.0, MEMORY_ENV: 4096.0}
MB = 1024 * 1024


def limit_bytes(env: str) -> int:
    """The limit in bytes from the environment variable `env` (or its default)."""
    text = os.environ.get(env, "").strip()
    if not text:
        return int(DEFAULT_MB[env] * MB)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{env}={text!r}: must be a positive number of megabytes (default {DEFAULT_MB[env]:g}).")
    return int(value * MB)


def check_image_size(path, shape, itemsize: int, what: str) -> None:
    """Refuse an image whose claimed voxels would take more memory than PATCH2LOC_MAX_IMAGE_MB."""
    voxels = math.prod(int(n) for n in shape)
    need = voxels * max(int(itemsize), 4)
    limit = limit_bytes(IMAGE_ENV)
    if need > limit:
        dims = " x ".join(str(int(n)) for n in shape)
        raise InputError(
            f"{path}: {what} claims {dims} voxels ({need / MB:,.0f} MB in memory), more than the "
            f"limit of {limit / MB:,.0f} MB; nothing was read. If the scan is real, raise the limit "
            f"(environment variable {IMAGE_ENV}); otherwise the file is corrupt or crafted."
        )


def check_checkpoint_size(path, declared: int, what: str) -> None:
    """Refuse a checkpoint whose archive declares more than PATCH2LOC_MAX_CHECKPOINT_MB."""
    limit = limit_bytes(CHECKPOINT_ENV)
    if declared > limit:
        raise InputError(
            f"{path}: the {what}'s archive declares {declared / MB:,.0f} MB of contents, more than "
            f"the limit of {limit / MB:,.0f} MB; nothing was loaded. If it is a real Patch2Loc "
            f"checkpoint, raise the limit (environment variable {CHECKPOINT_ENV}); otherwise "
            "the file is corrupt or crafted."
        )
