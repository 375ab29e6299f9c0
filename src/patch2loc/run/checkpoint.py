"""Checkpoints: written with torch.save, read without ever running code from the file.

A checkpoint is untrusted input (users apply models that others trained), and a pickle can call
any function while it is read. `read_checkpoint` therefore uses `torch.load(weights_only=True)`:
the unpickler only builds tensors, dicts, lists, tuples, strings and numbers (checkpoints store the
numpy RNG state as a tensor and plain numbers, `numpy_rng_to_plain`, and versions as plain
strings). Anything else (a crafted `__reduce__`, an arbitrary class) is refused with one line
before any of it is built.

Before torch.load, the zip archive's central directory is read (`check_archive`): the sizes its
members declare (uncompressed) are bounded (PATCH2LOC_MAX_CHECKPOINT_MB, limits.py), so a small
file whose member inflates to gigabytes is refused before anything is inflated. After it, the
checkpoint format (`FORMAT`, written by the training harness into every best.pt and last.pt) is
checked first: a file of another format (or none) was written by another version of patch2loc and
is refused in one line, so every field today's checkpoints carry can then be required. The
fields are checked (`field_problem`): the method that wrote it, the weights a dict of tensors, the
modality, the config with the training grid (config.volume_shape, within ranges.py's bounds), a
method's own fields (patch_size a whole number in [1, MAX_PATCH] that fits the grid), the channels
of a method of several contrasts, and a scoring method's training intensity range
(config.intensity_range, one per contrast in config.intensity_ranges; intensities.py) finite and
increasing.
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

# The checkpoint format: the fields a checkpoint holds and what they mean. Raise it when they change
# (a field added that readers require, one renamed or given another meaning): files of another
# format are refused in one line instead of failing somewhere later.
FORMAT = 1
ANOTHER_VERSION = "written by another version of patch2loc: retrain, or use the version that wrote it"


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


def numpy_rng_from_plain(state: dict) -> tuple:
    """Inverse of `numpy_rng_to_plain`."""
    keys = state["keys"].numpy().astype(np.uint32)
    return (state["name"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"])


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


def own_fields(method: str) -> tuple[str, ...]:
    """What a method's checkpoints hold beyond the weights (its registry line; e.g. Patch2Loc's patch_size)."""
    return METHODS[method].checkpoint_fields if method in METHODS else ()


MAX_CONTRASTS = 16  # channels of a model of several contrasts (the DAE's bound too)


def field_problem(ckpt: dict, method: str) -> str | None:
    """What is wrong with the fields predict and train read (None when they are usable); `method` is
    the one the checkpoint records. Every field the training harness writes for that method is required."""
    weights = ckpt["model"]
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        return "'model' is not a dict of named tensors"
    config = ckpt.get("config")
    if not isinstance(config, dict):
        return "no 'config'" if config is None else f"'config' is a {type(config).__name__}, not a dict"
    if "modality" not in ckpt:
        return "no 'modality'"
    for where, value in (("modality", ckpt["modality"]), ("config.modality", config.get("modality"))):
        if value is not None and not (isinstance(value, str) and len(value) <= 64):
            return f"{where} is {str(value)[:40]!r}, not a modality name"
    shape = config.get("volume_shape")
    if not (
        isinstance(shape, (list, tuple))
        and len(shape) == 3
        and all(type(n) is int and 1 <= n <= MAX_GRID for n in shape)
    ):
        return f"config.volume_shape is {str(shape)[:40]!r}; it must be 3 whole numbers from 1 to {MAX_GRID}"
    patch = ckpt.get("patch_size")
    if "patch_size" in own_fields(method) or patch is not None:
        if type(patch) is not int or not 1 <= patch <= MAX_PATCH:
            return f"patch_size is {str(patch)[:40]!r}; it must be a whole number from 1 to {MAX_PATCH}"
        if patch > min(shape[:2]):
            return f"patch_size {patch} is larger than the slices of its training grid {list(shape)}"
    if method not in METHODS:  # a pre-training (cDDPM's encoder): it scores nothing, records no scale
        return None
    # a method that takes several contrasts records how many; the others take one
    channels = config.get("channels") if METHODS[method].multicontrast else 1
    if type(channels) is not int or not 1 <= channels <= MAX_CONTRASTS:
        return f"config.channels is {str(channels)[:40]!r}, not a count of contrasts from 1 to {MAX_CONTRASTS}"
    if config.get("intensity_range") is None:
        return "no config.intensity_range (the training intensity range)"
    return range_problem(config["intensity_range"]) or ranges_problem(config, channels)


def ranges_problem(config: dict, channels: int) -> str | None:
    """A model of several contrasts records one training range per contrast (`intensity_ranges`): each
    must be a usable range, one per channel."""
    ranges = config.get("intensity_ranges")
    if ranges is None and channels == 1:
        return None
    if not isinstance(ranges, list) or not 1 <= len(ranges) <= MAX_CONTRASTS:
        return f"intensity_ranges is {str(ranges)[:60]!r}, not a list of one {{p1, p99}} range per contrast"
    if len(ranges) != channels:
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
    anything beyond the allow-list, is of another checkpoint format (`FORMAT`), lacks a field its
    method's checkpoints have, or was written by another method than `method` (None: any method)."""
    path = regular_file(path, what, "Train a model first (patch2loc train) or check the path.")
    check_archive(path, what, fix)
    try:
        with warnings.catch_warnings():
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
    if not isinstance(ckpt, dict):
        raise InputError(f"{path}: not a patch2loc {what} (a {type(ckpt).__name__}, not a dict). {fix}")
    check_format(ckpt, path, what)
    found = ckpt.get("method")
    if not isinstance(found, str) or not found:
        raise InputError(f"{path}: not a patch2loc {what} (no 'method' names what wrote it). {fix}")
    if method is not None and found != method:
        raise WrongMethod(f"{path}: a {found[:40]} {what}, not a {method} one. {fix}", found)
    own = own_fields(found)
    if not isinstance(ckpt.get("model"), dict) or any(f not in ckpt for f in own):
        needs = "'model' weights" + "".join(f" and '{f}'" for f in own)
        raise InputError(f"{path}: not a {found[:40]} {what} (no {needs}). {fix}")
    problem = field_problem(ckpt, found)
    if problem:
        raise InputError(f"{path}: not a usable {found[:40]} {what}: {problem}. {fix}")
    return ckpt


def check_format(ckpt: dict, path: Path, what: str) -> None:
    """One line when a checkpoint is not of this version's `FORMAT` (none recorded, or another)."""
    found = ckpt.get("format")
    if type(found) is int and found == FORMAT:
        return
    recorded = ckpt.get("versions")
    wrote = recorded.get("patch2loc") if isinstance(recorded, dict) else None
    by = f" (patch2loc {str(wrote)[:40]})" if isinstance(wrote, str) else ""
    format_ = "no checkpoint format" if found is None else f"checkpoint format {repr(found)[:20]}"
    raise InputError(f"{path}: a {what} of {format_}{by}, this version reads format {FORMAT}: {ANOTHER_VERSION}.")


def checkpoint_modality(ckpt: dict) -> str | None:
    """The modality a checkpoint was trained on (None when its training named none)."""
    return ckpt["modality"]


def checkpoint_grid(ckpt: dict) -> tuple[int, ...]:
    """The volume shape the model was trained on."""
    return tuple(int(s) for s in ckpt["config"]["volume_shape"])
