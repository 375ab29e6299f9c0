"""Checkpoints: written with torch.save, read without ever running code from the file.

A checkpoint is untrusted input (users apply models that others trained), and a pickle can call
any function while it is read. `read_checkpoint` therefore uses `torch.load(weights_only=True)`:
the unpickler only builds tensors, dicts, lists, tuples, strings and numbers. The only extra
types it accepts are numpy's uint32 array and torch's version string (`LEGACY_GLOBALS`), which
checkpoints written before this module held; new checkpoints store the numpy RNG state as a
tensor and plain numbers (`numpy_rng_to_plain`) and versions as plain strings. Anything else (a crafted `__reduce__`, an arbitrary class) is
refused with one line before any of it is built.

Before torch.load, the zip archive's central directory is read (`check_archive`): the sizes its
members declare (uncompressed) are bounded (PATCH2LOC_MAX_CHECKPOINT_MB, limits.py), so a small
file whose member inflates to gigabytes is refused before anything is inflated. After it, the
fields are checked (`field_problem`): patch_size a whole number in [1, MAX_PATCH] and within the
recorded training grid (ranges.py), the weights a dict of tensors, modality and config of the right
types, the training intensity range (config.intensity_range, intensities.py) finite and increasing.
`model.load_model` then compares every tensor's shape with the network's before building it.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from patch2loc.checks.claims import regular_file
from patch2loc.errors import InputError, WrongMethod, interruption
from patch2loc.checks.intensities import range_problem
from patch2loc.checks.limits import MB, check_checkpoint_size
from patch2loc.registry import DEFAULT_METHOD, METHODS
from patch2loc.files.staging import atomic_output
from patch2loc.checks.ranges import MAX_GRID, MAX_PATCH

MAX_MEMBERS = 100_000  # zip members (a last.pt has about 500)
MAX_PICKLE = 8 * MB  # the pickle that describes the tensors (about 50 kB in a last.pt)

# Checkpoints written before this module held their numpy RNG state as a uint32 array
# (_reconstruct only makes an ndarray of an allowed dtype class; it calls nothing else) and
# torch's version as a TorchVersion (a str subclass).
_multiarray = getattr(np, "_core", None) or np.core  # numpy 2 renamed numpy.core to numpy._core
LEGACY_GLOBALS = [
    _multiarray.multiarray._reconstruct,
    np.ndarray,
    np.dtype,
    type(np.dtype(np.uint32)),
    torch.torch_version.TorchVersion,
]


def numpy_rng_to_plain(state: tuple) -> dict:
    """np.random.get_state() -> tensors and numbers only (loadable with weights_only=True)."""
    name, keys, pos, has_gauss, cached = state
    return {
        "name": str(name),
        "keys": torch.from_numpy(np.asarray(keys, np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def numpy_rng_from_plain(state) -> tuple:
    """Inverse of `numpy_rng_to_plain`; also accepts the legacy tuple."""
    if isinstance(state, dict):
        keys = np.asarray(state["keys"].numpy() if torch.is_tensor(state["keys"]) else state["keys"])
        return (state["name"], keys.astype(np.uint32), state["pos"], state["has_gauss"], state["cached_gaussian"])
    return tuple(state)


def save_checkpoint(path: str | os.PathLike, ckpt: dict) -> None:
    """torch.save atomically (temporary name, then rename) with the user's file mode.

    Saved through a file object: given a path, torch names the archive's root folder after it, so
    the random temporary name made identical weights differ byte for byte from run to run.
    """
    try:
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            torch.save(ckpt, fh)
    except RuntimeError as exc:  # a SIGTERM or Ctrl-C mid-write is that, not a write error
        interrupt = interruption(exc)
        if interrupt is None:
            raise
        raise interrupt from None


def _refused_globals(message: str) -> str:
    return ", ".join(dict.fromkeys(re.findall(r"GLOBAL ([\w.]+)", message)))


def check_archive(path: Path, what: str, fix: str) -> None:
    """The archive's own directory, read before torch.load: a torch.save zip file whose members
    declare at most PATCH2LOC_MAX_CHECKPOINT_MB in all (nothing is inflated to find out)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise InputError(
            f"{path}: cannot be read as a {what} (truncated, or not a torch.save zip archive; nothing "
            f"from it was run). {fix}"
        ) from None
    if len(members) > MAX_MEMBERS:
        raise InputError(
            f"{path}: the {what}'s archive lists {len(members):,} members (a checkpoint has about 500); "
            f"nothing was loaded. {fix}"
        )
    check_checkpoint_size(path, sum(m.file_size for m in members), what)
    for m in members:
        if m.filename.endswith("data.pkl") and m.file_size > MAX_PICKLE:
            raise InputError(
                f"{path}: the {what}'s pickle declares {m.file_size / MB:,.0f} MB (a checkpoint's is "
                f"under 1 MB); nothing was loaded. {fix}"
            )


def own_fields(method: str | None) -> tuple[str, ...]:
    """What a method's checkpoints hold beyond the weights (its registry line; e.g. Patch2Loc's patch_size)."""
    return METHODS[method].checkpoint_fields if method in METHODS else ()


