"""Checkpoints: written with torch.save, read without ever running code from the file.

A checkpoint is untrusted input (users apply models that others trained), and a pickle can call
any function while it is read. `read_checkpoint` therefore uses `torch.load(weights_only=True)`:
the unpickler only builds tensors, dicts, lists, tuples, strings and numbers. The only extra
types it accepts are numpy's uint32 array and torch's version string (`LEGACY_GLOBALS`), which
checkpoints written before this module held; new checkpoints store the numpy RNG state as a
tensor and plain numbers (`numpy_rng_to_plain`) and versions as plain strings. Anything else (a crafted `__reduce__`, an arbitrary class) is
refused with one line before any of it is built.
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from patch2loc.errors import InputError
from patch2loc.outputs import atomic_output

# Checkpoints written before this module held their numpy RNG state as a uint32 array
# (_reconstruct only makes an ndarray of an allowed dtype class; it calls nothing else) and
# torch's version as a TorchVersion (a str subclass).
_multiarray = getattr(np, "_core", None) or np.core  # numpy 2 renamed numpy.core to numpy._core
LEGACY_GLOBALS = [_multiarray.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32)),
                  torch.torch_version.TorchVersion]


def numpy_rng_to_plain(state: tuple) -> dict:
    """np.random.get_state() -> tensors and numbers only (loadable with weights_only=True)."""
    name, keys, pos, has_gauss, cached = state
    return {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


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
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        torch.save(ckpt, fh)


def _refused_globals(message: str) -> str:
    return ", ".join(dict.fromkeys(re.findall(r"GLOBAL ([\w.]+)", message)))


def read_checkpoint(path: str | os.PathLike, what: str = "checkpoint",
                    fix: str = "Pass a best.pt or last.pt written by patch2loc train.",
                    method: str | None = "Patch2Loc") -> dict:
    """Load a checkpoint dict on the CPU without running code from it; InputError (one line)
    naming the file when it is missing, unreadable, holds anything beyond the allow-list, or was
    written by another method than `method` (None: any method)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} not found{' (it is a folder)' if path.is_dir() else ''}. "
                         "Train a model first (patch2loc train) or check the path.")
    try:
        with torch.serialization.safe_globals(LEGACY_GLOBALS):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "GLOBAL" in text:
            raise InputError(
                f"{path}: refused: the {what} holds Python objects a checkpoint never holds "
                f"({_refused_globals(text)}), which could run code when read; nothing from it was "
                f"run. {fix}") from None
        raise InputError(f"{path}: cannot be read as a {what} (not a torch.save file, or pickle "
                         f"instructions a checkpoint never uses; nothing from it was run). {fix}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, AttributeError,
            TypeError, IndexError, KeyError) as exc:
        detail = str(exc).strip().splitlines()[0].split(". ")[0][:120] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot be read as a {what} (truncated or not written by torch.save: "
                         f"{detail}). {fix}") from None
    found = checkpoint_method(ckpt) if isinstance(ckpt, dict) else None
    if method is not None and found not in (None, method):
        raise InputError(f"{path}: a {found} {what}, not a {method} one. {fix}")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict) or (
            found == "Patch2Loc" and "patch_size" not in ckpt):
        needs = "'model' weights and 'patch_size'" if found in (None, "Patch2Loc") else "'model' weights"
        raise InputError(f"{path}: not a {method or found or 'patch2loc'} {what} (no {needs}). {fix}")
    return ckpt


def checkpoint_method(ckpt: dict) -> str:
    """The method that wrote a checkpoint (files from before methods were recorded: Patch2Loc)."""
    method = ckpt.get("method", "Patch2Loc")
    return method if isinstance(method, str) else "unknown"


def checkpoint_modality(ckpt: dict) -> str | None:
    """The modality a checkpoint was trained on (None for checkpoints that do not record it)."""
    return ckpt.get("modality") or (ckpt.get("config") or {}).get("modality")


def checkpoint_grid(ckpt: dict) -> tuple[int, ...] | None:
    """The volume shape the model was trained on (None when not recorded)."""
    shape = (ckpt.get("config") or {}).get("volume_shape") or ckpt.get("volume_shape")
    return None if shape is None else tuple(int(s) for s in shape)
