"""The files of a run's chain that predict and export read, checked before any compute: the Nyul
landmarks (`check_landmarks`: a small [2, L] array of finite numbers, increasing standard scale;
its .npy header is read before the array, so it cannot claim gigabytes), the resolved config
(`read_run_config`: YAML within bounds, parsing.py), the config values the chain uses
(`check_chain_config`: every setting within its range, ranges.py; a target grid within
PATCH2LOC_MAX_IMAGE_MB) and the folds' thresholds (`read_threshold`: a finite number).
Light on purpose (numpy only): the export rule's environment has no SimpleITK.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import yaml

from patch2loc.checks.limits import check_image_size
from patch2loc.checks.parsing import load_json, load_yaml, read_bounded
from patch2loc.checks.ranges import NORMALIZE_KEYS, check_block, check_heatmap, check_preprocess, check_threshold
from patch2loc.errors import InputError

NEEDS = "--from-run needs a run folder (results/<run_name>) whose workflow has finished preprocessing and normalisation"


MAX_LANDMARKS = 1000  # Nyul uses 11 (percentiles 1, 10, ..., 90, 99)
REFIT = "Re-run the workflow's fit_landmarks rule for this run (or restore the file)."


def check_landmarks(path: Path) -> None:
    """The run's Nyul landmarks: .npy [2, L], 2 <= L <= MAX_LANDMARKS, finite, increasing scale."""
    try:
        with open(path, "rb") as f:  # the header first: its shape bounds what np.load allocates
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
        if len(shape) != 2 or shape[0] != 2 or not 2 <= shape[1] <= MAX_LANDMARKS or dtype.kind not in "fiu":
            raise ValueError(f"a {dtype} array of shape {shape}, not [2, L] numbers")
        table = np.load(path, allow_pickle=False).astype(np.float64)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a landmarks file ({str(exc)[:120]}). {REFIT}") from None
    if not np.isfinite(table).all() or not np.all(np.diff(table[0]) > 0):
        raise InputError(
            f"{path}: the landmarks are not finite and increasing ({np.round(table[0], 3).tolist()[:12]}). {REFIT}"
        )


def check_chain_config(cfg: dict, resolved: Path) -> None:
    """The values of the run's config that size or scale the chain's arrays."""
    pre = cfg.get("preprocess") or {}
    try:
        spacing = [float(v) for v in pre.get("spacing", (1.0, 1.0, 1.0))]
        shape = [int(v) for v in pre["target_shape"]]
        percentile = float((cfg.get("normalize") or {}).get("percentile", 98.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"{resolved}: preprocess.spacing/target_shape or normalize.percentile unreadable "
            f"({type(exc).__name__}: {exc}). {NEEDS}."
        ) from None
    if len(spacing) != 3 or not all(math.isfinite(v) and v > 0 for v in spacing):
        raise InputError(f"{resolved}: preprocess.spacing {spacing} must be 3 voxel sizes > 0 (mm). {NEEDS}.")
    if len(shape) != 3 or min(shape) < 1 or not 0 < percentile <= 100:
        raise InputError(
            f"{resolved}: preprocess.target_shape {shape} or normalize.percentile {percentile} is invalid. {NEEDS}."
        )
    check_image_size(resolved, shape, 4, "preprocess.target_shape")
    check_preprocess(pre, resolved)
    check_block(cfg.get("normalize") or {}, {}, "normalize", resolved, NORMALIZE_KEYS)
    check_heatmap(cfg.get("heatmap") or {}, resolved)


def read_run_config(path: Path, blocks: tuple[str, ...], needs: str) -> dict:
    """A run's config.resolved.yaml (parsed within bounds) holding the mapping `blocks`."""
    try:
        cfg = load_yaml(read_bounded(path, "the run's config"), str(path))
        ok = isinstance(cfg, dict) and all(isinstance(cfg.get(k), dict) for k in blocks)
    except InputError:  # beyond the parser's bounds: said as such
        raise
    except (OSError, ValueError, yaml.YAMLError):
        ok = False
    if not ok:
        raise InputError(f"{path}: not a patch2loc resolved config ({', '.join(blocks)}). {needs}.")
    return cfg


def read_threshold(path: Path, fix: str) -> float:
    """A fold's unsupervised threshold file: {"threshold": a finite number}."""
    try:
        value = load_json(read_bounded(path, "the threshold file"), str(path))["threshold"]
    except (InputError, FileNotFoundError):  # beyond the bounds (said as such); missing: the caller's to say
        raise
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InputError(f'{path}: not a threshold file (needs {{"threshold": number}}). {fix}') from None
    return check_threshold(value, path)
