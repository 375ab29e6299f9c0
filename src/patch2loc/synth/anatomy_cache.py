"""The derived maps of a fetched anatomy source, as `anatomies.anatomy_1mm` caches them, checked when read.

The cache is a file in the user's home (or PATCH2LOC_ANATOMY_CACHE) that any process could have
written: it was loaded unchecked, so maps of another grid, NaN intensities or probabilities above one
went into every synthetic subject. A cached file is read only when it is a regular file of at most
MAX_FILE_BYTES whose arrays declare at most MAX_ARRAY_BYTES, and used only when it holds exactly the
arrays the derivation writes, each of its type, on the MNI152 grid of the reference with its affine,
finite intensities, tissue probabilities that sum to at most one (255 steps each, rounded) and are zero
outside a non-empty brain. Anything else is one line: delete the file and it is derived again.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from patch2loc.data.cache import regular_cached
from patch2loc.errors import InputError

MAX_FILE_BYTES = 64 << 20  # a derived source is about 6 MB
MAX_ARRAY_BYTES = 256 << 20  # its arrays about 43 MB
DTYPES = {"affine": np.float64, "t1": np.float16, "brain": np.bool_, "gm": np.uint8, "wm": np.uint8}


def fix(path: Path) -> str:
    return f"Delete {path.name} and it is derived again (or leave the source out of demo.anatomies)."


def is_cached(path: Path) -> bool:
    return regular_cached(path, MAX_FILE_BYTES, fix(path))


def _arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
        if declared > MAX_ARRAY_BYTES:
            raise ValueError(f"its arrays declare {declared >> 20} MB")
        with np.load(path, allow_pickle=False) as z:
            if sorted(z.files) != sorted(DTYPES):
                raise ValueError(f"arrays {sorted(z.files)[:6]}, not {sorted(DTYPES)}")
            arrays = {k: z[k] for k in DTYPES}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputError(f"{path}: not the cached maps of an anatomy ({str(exc)[:100]}). {fix(path)}") from None
    for name, dtype in DTYPES.items():
        if arrays[name].dtype != dtype:
            raise InputError(f"{path}: its {name} holds {arrays[name].dtype}, not {np.dtype(dtype)}. {fix(path)}")
    return arrays


def read_maps(path: Path, shape: tuple[int, ...], affine: np.ndarray) -> dict[str, np.ndarray]:
    """The checked arrays of a cached source (see the module doc); `shape` and `affine`: the reference grid's."""
    z = _arrays(path)
    problem = None
    if z["affine"].shape != (4, 4) or not np.allclose(z["affine"], affine):
        problem = "its affine is not the MNI152 grid's"
    elif any(z[k].shape != tuple(shape) for k in ("t1", "brain", "gm", "wm")):
        problem = f"its maps are not on the {list(shape)} MNI152 grid"
    elif not np.isfinite(z["t1"]).all():
        problem = "its T1 holds NaN or infinite values"
    elif not z["brain"].any():
        problem = "its brain mask is empty"
    elif int((z["gm"].astype(np.uint16) + z["wm"]).max()) > 256:
        problem = "its grey- and white-matter probabilities sum to more than one"
    elif z["gm"][~z["brain"]].any() or z["wm"][~z["brain"]].any():
        problem = "it has tissue outside its brain mask"
    if problem:
        raise InputError(f"{path}: not the cached maps of an anatomy ({problem}). {fix(path)}")
    return z
