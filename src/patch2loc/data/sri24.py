"""The SRI24 atlas (Rohlfing et al. 2010, SPM8 package from NITRC): its T1 brain template, found by
name in whatever layout the zip unpacks to.

The package's `templates/` folder holds T1.nii, T1_brain.nii, T2.nii, T2_brain.nii, PD(_brain).nii
and EPI(_brain).nii; the paper registers every modality to `T1_brain.nii` (the brain mask is
T1_brain > 0). Copies of the zip differ in where that folder sits: at the top level
(`templates/T1_brain.nii`) or inside `sri24_spm8/` (or deeper), so the file is looked for by its
exact name anywhere under the unpacked folder (the name is compared without case; `._` resource
forks of macOS zips never match). The prepared atlas (`T1_brain.nii.gz`) has another name.
"""

from __future__ import annotations

from pathlib import Path

from patch2loc.errors import InputError

TEMPLATE = "T1_brain.nii"  # the template of every modality (METHOD.md)


def find_template(folder: str | Path, name: str = TEMPLATE) -> Path:
    """The one file called `name` under `folder`; InputError (one line) for none or several."""
    folder = Path(folder)
    hits = sorted(
        p for p in folder.rglob("*") if p.name.lower() == name.lower() and p.is_file() and "__MACOSX" not in p.parts
    )
    if len(hits) == 1:
        return hits[0]
    if not hits:
        seen = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.nii*"))
        shown = ", ".join(seen[:6]) + (" ..." if len(seen) > 6 else "") or "no NIfTI file"
        raise InputError(
            f"{folder}: no {name} in the unpacked SRI24 archive (found: {shown}); the archive is "
            "not the SRI24 SPM8 package (config/datasets.yaml, SRI24): delete the folder and the "
            "zip and run again."
        )
    raise InputError(
        f"{folder}: {len(hits)} files named {name} "
        f"({', '.join(p.relative_to(folder).as_posix() for p in hits)}); keep the SRI24 package's "
        "templates/ copy only and run again."
    )
