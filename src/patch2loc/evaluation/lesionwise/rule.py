"""What a lesion is, how lesions are binned by size (config `evaluate.lesionwise`) and the columns
the scoring jobs write; light, so that the table scripts read it without the scoring libraries."""

from __future__ import annotations

from dataclasses import dataclass

from patch2loc.errors import InputError
from patch2loc.run.settings import config_from_dict

# connectivity (neighbours of a voxel) -> rank of scipy's generate_binary_structure
CONNECTIVITY = {6: 1, 18: 2, 26: 3}

# Per-volume columns added to metrics.csv (scores/.../{dataset}/metrics.csv, tables/per_volume_metrics.csv).
VOLUME_COLUMNS = (
    "lesions",
    "lesions_found",
    "components",
    "fp_components",
    "lesion_recall",
    "lesion_precision",
    "lesion_f1",
    "hd95_mm",
    "avd_pct",
    "lesion_ml",
    "predicted_ml",
)
# Columns of lesions.csv, one row per ground-truth lesion (after meta: method, modality, fold, dataset).
LESION_COLUMNS = ("subject", "lesion", "voxels", "volume_ml", "found")


@dataclass(frozen=True)
class LesionRule:
    """config `evaluate.lesionwise`: what a lesion is, and the size bins of the stratified recall."""

    connectivity: int = 26
    min_size_voxels: int = 1
    size_bins_ml: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)  # bin edges; bins below, between, above

    def __post_init__(self):
        if self.connectivity not in CONNECTIVITY:
            raise InputError(
                f"evaluate.lesionwise.connectivity: {self.connectivity} is not one of "
                f"{sorted(CONNECTIVITY)} (neighbours of a voxel); the WMH challenge uses 26."
            )
        if list(self.size_bins_ml) != sorted(set(self.size_bins_ml)) or min(self.size_bins_ml, default=1) <= 0:
            raise InputError(
                f"evaluate.lesionwise.size_bins_ml: {list(self.size_bins_ml)} must be positive "
                "and increasing (bin edges in mL)."
            )

    @classmethod
    def from_config(cls, block: dict | None) -> "LesionRule":
        return config_from_dict(cls, block or {}, "evaluate.lesionwise", tuples=("size_bins_ml",))

    def describe(self) -> str:
        """The rules in words, for captions."""
        size = "every component" if self.min_size_voxels <= 1 else f"components of >= {self.min_size_voxels} voxels"
        return (
            f"lesions: {self.connectivity}-connected components of the lesion mask ({size}); a lesion is "
            "found when a predicted voxel lies in it, a predicted component touching no lesion voxel is a "
            "false positive (WMH challenge, Kuijf et al. 2019)"
        )