def field_problem(ckpt: dict, method: str | None = DEFAULT_METHOD) -> str | None:
    """What is wrong with the fields predict and train read (None when they are usable); a method's
    own fields (`own_fields`) must be there, and patch_size be a patch side when present."""
    weights = ckpt["model"]
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        return "'model' is not a dict of named tensors"
    patch = ckpt.get("patch_size")
    if ("patch_size" in own_fields(method) or patch is not None) and (
        type(patch) is not int or not 1 <= patch <= MAX_PATCH
    ):
        return f"patch_size is {str(patch)[:40]!r}; it must be a whole number from 1 to {MAX_PATCH}"
    config = ckpt.get("config")
    if config is not None and not isinstance(config, dict):
        return f"'config' is a {type(config).__name__}, not a dict"
    for where, value in (("modality", ckpt.get("modality")), ("config.modality", (config or {}).get("modality"))):
        if value is not None and not (isinstance(value, str) and len(value) <= 64):
            return f"{where} is {str(value)[:40]!r}, not a modality name"
    for where, shape in (
        ("volume_shape", ckpt.get("volume_shape")),
        ("config.volume_shape", (config or {}).get("volume_shape")),
    ):
        if shape is None:
            continue
        if not (
            isinstance(shape, (list, tuple))
            and len(shape) == 3
            and all(type(n) is int and 1 <= n <= MAX_GRID for n in shape)
        ):
            return f"{where} is {str(shape)[:40]!r}; it must be 3 whole numbers from 1 to {MAX_GRID}"
        if patch is not None and patch > min(shape[:2]):
            return f"patch_size {patch} is larger than the slices of its training grid {list(shape)}"
    return range_problem((config or {}).get("intensity_range")) or ranges_problem(config or {})


MAX_CONTRASTS = 16  # channels of a model of several contrasts (the DAE's bound too)


def ranges_problem(config: dict) -> str | None:
    """A model of several contrasts records one training range per contrast (`intensity_ranges`): each
    must be a usable range, one per channel. Before, they were never checked: a string or NaN there
    ended in "a bug", or left a contrast's scale unchecked."""
    ranges = config.get("intensity_ranges")
    if ranges is None:
        return None
    channels = config.get("channels")
    if not isinstance(ranges, list) or not 1 <= len(ranges) <= MAX_CONTRASTS:
        return f"intensity_ranges is {str(ranges)[:60]!r}, not a list of one {{p1, p99}} range per contrast"
    if type(channels) is int and len(ranges) != channels:
        return f"intensity_ranges holds {len(ranges)} ranges for its {channels} contrasts"
    for i, value in enumerate(ranges):
        problem = range_problem(value)
        if value is None or problem:
            return (problem or "intensity_range is None").replace("intensity_range", f"intensity_ranges[{i}]", 1)
    return None


def read_checkpoint(
    path: str | os.PathLike,
    what: str = "checkpoint",
    fix: str = "Pass a best.pt or last.pt written by patch2loc train.",
    method: str | None = DEFAULT_METHOD,
) -> dict:
    """Load a checkpoint dict on the CPU without running code from it; InputError (one line)
    naming the file when it is missing, unreadable, larger than it may be (check_archive), holds
    anything beyond the allow-list, has fields its method's checkpoints never have, or was written
    by another method than `method` (None: any method)."""
    path = regular_file(path, what, "Train a model first (patch2loc train) or check the path.")
    check_archive(path, what, fix)
    try:
        with torch.serialization.safe_globals(LEGACY_GLOBALS), warnings.catch_warnings():
            # torch notes any pickle protocol but 2; not a problem for what the allow-list builds
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "GLOBAL" in text:
            raise InputError(
                f"{path}: refused: the {what} holds Python objects a checkpoint never holds "
                f"({_refused_globals(text)}), which could run code when read; nothing from it was "
                f"run. {fix}"
            ) from None
        raise InputError(
            f"{path}: cannot be read as a {what} (not a torch.save file, or pickle "
            f"instructions a checkpoint never uses; nothing from it was run). {fix}"
        ) from None
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        OSError,
        ValueError,
        AttributeError,
        TypeError,
        IndexError,
        KeyError,
    ) as exc:
        detail = str(exc).strip().splitlines()[0].split(". ")[0][:120] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{path}: cannot be read as a {what} (truncated or not written by torch.save: {detail}). {fix}"
        ) from None
    found = checkpoint_method(ckpt) if isinstance(ckpt, dict) else None
    if method is not None and found not in (None, method):
        raise WrongMethod(f"{path}: a {found} {what}, not a {method} one. {fix}", found)
    own = own_fields(found or method or DEFAULT_METHOD)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict) or any(f not in ckpt for f in own):
        needs = "'model' weights" + "".join(f" and '{f}'" for f in own)
        raise InputError(f"{path}: not a {method or found or 'patch2loc'} {what} (no {needs}). {fix}")
    problem = field_problem(ckpt, found)
    if problem:
        raise InputError(f"{path}: not a usable {found} {what}: {problem}. {fix}")
    return ckpt


def checkpoint_method(ckpt: dict) -> str:
    """The method that wrote a checkpoint (files from before methods were recorded: the default,
    Patch2Loc)."""
    method = ckpt.get("method", DEFAULT_METHOD)
    return method if isinstance(method, str) else "unknown"


def checkpoint_modality(ckpt: dict) -> str | None:
    """The modality a checkpoint was trained on (None for checkpoints that do not record it)."""
    return ckpt.get("modality") or (ckpt.get("config") or {}).get("modality")


def checkpoint_grid(ckpt: dict) -> tuple[int, ...] | None:
    """The volume shape the model was trained on (None when not recorded)."""
    shape = (ckpt.get("config") or {}).get("volume_shape") or ckpt.get("volume_shape")
    return None if shape is None else tuple(int(s) for s in shape)
