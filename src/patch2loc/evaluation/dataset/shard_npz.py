"""The .npz files a merge of scoring shards reads (tuning.npz, pooled.npz), checked before any number is used.

A shard's file is a file on disk like any other: a truncated one ended in a zipfile traceback, and a
crafted one with negative voxel counts gave a validation-tuned Dice of 3.3 with exit 0. Each file is
now opened only when it is a regular file whose zip directory declares, with every other shard file
of the merge, at most the memory budget (PATCH2LOC_MEMORY_BUDGET_MB: np.load inflates what is
declared), holds exactly the arrays its writer writes, each of its writer's type and shape, and
counts no voxel twice or below zero. Then Dice stays within [0, 1]: a volume's lesion voxels above a
threshold never exceed its voxels above it, nor its lesion voxels.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from patch2loc.checks.claims import regular_file
from patch2loc.checks.limits import MB, MEMORY_ENV, limit_bytes
from patch2loc.errors import InputError

MAX_ARRAYS = 64  # a tuning.npz holds 13, a pooled.npz 4
# A volume of more voxels than this is beyond PATCH2LOC_MAX_IMAGE_MB's reach (8 GB as float32); the
# bound also keeps every sum of counts far inside int64 and float64's exact integers.
MAX_VOLUME_VOXELS = 2**31
MAX_POOLED_VOXELS = 2**46  # a pooled histogram's voxels, summed over a set's volumes


def fix(what: str) -> str:
    return f"Delete it and rerun the scoring job that writes {what}."


def bad(path, what: str, problem: str) -> InputError:
    return InputError(f"{path}: not a {what} file as a scoring shard writes it ({problem}). {fix(Path(path).name)}")


def check_declared(paths: list, what: str) -> None:
    """Every file a regular file whose zip directory declares, with the others, at most the memory budget."""
    total, budget = 0, limit_bytes(MEMORY_ENV)
    for path in paths:
        regular_file(path, what, fix(Path(path).name))
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise bad(path, what, f"not a readable .npz archive: {str(exc)[:80]}") from None
        if len(infos) > MAX_ARRAYS:
            raise bad(path, what, f"it lists {len(infos):,} arrays")
        total += sum(info.file_size for info in infos)
        if total > budget:
            raise InputError(
                f"{path}: the shards' {what} files declare {total / MB:,.0f} MB of arrays, more than the memory "
                f"budget of {budget / MB:,.0f} MB; nothing was loaded. If the scores are real, raise the budget "
                f"(environment variable {MEMORY_ENV}); otherwise delete the file and rerun its scoring job."
            )


def load_arrays(path, what: str, layout: dict[str, tuple[str, int]]) -> dict[str, np.ndarray]:
    """The arrays of a checked .npz: exactly the names of `layout` ({name: (dtype, ndim)}), each of that
    dtype and number of dimensions (call check_declared first)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an .npz archive")
            names = set(z.files)
            if names != set(layout):
                missing, extra = sorted(set(layout) - names), sorted(names - set(layout))
                raise ValueError(f"missing {missing[:3]}" if missing else f"unexpected arrays {extra[:3]}")
            arrays = {name: z[name] for name in layout}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise bad(path, what, str(exc)[:120] or type(exc).__name__) from None
    for name, (dtype, ndim) in layout.items():
        a = arrays[name]
        if not (a.dtype.kind == "U" if dtype == "U" else a.dtype == np.dtype(dtype)):
            raise bad(path, what, f"{name} holds {a.dtype}, not {'text' if dtype == 'U' else dtype}")
        if a.ndim != ndim:
            raise bad(path, what, f"{name} has {a.ndim} dimensions, not {ndim}")
    return arrays


def check_counts(path, what: str, lesion: np.ndarray, other: np.ndarray, limit: int) -> None:
    """Voxel counts: as many lesion as other counts, none below zero or above `limit`."""
    if lesion.shape != other.shape:
        raise bad(path, what, f"{lesion.size} lesion counts but {other.size} other counts")
    for name, counts in (("lesion", lesion), ("other", other)):
        if counts.size and (counts.min() < 0 or counts.max() > limit):
            raise bad(path, what, f"{name} voxel counts from {counts.min()} to {counts.max()}, outside 0 ... {limit:,}")


def segment_totals(offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The sum of `counts` in each segment offsets[i]:offsets[i + 1] (counts checked: no overflow)."""
    running = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    return running[offsets[1:]] - running[offsets[:-1]]
