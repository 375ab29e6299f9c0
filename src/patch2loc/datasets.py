"""Raw layouts of the five datasets, and one record per scan.

The layouts are the ones each dataset has after download and unpacking (or after the manual
drop-in for BraTS21 and ATLAS v2). The demo synthesiser writes its fake datasets through
`raw_paths` too, so the same preprocessing rules consume demo and real data.

A `brainmask.nii.gz` beside a scan (the demo writes one) stands in for the skull strip when the
config's `skull_strip` for that dataset is `provided`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# dataset -> modalities it is used with in the paper
MODALITIES = {
    "IXI": ("T1", "T2"),
    "BraTS21": ("T2",),
    "MSLUB": ("T2",),
    "ATLAS_v2": ("T1",),
    "WMH": ("T1",),
}
LESION_DATASETS = ("BraTS21", "MSLUB", "ATLAS_v2", "WMH")


@dataclass(frozen=True)
class RawScan:
    """Where one scan's files live in the raw layout."""

    dataset: str
    modality: str
    subject: str
    image: Path
    seg: Path | None  # lesion mask (None for IXI)
    mask: Path | None  # provided brain mask, if the dataset has one (BraTS: None, image > 0)


def raw_paths(dataset: str, raw_root: str | Path, subject: str, modality: str) -> RawScan:
    """Paths of a scan in its dataset's raw layout, under `raw_root/<dataset>/`."""
    root = Path(raw_root) / dataset
    if dataset == "IXI":
        # IXI-T1/IXI002-Guys-0828-T1.nii.gz (one tarball per modality)
        image = root / f"IXI-{modality}" / f"{subject}-{modality}.nii.gz"
        seg = None
        mask = image.with_name(f"{subject}-{modality}_brainmask.nii.gz")
    elif dataset == "BraTS21":
        # BraTS2021_00000/BraTS2021_00000_t2.nii.gz, _seg.nii.gz (skull-stripped, SRI24 space)
        d = root / subject
        image = d / f"{subject}_{modality.lower()}.nii.gz"
        seg = d / f"{subject}_seg.nii.gz"
        mask = None
    elif dataset == "MSLUB":
        # patient01/T2W.nii.gz, consensus_gt.nii.gz (raw, not skull-stripped)
        d = root / subject
        image = d / f"{modality}W.nii.gz"
        seg = d / "consensus_gt.nii.gz"
        mask = d / "brainmask.nii.gz"
    elif dataset == "ATLAS_v2":
        # ATLAS_2/Training/R001/sub-r001s001/ses-1/anat/sub-r001s001_ses-1_space-MNI152NLin2009aSym_T1w.nii.gz
        site = "R" + subject.split("-r")[1][:3]
        d = root / "ATLAS_2" / "Training" / site / subject / "ses-1" / "anat"
        stem = f"{subject}_ses-1_space-MNI152NLin2009aSym"
        image = d / f"{stem}_{modality}w.nii.gz"
        seg = d / f"{stem}_label-L_desc-T1lesion_mask.nii.gz"
        mask = d / f"{stem}_brainmask.nii.gz"
    elif dataset == "WMH":
        # <site>/<id>/pre/T1.nii.gz (T1 registered to the FLAIR grid of wmh.nii.gz), <site>/<id>/wmh.nii.gz
        site, sid = subject.rsplit("_", 1)
        d = root / site / sid
        image = d / "pre" / f"{modality}.nii.gz"
        seg = d / "wmh.nii.gz"
        mask = d / "pre" / "brainmask.nii.gz"
    else:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(MODALITIES)}")
    return RawScan(dataset, modality, subject, image, seg, mask)
