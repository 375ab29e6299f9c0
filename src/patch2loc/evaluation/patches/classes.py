"""Which patches the patch analysis's figures call normal and which abnormal (`evaluate.patches`).

The paper (§5.2): non-overlapping patches, normal below 10 % lesion, abnormal above 90 %, the rest
mixed (`classify`, Table 2's mixed patches in every config). A run may state its own definition
for the figures (Fig. 2, 3, 6 and the per-method densities), and the figures and their captions
say which one made them: on the demo's 3 mm grid a 16-pixel patch is 48 mm wide, wider than
almost every synthetic lesion, so no patch of MSLUB, ATLAS_v2 or WMH is 90 % lesion; the demo's
definition calls a patch abnormal when its centre voxel lies in a lesion (the voxel the patch's
score is the heatmap's value of) and takes overlapping patches every 2 pixels
(docs/evaluation.md, "The patch analysis's definition").
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

from patch2loc.errors import InputError

NORMAL_BELOW = 0.10
ABNORMAL_ABOVE = 0.90
ABNORMAL_RULES = ("fraction", "centre")


def classify(lesion_fraction: float | np.ndarray | pd.Series) -> str | np.ndarray:
    """The paper's classes: 'normal' (< 10 % lesion), 'abnormal' (> 90 %) or 'mixed' (10-90 %,
    both ends included). A scalar gives a string; an array or Series gives an array of strings."""
    frac = np.asarray(lesion_fraction, dtype=np.float64)
    labels = np.where(frac < NORMAL_BELOW, "normal", np.where(frac > ABNORMAL_ABOVE, "abnormal", "mixed"))
    return str(labels) if labels.ndim == 0 else labels


@dataclass(frozen=True)
class PatchClasses:
    """One definition of the classes: where patch centres lie (`stride` pixels apart; None: the
    patch size, non-overlapping) and what makes a patch normal and abnormal."""

    stride: int | None = None
    normal_below: float = NORMAL_BELOW
    abnormal: str = "fraction"  # fraction: lesion fraction > abnormal_above; centre: centre voxel in a lesion
    abnormal_above: float = ABNORMAL_ABOVE

    def __post_init__(self):
        if self.abnormal not in ABNORMAL_RULES:
            raise InputError(f"evaluate.patches.abnormal: {self.abnormal!r} is not one of {ABNORMAL_RULES}")
        if self.stride is not None and self.stride < 1:
            raise InputError(f"evaluate.patches.stride: {self.stride} must be >= 1 (or null: non-overlapping)")

    @classmethod
    def from_config(cls, patches: dict | None) -> "PatchClasses":
        """From the config's `evaluate.patches` (None or {}: the paper's definition)."""
        return cls(**{k: v for k, v in (patches or {}).items() if v is not None})

    @property
    def is_paper(self) -> bool:
        return self == PatchClasses()

    def of(self, patches: pd.DataFrame) -> np.ndarray:
        """'normal', 'abnormal' or 'mixed' per row of a patch table (patch_statistics' columns)."""
        if "lesion_fraction" not in patches.columns:
            raise InputError("patch table lacks 'lesion_fraction'; build it with analysis.patch_statistics.")
        frac = patches["lesion_fraction"].to_numpy(np.float64)
        if self.abnormal == "centre":
            if "centre_lesion" not in patches.columns:
                raise InputError(
                    "patch table lacks 'centre_lesion', which evaluate.patches.abnormal: centre needs; "
                    "rerun the scoring rules (patch_statistics writes it)."
                )
            abnormal = patches["centre_lesion"].to_numpy().astype(bool)
        else:
            abnormal = frac > self.abnormal_above
        return np.where(abnormal, "abnormal", np.where(frac < self.normal_below, "normal", "mixed"))

    def label(self, name: str) -> str:
        """A legend's name of the class: 'normal (<10% lesion)', 'abnormal (centre in a lesion)', ..."""
        if name == "normal":
            return f"normal (<{100 * self.normal_below:g}% lesion)"
        if self.abnormal == "centre":
            return "abnormal (centre voxel in a lesion)"
        return f"abnormal (>{100 * self.abnormal_above:g}% lesion)"

    def describe(self) -> str:
        """One sentence for a caption: the grid and the classes, and whose definition they are."""
        grid = "non-overlapping patches" if self.stride is None else f"overlapping patches every {self.stride} pixels"
        whose = (
            "the paper's definition" if self.is_paper else "the run's own definition, evaluate.patches, not the paper's"
        )
        abnormal = (
            "a lesion at the patch's centre voxel"
            if self.abnormal == "centre"
            else f"more than {100 * self.abnormal_above:g} % lesion"
        )
        return (
            f"Patches: {grid}; normal: less than {100 * self.normal_below:g} % lesion, abnormal: {abnormal} ({whose})."
        )

    def title(self, width: int = 110) -> str:
        """`describe()` in lines of at most `width` characters, for a figure's title."""
        return textwrap.fill(self.describe(), width)
