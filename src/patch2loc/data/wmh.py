"""The WMH challenge data (DataverseNL, doi:10.34894/AECRSD): the files the splits use, fetched one
by one into the layout `layouts.raw_paths` reads.

The dataset holds `training/` (60 subjects), `test/` (110, with wmh.nii.gz too),
`additional_annotations/observer_o3|o4/<split>/<site>/[<scanner>/]<id>/result.nii.gz` (other
observers' masks of some subjects), `readme.pdf`; 1,791 files, 8.8 GB. Subject folders nest
differently per site (`training/Utrecht/0`, `training/Amsterdam/GE3T/100`,
`test/Amsterdam/Philips_VU .PETMR_01./<id>`); each holds wmh.nii.gz, pre/ and orig/.

Only what the pipeline reads is fetched: per subject of the splits, `wmh.nii.gz` (the reference
labels) and `pre/T1.nii.gz` (the T1 registered to the FLAIR grid of wmh.nii.gz), from `training/`
(and `test/` with `datasets.WMH.test_set`), to `<root>/<site>/<id>/`. The site is the folder above
the id (the scanner folder for Amsterdam), made a plain name: every run of characters other than
letters and digits becomes one `_` (`Philips_VU .PETMR_01.` -> `Philips_VU_PETMR_01`), because a
space or a trailing dot in a path breaks shell commands, Snakemake wildcards and Windows copies.
Subject ids are `<site>_<id>` (GE3T_100). The additional annotations are not used: a path counts
only under the splits asked for, so an observer's `result.nii.gz` is never taken for a subject.
"""

from __future__ import annotations

import re
from pathlib import Path

from patch2loc.data.dataverse import DataFile, fetch_files, read_listing
from patch2loc.data.download import DEADLINE_S, TIMEOUT_S, verify_file
from patch2loc.data.layouts import MODALITIES, raw_paths
from patch2loc.errors import InputError


def site_name(folder: str) -> str:
    """A site folder of the dataset as a plain path component (letters, digits, `_`)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", folder).strip("_")


def needed_files() -> tuple[str, ...]:
    """The files of a subject folder the pipeline reads (relative to it): labels, then image."""
    scan = raw_paths("WMH", ".", "site_0", MODALITIES["WMH"][0])
    folder = scan.seg.parent
    return tuple(p.relative_to(folder).as_posix() for p in (scan.seg, scan.image))


def subject_files(files: list[DataFile], splits: tuple[str, ...]) -> dict[str, dict[str, DataFile]]:
    """subject id -> {file relative to its folder -> listing entry}, for the needed files of every
    subject folder under `splits`. InputError when two folders make one subject id."""
    needed, found, origin = needed_files(), {}, {}
    for f in files:
        if f.path.split("/", 1)[0] not in splits:
            continue  # additional_annotations/, readme.pdf, and the splits not asked for
        for rel in needed:
            if not f.path.endswith("/" + rel):
                continue
            folder = f.path[: -len(rel) - 1].split("/")
            if len(folder) < 3 or not folder[-1].isdigit():  # <split>/<site>[/<scanner>]/<id>
                continue
            subject = f"{site_name(folder[-2])}_{folder[-1]}"
            source = "/".join(folder)
            if origin.setdefault(subject, source) != source:
                raise InputError(
                    f"WMH: the folders {origin[subject]!r} and {source!r} of the dataset both make "
                    f"subject {subject}; fetch them by hand (config/datasets.yaml, WMH, manual)."
                )
            found.setdefault(subject, {})[rel] = f
    return found


def plan(
    files: list[DataFile], subjects: list[str], splits: tuple[str, ...], root: Path
) -> list[tuple[DataFile, Path]]:
    """(listing entry, destination under root) for the needed files of `subjects`. InputError
    naming the subjects or files the listing lacks."""
    found = subject_files(files, splits)
    absent = [s for s in subjects if s not in found]
    if absent:
        hint = "" if "test" in splits else "; subjects of the challenge's test/ need datasets.WMH.test_set: true"
        raise InputError(
            f"WMH: {len(absent)} subject(s) of the splits are not in the dataset's "
            f"{' or '.join(f'{s}/' for s in splits)} ({', '.join(absent[:5])}"
            f"{' ...' if len(absent) > 5 else ''}){hint}. Subject ids are <site>_<id>, e.g. GE3T_100."
        )
    wanted, lacking = [], []
    for s in subjects:
        site, sid = s.rsplit("_", 1)
        for rel in needed_files():
            if rel in found[s]:
                wanted.append((found[s][rel], root / site / sid / rel))
            else:
                lacking.append(f"{s}: {rel}")
    if lacking:
        raise InputError(
            f"WMH: the dataset's listing has no {', '.join(lacking[:4])}; is the `listing` URL the WMH dataset's?"
        )
    return wanted


def fetch_subjects(
    subjects: list[str],
    root: str | Path,
    *,
    splits: tuple[str, ...],
    listing: str | None,
    access: str | None,
    checksum_db: str | Path,
    page: str | None = None,
    timeout: float = TIMEOUT_S,
    deadline: float = DEADLINE_S,
) -> list[Path]:
    """Bring the needed files of `subjects` to `root/<site>/<id>/`, fetched one by one (resumable,
    each checked against the listing's checksum); return the files fetched now. Files already in
    place are checked too. Without a listing, files placed by hand are accepted (recorded in the
    checksum db); a missing one stops the run with one line."""
    root = Path(root)
    if listing and access:
        wanted = plan(read_listing(listing, timeout, deadline), subjects, splits, root)
        return fetch_files(
            wanted,
            access=access,
            checksum_db=checksum_db,
            timeout=timeout,
            deadline=deadline,
            pinned_by=f"the file listing {listing}",
        )
    paths = [root / s.rsplit("_", 1)[0] / s.rsplit("_", 1)[1] / rel for s in subjects for rel in needed_files()]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise InputError(
            f"{missing[0]}: {len(missing)} WMH file(s) missing and no `listing`/`access` URL for WMH in "
            f"the sources file; set them (config/datasets.yaml) or download the files from "
            f"{page or 'the dataset page'} into <site>/<id>/ under {root}."
        )
    for path in paths:
        verify_file(path, checksum_db, page or "placed by hand")
    return []
