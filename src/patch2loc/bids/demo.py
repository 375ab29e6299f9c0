"""A small BIDS dataset made from the demo's synthetic subjects (tests, the README's timing).

sub-01 (an MS-like lesion set's subject) has two sessions, sub-02 (a healthy IXI-like subject)
one; every session holds a T1w and a T2w scan (`patch2loc.synth`: one brain per subject, each
scan with its own pose, bias and noise). Beside them, in `derivatives/`:
- `masks/`: each scan's brain mask on its grid (`..._space-T1w_desc-brain_mask`, likewise T2w;
  `Sources` names the scan), for `patch2loc bids --mask-derivatives`;
- `lesions/`: sub-01's lesion labels on each scan's grid (`..._space-T2w_desc-lesion_mask`, ...),
  for `patch2loc bids ... group --seg-derivatives`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SEED = 7  # the demo config's demo.seed
# participant -> (the demo data set its brain comes from, sessions; None: no session level)
PARTICIPANTS = {"01": ("MSLUB", ["1", "2"]), "02": ("IXI", None)}
SUFFIXES = {"T1": "T1w", "T2": "T2w"}
BIDS_VERSION = "1.10.0"


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def _nifti(data: np.ndarray, affine: np.ndarray):
    import nibabel as nib

    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm")  # the validator warns about a NIfTI without units
    return img


def _description(root: Path, name: str, derivative: bool) -> None:
    root.mkdir(parents=True, exist_ok=True)
    desc = {
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative" if derivative else "raw",
        "License": "CC0",
        "Authors": ["patch2loc demo (synthetic)"],
    }
    if derivative:
        desc["GeneratedBy"] = [{"Name": "patch2loc.synth", "Description": "synthetic demo subjects"}]
        desc["DatasetLinks"] = {"raw": "../../"}
    _write_json(root / "dataset_description.json", desc)


def scan_relpaths() -> list[str]:
    """Every scan of the demo dataset, relative to its root."""
    out = []
    for sub, (_, sessions) in PARTICIPANTS.items():
        for ses in sessions or [None]:
            for suffix in SUFFIXES.values():
                folder = f"sub-{sub}/" + (f"ses-{ses}/" if ses else "") + "anat"
                stem = f"sub-{sub}" + (f"_ses-{ses}" if ses else "")
                out.append(f"{folder}/{stem}_{suffix}.nii.gz")
    return out


def write_demo_bids(root: str | Path, spacing: float = 2.0) -> Path:
    """Write the dataset under `root` (a new folder); `spacing` in mm (the demo's scans: 2.0)."""
    import nibabel as nib

    from patch2loc.synth import render_scan, subject_seed

    root = Path(root)
    _description(root, "patch2loc synthetic demo (BIDS)", derivative=False)
    (root / "README").write_text(
        "Synthetic brains made by patch2loc.synth from nilearn's MNI152 template, "
        "for trying `patch2loc bids`. Not real data.\n",
        encoding="utf-8",
    )
    (root / "participants.tsv").write_text("participant_id\tgroup\nsub-01\tlesion\nsub-02\thealthy\n", encoding="utf-8")
    _write_json(
        root / "participants.json",
        {
            "group": {
                "Description": "whether the synthetic brain has lesions",
                "Levels": {"lesion": "MS-like lesions", "healthy": "no lesion"},
            }
        },
    )
    masks, lesions = root / "derivatives" / "masks", root / "derivatives" / "lesions"
    _description(masks, "brain masks of the synthetic scans", derivative=True)
    _description(lesions, "lesion labels of the synthetic scans", derivative=True)
    for rel in scan_relpaths():
        name = Path(rel).name
        sub, ses = name.split("_")[0][4:], (name.split("_")[1][4:] if "_ses-" in name else None)
        dataset, sessions = PARTICIPANTS[sub]
        modality = "T1" if name.endswith("_T1w.nii.gz") else "T2"
        # one brain per participant; each session is a new scan of it (its own pose and noise)
        seed = subject_seed(SEED, dataset, f"sub-{sub}") + (sessions.index(ses) if ses else 0)
        scan = render_scan(dataset, modality, seed, spacing)
        image = np.clip(np.rint(scan.image), 0, np.iinfo(np.int16).max).astype(np.int16)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        nib.save(_nifti(image, scan.affine), root / rel)
        _write_json(root / rel.replace(".nii.gz", ".json"), {"Manufacturer": "patch2loc.synth (synthetic)"})
        stem, suffix = name[: -len("_T1w.nii.gz")], SUFFIXES[modality]
        source = {"Sources": [f"bids:raw:{rel}"], "SpatialReference": f"bids:raw:{rel}"}
        for folder, desc, volume in ((masks, "brain", scan.brain), (lesions, "lesion", scan.seg)):
            if volume is None:
                continue
            out = folder / Path(rel).parent / f"{stem}_space-{suffix}_desc-{desc}_mask.nii.gz"
            out.parent.mkdir(parents=True, exist_ok=True)
            nib.save(_nifti((np.asarray(volume) > 0).astype(np.uint8), scan.affine), out)
            _write_json(
                Path(str(out).replace(".nii.gz", ".json")), {**source, "Type": "Brain" if desc == "brain" else "Lesion"}
            )
    return root
