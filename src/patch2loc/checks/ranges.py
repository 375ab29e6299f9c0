"""The range of every setting a run, a bundle or a predict call carries, in one place.

A bundle's `settings.json` and a run's `config.resolved.yaml` are files someone else may have
edited: a spacing of 0.35 mm (atlas grid 8 GB) or 0.01 mm (SimpleITK's "unexpected RuntimeError")
must be one line before anything is computed. `check_chain_settings` is called where a run is
opened for predict (`runchain.RunChain.open`), where export collects it, and where a bundle is
opened, so the three agree; predict's flags take their bounds from here (cli/__init__.py) and the
checkpoint fields theirs (checkpoint.py). The bounds are wide (the paper: 1 mm, 192 x 192 x 100,
patch 24, median 7); the memory budget (predict/budget.py) judges the combinations.

A trained method's own settings (those recorded in its checkpoints' `config`: the network's size,
its schedule, its scoring) are bounded the same way, by a table of rules in its own module (e.g.
the diffusion models' `methods/diffusion/bounds.py`), checked with `check_block` when its config
block is read and when a checkpoint is loaded, before any network is built; the workflow holds its
blocks to the same table at start-up (patch2loc.training.blockbounds), and config/schema.yaml states no
second copy of those bounds.
"""

from __future__ import annotations

import math
import re

from patch2loc.errors import InputError

SPACING_MM = (0.2, 20.0)  # voxel side of the chain's grid; clinical scans are 0.4-7 mm
GRID_SIDE = (1, 1024)  # target_shape, per axis
MAX_PATCH = 128  # patch side in pixels: the paper's is 24 (192-pixel slices); 128 fits 1024-pixel slices
MAX_GRID = 4096  # voxels along one axis of a checkpoint's recorded training grid
MAX_STRIDE, MAX_MEDIAN, MAX_BATCH = 16, 15, 65536  # predict's --stride, --median-size, --batch-size
MAX_FOLDS = 10  # folds in one bundle or ensemble (the paper: 5)
MAX_THRESHOLD = 1e6  # |threshold| on the score (log error + log variance: about -30 ... 20)
CENTRES = ("dilated", "mask", "all")  # heatmap.centres: the patch centres scored

# preprocess: key -> (type, low, high, list length range or None); every key of PreprocessConfig
_PREPROCESS = {
    "spacing": (float, *SPACING_MM, (3, 3)),
    "target_shape": (int, *GRID_SIDE, (3, 3)),
    "reg_shrink": (int, 1, 64, (1, 8)),
    "reg_smoothing": (float, 0.0, 20.0, (1, 8)),
    "reg_iterations": (int, 1, 10_000, None),
    "reg_step": (float, 1e-3, 100.0, None),
    "reg_bins": (int, 2, 1024, None),
    "reg_sampling": (float, 1e-4, 1.0, None),
    "n4_iterations": (int, 0, 10_000, (1, 8)),
    "n4_tolerance": (float, 1e-12, 1.0, None),
    "n4_shrink": (int, 1, 16, None),
    "seed": (int, 0, 2**63 - 1, None),
}
PREPROCESS_KEYS = (*_PREPROCESS, "skull_strip", "hdbet_device", "wmh_other_pathology")  # = PreprocessConfig's
NORMALIZE_KEYS = ("percentile",)
_HEATMAP = {"median_size": (int, 1, MAX_MEDIAN, None), "stride": (int, 1, MAX_STRIDE, None)}
_CHOICES = {"skull_strip": ("none", "provided", "hdbet", "robex"), "wmh_other_pathology": (True, False)}
_DEVICE = re.compile(r"(cuda(:[0-9]+)?|cpu|mps)")


OR_NULL = "or null"  # a rule's optional fifth item: None is allowed too (e.g. pDDPM's patch_size)


class OneOf(tuple):
    """A rule: the value is one of these (compared with its type: True is not 1, 2.0 is not 2)."""


