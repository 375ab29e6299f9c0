"""What one `predict` call asks for: a frozen, typed request made once at the edge, and its parts.

The command line (`cmd_predict`) and the BIDS App build one; nothing below `cli/predict.py`
reads argparse. What predict resolves while it runs (the bundle's modality, the run's median filter)
gives a new request (`dataclasses.replace`), never a changed one, so every step sees what the one
before decided. Its field defaults are the flags' defaults: the parser reads them (`defaults`).

The resolved request is then unpacked once (`command._run_request`) into the frozen parts below, and
each step takes the part it uses: a function that scores needs no output path, and one that plans
the outputs needs no model, so what a step may read is said by its signature.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, fields, replace
from typing import TypeVar

R = TypeVar("R")


def from_namespace(cls: type[R], args: argparse.Namespace) -> R:
    """A frozen request's fields read from the parsed command line (lists become tuples: nothing
    can change them). The one place a Namespace is read, for predict and the BIDS App alike."""
    values = {}
    for f in fields(cls):
        value = getattr(args, f.name)
        values[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


def defaults(cls) -> dict:
    """{field: default} of a request's fields that have one: the parser's flag defaults, so that a
    default has one home."""
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


@dataclass(frozen=True)
class PredictRequest:
    image: tuple[str, ...]  # scans, folders or csv lists (--image, repeated)
    out: str
    mask: str | None = None
    seg: str | None = None
    method: str | None = None  # None: the bundle's, else the registry's default
    checkpoint: tuple[str, ...] = ()
    folds: tuple[int, ...] | None = None
    from_run: str | None = None
    model: str | None = None  # a bundle
    modality: str | None = None
    contrast: tuple[tuple[str, str], ...] = ()  # a model of several contrasts: (contrast, scan) after the reference
    contrast_mask: tuple[tuple[str, str], ...] = ()  # (contrast, brain mask) of those scans
    allow_mismatch: bool = False
    skull_strip: str = "auto"
    threshold: float | None = None
    png: str | None = None
    html: str | None = None
    overwrite: bool = False
    stride: int = 1
    batch_size: int = 8192
    device: str = "auto"
    amp: str = "auto"
    centres: str = "dilated"
    no_postprocess: bool = False
    median_size: int | None = None  # None: the run's heatmap.median_size, else 7
    force: bool = False
    skip_tissue_order: bool = False  # a channel of the wrong tissue order: a warning (checks.contrasts)
    quiet: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "PredictRequest":
        """The parsed command line as a request (no --checkpoint: an empty tuple)."""
        request = from_namespace(cls, args)
        return replace(
            request,
            checkpoint=request.checkpoint or (),
            contrast=request.contrast or (),
            contrast_mask=request.contrast_mask or (),
        )


@dataclass(frozen=True)
class ScanFlags:
    """What is read: the scans (--image, --mask, --seg), a model of several contrasts' other scans
    and masks, and how raw scans are skull-stripped."""

    image: tuple[str, ...]
    mask: str | None
    seg: str | None
    contrast: tuple[tuple[str, str], ...]
    contrast_mask: tuple[tuple[str, str], ...]
    skull_strip: str


@dataclass(frozen=True)
class OutputFlags:
    """What is written: --out (a file or a folder), the overview and viewer of a single scan, and
    whether a folder run redoes scans that are done."""

    out: str
    png: str | None
    html: str | None
    overwrite: bool


@dataclass(frozen=True)
class ModelFlags:
    """Which models score (--checkpoint, or the run's or bundle's folds of --modality) and the
    threshold of their lesion masks (None: the folds' own)."""

    checkpoint: tuple[str, ...]
    folds: tuple[int, ...] | None
    modality: str | None
    threshold: float | None


@dataclass(frozen=True)
class ScoringFlags:
    """How each scan is scored: the method's options (stride, batch size, precision, centres) and
    the post-processing of its map (the median filter, resolved: never None here)."""

    stride: int
    batch_size: int
    amp: str
    centres: str
    median_size: int
    no_postprocess: bool


@dataclass(frozen=True)
class CallFlags:
    """How the call runs: its device, what it lets pass (--allow-mismatch, --force,
    --skip-tissue-order) and whether it speaks (--quiet)."""

    device: str
    allow_mismatch: bool
    force: bool
    quiet: bool
    skip_tissue_order: bool = False
