"""The WMH challenge bundle, unpacked, brought to the layout `layouts.raw_paths` reads.

The DataverseNL bundle (doi:10.34894/AECRSD) holds `training/` (60 subjects), `test/` (110
subjects, also with wmh.nii.gz), `additional_annotations/` (other observers' masks) and
`readme.pdf`; sites nest differently (`training/Utrecht/0`, `training/Amsterdam/GE3T/100`).
Only the folders asked for (`training`, and `test` when the config says so) are arranged, each
subject folder (the one holding wmh.nii.gz and pre/) moved to `<root>/<site>/<id>`.

Nothing is moved until every subject to arrange has its files, so a bundle that came incomplete
(see data.dataverse) never leaves a half-arranged WMH folder behind; a rerun after the missing
files arrived moves the rest.
"""
from __future__ import annotations

from pathlib import Path

from patch2loc.io import InputError

REQUIRED = ("wmh.nii.gz", "pre/T1.nii.gz", "pre/FLAIR.nii.gz")


def _plan(bundle: Path, root: Path, splits: tuple[str, ...]) -> list[tuple[Path, Path]]:
    """(subject folder in the bundle, its place under root) for every subject still to move. A
    subject folder is one holding any of the REQUIRED files, so that a subject whose wmh.nii.gz
    was left out of the bundle is found (and reported) rather than silently skipped."""
    folders = set()
    for split in splits:
        for name in REQUIRED:
            depth = name.count("/") + 1
            folders |= {p.parents[depth - 1] for p in (bundle / split).rglob(name.rsplit("/", 1)[-1])
                        if p.as_posix().endswith("/" + name)}
    return [(d, root / d.parent.name / d.name) for d in sorted(folders)]


def arrange(bundle: str | Path, root: str | Path, splits: tuple[str, ...] = ("training",)) -> int:
    """Move the subjects of `splits` from the unpacked `bundle` to `root/<site>/<id>`; return how
    many were moved. InputError (and nothing moved) when a subject lacks a file, two subjects
    would land in one place, or there is nothing to arrange."""
    bundle, root = Path(bundle), Path(root)
    moves = [(src, dst) for src, dst in _plan(bundle, root, splits) if not dst.exists()]
    missing = [src / name for src, _ in moves for name in REQUIRED if not (src / name).exists()]
    if missing:
        shown = ", ".join(str(p.relative_to(bundle)) for p in missing[:4])
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        raise InputError(f"{bundle}: {len(missing)} file(s) of the WMH subjects are missing ({shown}{more}); "
                         "the bundle is incomplete: see its MANIFEST.TXT, download them into the same "
                         "folders and run again (nothing was arranged).")
    targets = [dst for _, dst in moves]
    clash = sorted({str(t) for t in targets if targets.count(t) > 1})
    if clash:
        raise InputError(f"{bundle}: several subject folders of {'/'.join(splits)} would be moved to {clash[0]}; "
                         "arrange them by hand (nothing was arranged).")
    if not moves and not any(root.glob("*/*/wmh.nii.gz")):
        found = ", ".join(sorted(p.name for p in bundle.iterdir())) if bundle.is_dir() else "nothing"
        raise InputError(f"{bundle}: no {' or '.join(f'{s}/' for s in splits)} subject with wmh.nii.gz "
                         f"(found: {found}); see config/datasets.yaml (WMH, manual) for the layout.")
    for src, dst in moves:
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.rename(dst)
    return len(moves)