def _number(value, kind) -> bool:
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


def _value_problem(value, rule) -> str | None:
    if isinstance(rule, OneOf):
        ok = any(type(value) is type(v) and value == v for v in rule)
        return None if ok else f"must be one of {list(rule)}"
    kind, low, high, length, *null = rule
    if null and value is None:
        return None
    what = "whole number" if kind is int else "number"
    lo, hi = (low, high) if kind is int else (f"{low:g}", f"{high:g}")
    bounds = f"{what}s from {lo} to {hi}" if length else f"a {what} from {lo} to {hi}"
    if length is not None:
        if not isinstance(value, (list, tuple)) or not length[0] <= len(value) <= length[1]:
            count = f"{length[0]}" if length[0] == length[1] else f"{length[0]} to {length[1]}"
            return f"must be {count} {bounds}"
        items = value
    else:
        items = [value]
    if not all(_number(v, kind) and low <= v <= high for v in items):
        return f"must be {bounds}" if length is None else f"must be {len(value)} {bounds}"
    return None


def check_block(block, rules: dict, name: str, where, known: tuple[str, ...] | None = None) -> None:
    """Each key of `rules` present in `block` within its range; with `known`, any other key is an
    error naming it (a misspelt key would otherwise be dropped or refused later)."""
    if not isinstance(block, dict):
        raise InputError(f"{where}: {name} is a {type(block).__name__}, not a mapping of settings.")
    if known is not None:
        unknown = sorted(str(k)[:40] for k in set(block) - set(known))
        if unknown:
            raise InputError(f"{where}: {name}: unknown key(s) {unknown}; known keys are {sorted(known)}.")
    for key, rule in rules.items():
        if key in block:
            problem = _value_problem(block[key], rule)
            if problem:
                raise InputError(f"{where}: {name}.{key} {str(block[key])[:60]} {problem}.")


def check_preprocess(block, where) -> None:
    check_block(block, _PREPROCESS, "preprocess", where, PREPROCESS_KEYS)
    for key, choices in _CHOICES.items():
        if key in block and block[key] not in choices:
            raise InputError(f"{where}: preprocess.{key} {str(block[key])[:40]!r} must be one of {list(choices)}.")
    if "hdbet_device" in block and not (
        isinstance(block["hdbet_device"], str) and _DEVICE.fullmatch(block["hdbet_device"])
    ):
        raise InputError(
            f"{where}: preprocess.hdbet_device {str(block['hdbet_device'])[:40]!r} must be cpu, mps, cuda or cuda:N."
        )
    shrink, smoothing = block.get("reg_shrink"), block.get("reg_smoothing")
    if shrink is not None and smoothing is not None and len(shrink) != len(smoothing):
        raise InputError(f"{where}: preprocess.reg_shrink and reg_smoothing need one entry per resolution level.")


def check_heatmap(block, where) -> None:
    """The heatmap settings predict reads (a run's config holds more: those are not read)."""
    check_block(block, _HEATMAP, "heatmap", where)
    if "centres" in block and block["centres"] not in CENTRES:
        raise InputError(f"{where}: heatmap.centres {str(block['centres'])[:40]!r} must be one of {list(CENTRES)}.")


def check_threshold(value, where, name: str = "threshold") -> float:
    """A finite number within +-MAX_THRESHOLD; returned as float."""
    if not _number(value, float) or abs(value) > MAX_THRESHOLD:
        raise InputError(f"{where}: {name} {str(value)[:40]} must be a finite number within +-{MAX_THRESHOLD:g}.")
    return float(value)


def check_fold_count(count: int, where) -> None:
    if count > MAX_FOLDS:
        raise InputError(
            f"{where}: {count} folds, more than the {MAX_FOLDS} a model ensemble may hold (the paper "
            "trains 5); nothing was read. Export fewer folds (--folds)."
        )
