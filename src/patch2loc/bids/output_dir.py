"""Where OUTPUT_DIR may be, and whose it is (docs/bids.md, "Where OUTPUT_DIR may be").

As the BIDS Apps do (fMRIPrep refuses an output folder equal to the input and suggests
`<bids_dir>/derivatives/<pipeline>`; the BIDS specification puts derivatives in
`derivatives/<pipeline>/`): OUTPUT_DIR is not an input dataset and holds none; inside one it is
exactly `<dataset>/derivatives/<name>`. It belongs to one pipeline and one bundle: a
dataset_description.json that names another pipeline in `GeneratedBy` (fMRIPrep's, a mask
dataset's) or another bundle's sha256 is refused; so is a non-empty folder without one.
"""

from __future__ import annotations

import os
from pathlib import Path

from patch2loc.bids import files
from patch2loc.errors import InputError

NAME = "patch2loc"


def check_place(out: Path, inputs: dict[str, Path]) -> None:
    """`inputs`: {flag: dataset root} (BIDS_DIR, --mask-derivatives, --seg-derivatives)."""
    from patch2loc.files.outputs import check_output

    check_output(out, "OUTPUT_DIR", inputs=inputs, folder=True, replaced_whole=True)
    real = Path(os.path.realpath(out))
    for flag, root in inputs.items():
        base = Path(os.path.realpath(root))
        if real.is_relative_to(base) and real.parent != base / "derivatives":
            raise InputError(
                f"{out}: OUTPUT_DIR is inside {flag} {root} but not under its derivatives/ folder as "
                f"derivatives/<name>; it would add files to that dataset. Use {Path(root) / 'derivatives' / NAME}."
            )


def owner(out: Path) -> dict | None:
    """OUTPUT_DIR's dataset_description.json (checked types) when patch2loc wrote it; None for a
    new or empty folder; InputError for a folder that holds something else."""
    description = out / "dataset_description.json"
    if not out.is_dir() or (not description.exists() and not any(out.iterdir())):
        return None
    if not description.exists():
        raise InputError(
            f"{out}: OUTPUT_DIR already holds files that patch2loc did not write (no patch2loc "
            "dataset_description.json). Choose a new or empty folder."
        )
    desc = files.read_json(description, "OUTPUT_DIR's dataset_description.json")
    generated = files.field(desc, "GeneratedBy", "list of objects", description) or []
    names = [files.field(g, "Name", "string", description, f"GeneratedBy[{i}]") for i, g in enumerate(generated)]
    others = sorted({str(n) for n in names if n != NAME})
    if others or not names:
        said = f"names the pipeline {', '.join(others)} in GeneratedBy" if others else "names no GeneratedBy"
        raise InputError(
            f"{out}: OUTPUT_DIR holds another pipeline's derivatives (its dataset_description.json {said}); "
            f"patch2loc bids writes only into its own. Use a new folder, e.g. derivatives/{NAME}."
        )
    for i, g in enumerate(generated):
        bundle = files.field(g, "ModelBundle", "object", description, f"GeneratedBy[{i}]") or {}
        for key in ("File", "Sha256", "Modality"):
            files.field(bundle, key, "string", description, f"GeneratedBy[{i}].ModelBundle")
    links = files.field(desc, "DatasetLinks", "object", description) or {}
    for key in links:
        files.field(links, key, "string", description, "DatasetLinks")
    return desc


def same_bundle(desc: dict | None, info: dict, out: Path) -> None:
    if desc is None:
        return
    before = desc["GeneratedBy"][0].get("ModelBundle") or {}
    if before.get("Sha256") != info["sha256"]:
        raise InputError(
            f"{out}: OUTPUT_DIR holds the derivatives of another model bundle ({before.get('File')}, "
            f"{before.get('Modality')}, sha256 {str(before.get('Sha256'))[:12]}...). Give this bundle "
            "its own OUTPUT_DIR, e.g. derivatives/patch2loc-" + info["modality"] + "."
        )
