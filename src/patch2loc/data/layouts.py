"""Raw layouts of the five datasets, and one record per scan.

The layouts are the ones each dataset has after download and unpacking (or after the manual
drop-in for BraTS21 and ATLAS v2). The demo synthesiser writes its fake datasets through
`raw_paths` too, so the same preprocessing rules consume demo and real data.

With `skull_strip: provided` the brain mask is read from the file `raw_paths(...).mask` names,
which differs per dataset (MASK_NAMES below; only MSLUB ships one, the others are yours to add).

MSLUB: the lesion ground truth (consensus_gt) is on the FLAIR grid, and only the co-registered
images (bias-corrected, registered to FLAIR) share that grid; the `raw/` images keep their own
grid. Two layouts of the same files are read: the official archive's
`patientXX/patientXX_{T2W,brainmask,consensus_gt}.nii.gz` (with `patientXX/raw/`), and the public
mirror's `coregistered/patientXX/{T2W,brainmask,consensus_gt}.nii.gz` that the workflow downloads
(some of its commits keep the `patientXX_` prefix). The brain masks sit half a voxel off the
ground truth's grid in 29 of 30 patients; preprocessing.grid moves them onto the image grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patch2loc.errors import InputError

# dataset -> modalities it is used with in the paper
MODALITIES = {
    "IXI": ("T1", "T2"),
    "BraTS21": ("T2",),
    "MSLUB": ("T2",),
    "ATLAS_v2": ("T1",),
    "WMH": ("T1",),
}
LESION_DATASETS = ("BraTS21", "MSLUB", "ATLAS_v2", "WMH")
# dataset -> the contrasts of its raw layout that raw_paths reads (the paper's first): BraTS21's t1 is
# on its t2's grid (SRI24), MSLUB's coregistered/T1W on its T2W's (FLAIR's); a run reads the others
# only where config `datasets.<name>.contrasts` lists them (patch2loc.data.inputs).
SHIPPED_CONTRASTS = {
    "IXI": ("T1", "T2"),
    "BraTS21": ("T2", "T1"),
    "MSLUB": ("T2", "T1"),
    "ATLAS_v2": ("T1",),
    "WMH": ("T1",),
}


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
        # patient01/patient01_T2W.nii.gz (official) or coregistered/patient01/T2W.nii.gz (mirror)
        image, seg, mask = _mslub_paths(root, subject, modality)
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


def _mslub_paths(root: Path, subject: str, modality: str) -> tuple[Path, Path, Path]:
    """Image, ground truth and brain mask of an MSLUB patient: the official archive's layout when
    its image is there, else the mirror's coregistered/ (plain names, or prefixed where only those
    exist)."""
    names = (f"{modality}W", "consensus_gt", "brainmask")
    official = root / subject
    if (official / f"{subject}_{names[0]}.nii.gz").exists():
        return tuple(official / f"{subject}_{name}.nii.gz" for name in names)
    mirror = root / "coregistered" / subject

    def pick(name: str) -> Path:
        plain, prefixed = mirror / f"{name}.nii.gz", mirror / f"{subject}_{name}.nii.gz"
        return prefixed if prefixed.exists() and not plain.exists() else plain

    return tuple(pick(name) for name in names)


# --------------------------------------------------------------------------------------------
# Subject discovery, presence checks and label binarisation
# --------------------------------------------------------------------------------------------

# Datasets that cannot be downloaded by the workflow (registration / data-use agreement): the user
# drops them in by hand, and a missing file stops the run with these instructions.
MANUAL_DOWNLOAD = {
    "BraTS21": (
        "BraTS21 needs a (free) Synapse registration, so the workflow cannot download it.\n"
        "  1. Register at https://www.synapse.org/#!Synapse:syn25829067 (RSNA-ASNR-MICCAI BraTS 2021)\n"
        "     and download the training data (RSNA_ASNR_MICCAI_BraTS2021_TrainingData_16July2021.tar).\n"
        "  2. Unpack it so that every subject is a folder directly under {root}:\n"
        "       {root}/BraTS2021_00000/BraTS2021_00000_t2.nii.gz\n"
        "       {root}/BraTS2021_00000/BraTS2021_00000_seg.nii.gz\n"
        "     (and _t1.nii.gz where the config reads BraTS21's T1: datasets.BraTS21.contrasts)\n"
        "  (the scans are already skull-stripped and in SRI24 space; keep skull_strip: none)."
    ),
    "ATLAS_v2": (
        "ATLAS v2.0 is released under a data-use agreement, so the workflow cannot download it.\n"
        "  1. Fill in the form at https://fcon_1000.projects.nitrc.org/indi/retro/atlas.html and\n"
        "     download ATLAS_R2.0_encrypted.tar.gz; decrypt it with the key and the openssl command\n"
        "     you receive by e-mail.\n"
        "  2. Unpack it under {root} so that the training scans are at\n"
        "       {root}/ATLAS_2/Training/R001/sub-r001s001/ses-1/anat/"
        "sub-r001s001_ses-1_space-MNI152NLin2009aSym_T1w.nii.gz\n"
        "     with the lesion mask ..._label-L_desc-T1lesion_mask.nii.gz beside it."
    ),
}
DOWNLOAD_HINT = (
    "{dataset} is downloaded by the workflow's `download` and `extract` rules (URLs in "
    "config/datasets.yaml, or the file named by the config key `sources`): run the workflow "
    "without --dry-run, or put the files under {root} as listed there."
)

# Where `skull_strip: provided` looks for a brain mask (same grid as the scan, non-zero = brain).
MASK_NAMES = {
    "IXI": "IXI-<modality>/<subject>-<modality>_brainmask.nii.gz (IXI ships none: add your own)",
    "BraTS21": "none needed: already skull-stripped, the mask is image > 0 (skull_strip: none)",
    "MSLUB": "<subject>/<subject>_brainmask.nii.gz (official archive) or coregistered/<subject>/brainmask.nii.gz "
    "(the mirror the workflow downloads); shipped with the dataset",
    "ATLAS_v2": "ATLAS_2/Training/<site>/<subject>/ses-1/anat/<subject>_ses-1_space-MNI152NLin2009aSym"
    "_brainmask.nii.gz (ATLAS ships none: add your own)",
    "WMH": "<site>/<id>/pre/brainmask.nii.gz (WMH ships none: add your own)",
}


def list_subjects(dataset: str, raw_root: str | Path, modality: str | None = None) -> list[str]:
    """Subjects present in the raw layout of `dataset` (sorted), for `modality` if given.

    A subject counts as present when its image file for `modality` (default: the dataset's first
    modality) exists at the path `raw_paths` gives; this is what the preprocessing rule will read.
    """
    if dataset not in MODALITIES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(MODALITIES)}")
    modality = modality or MODALITIES[dataset][0]
    root = Path(raw_root) / dataset
    if dataset == "IXI":
        candidates = [
            p.name[: -len(f"-{modality}.nii.gz")] for p in (root / f"IXI-{modality}").glob(f"IXI*-{modality}.nii.gz")
        ]
    elif dataset == "BraTS21":
        candidates = [p.name for p in root.glob("*") if p.is_dir()]
    elif dataset == "MSLUB":  # official patientXX/ folders and the mirror's coregistered/patientXX/
        candidates = [p.name for p in [*root.glob("patient*"), *(root / "coregistered").glob("*")] if p.is_dir()]
    elif dataset == "ATLAS_v2":
        candidates = [p.name for p in (root / "ATLAS_2" / "Training").glob("R*/sub-r*") if p.is_dir()]
    else:  # WMH: <site>/<id>
        candidates = [f"{p.parent.name}_{p.name}" for p in root.glob("*/*") if p.is_dir()]
    return sorted(s for s in set(candidates) if raw_paths(dataset, raw_root, s, modality).image.exists())


def check_raw(
    dataset: str, raw_root: str | Path, subjects: list[str], modality: str | None = None, *, need_mask: bool = False
) -> None:
    """Raise InputError listing missing raw files of `subjects`, with how to obtain them.

    Meant to be called when the workflow builds its DAG, so that even a dry run stops with the
    manual-download instructions for BraTS21 / ATLAS v2. `need_mask` also requires the provided
    brain mask (skull_strip: provided).
    """
    modality = modality or MODALITIES[dataset][0]
    missing: list[Path] = []
    for subject in subjects:
        scan = raw_paths(dataset, raw_root, subject, modality)
        wanted = [scan.image] + ([scan.seg] if scan.seg is not None else [])
        if need_mask and scan.mask is not None:
            wanted.append(scan.mask)
        missing += [p for p in wanted if not p.exists()]
    if not missing:
        return
    root = Path(raw_root) / dataset
    how = MANUAL_DOWNLOAD.get(dataset, DOWNLOAD_HINT).format(dataset=dataset, root=root)
    shown = "\n".join(f"    {p}" for p in missing[:5])
    more = f"\n    ... and {len(missing) - 5} more" if len(missing) > 5 else ""
    raise InputError(f"{dataset}: {len(missing)} raw file(s) missing under {root}, e.g.\n{shown}{more}\n{how}")


def binarize_seg(dataset: str, array: np.ndarray, *, wmh_other_pathology: bool = True) -> np.ndarray:
    """Lesion mask as bool: every label > 0 is lesion (METHOD.md).

    BraTS labels 1 (necrotic core), 2 (oedema) and 4 (enhancing tumour) together make the whole
    tumour, which is what the paper and Behrendt et al. evaluate. WMH label 2 marks "other
    pathology" (e.g. infarcts), which is abnormal tissue too, so it counts as lesion by default
    (the paper's "> 0"); pass `wmh_other_pathology=False` to keep only label 1, the challenge's WMH.
    """
    array = np.asarray(array)
    if dataset == "WMH" and not wmh_other_pathology:
        return np.rint(array) == 1
    return array > 0
