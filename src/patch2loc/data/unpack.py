"""Unpacking a downloaded archive (the IXI tarballs, the SRI24 and HD-BET zips) within budgets.

Before anything is written, the archive's directory is read and every member's declared size is
compared with the budget (`archive_budget`, shared with the model bundles): the number of
members, the bytes of one member and the bytes in all, from the config's `extract` block
(`budget_from_config`), and the total with the free space of the destination. A tar's headers are
read one at a time, so a member that declares terabytes is refused before its data is skipped.
A completion marker is written last, so an interrupted extraction is redone instead of trusted.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path

from patch2loc.checks import archive_budget
from patch2loc.checks.archive_budget import MB, Budget
from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output

# The real archives (config/datasets.yaml): IXI-T1.tar ~4.5 GB of 581 scans of 10-30 MB each,
# IXI-T2.tar ~3.9 GB, the SRI24 SPM8 zip and HD-BET's weights well under 1 GB.
KEYS = {"max_members": 10_000, "max_member_mb": 1024, "max_total_mb": 16 * 1024}
REFUSED = "nothing was extracted"


def budget_from_config(block: dict | None) -> Budget:
    """The budget from the config's `extract` block (schema-checked; missing keys: defaults)."""
    block = {**KEYS, **(block or {})}
    return Budget(int(block["max_members"]), int(block["max_member_mb"] * MB), int(block["max_total_mb"] * MB))


DEFAULT = budget_from_config(None)


def _how(archive: Path) -> str:
    return (
        f"If {archive.name} is the real download, raise the limit (config extract.max_members, "
        "max_member_mb, max_total_mb); otherwise delete it and download it again."
    )


def _check_room(archive: Path, dest: Path, total: int) -> None:
    """Refuse a total the destination's disk cannot hold; then make the folder (nothing before)."""
    existing = next(p for p in (dest, *dest.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if total > free:
        raise InputError(
            f"{archive}: its members declare {total / MB:,.0f} MB, {dest} has {free / MB:,.0f} MB free; "
            f"{REFUSED}. Free some space (or move raw_root) and run again."
        )
    dest.mkdir(parents=True, exist_ok=True)


def _zip(archive: Path, dest: Path, budget: Budget) -> None:
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        total = archive_budget.check_members(
            archive, ((i.filename, i.file_size) for i in infos), budget, REFUSED, _how(archive)
        )
        for info in infos:
            if not (root / info.filename).resolve().is_relative_to(root):
                raise InputError(
                    f"{archive}: member {info.filename!r} would be written outside {dest}; "
                    "refusing to extract. Check where the archive came from."
                )
        _check_room(archive, dest, total)
        zf.extractall(dest)


def _tar(archive: Path, dest: Path, budget: Budget) -> None:
    with tarfile.open(archive) as tf:
        # Iterating reads one header at a time; check_members stops before the next is sought.
        total = archive_budget.check_members(archive, ((m.name, m.size) for m in tf), budget, REFUSED, _how(archive))
        _check_room(archive, dest, total)
        tf.extractall(dest, filter="data")  # refuses absolute paths, '..' and outside links


def extract(archive: str | os.PathLike, dest: str | os.PathLike, budget: Budget = DEFAULT) -> Path:
    """Unpack a tar(.gz/.bz2/.xz) or zip archive into `dest`; return the completion marker.

    The marker `dest/.extracted-<archive name>` is written after the last member, so its presence
    means a complete extraction (and a second call does nothing). Members that would land outside
    `dest` (absolute paths, `..`, links pointing out) and archives beyond `budget` are refused.
    """
    archive, dest = Path(archive), Path(dest)
    marker = dest / f".extracted-{archive.name}"
    if marker.exists():
        return marker
    try:
        if zipfile.is_zipfile(archive):
            _zip(archive, dest, budget)
        elif tarfile.is_tarfile(archive):
            _tar(archive, dest, budget)
        else:
            raise InputError(f"{archive}: not a tar or zip archive (or truncated). Delete it and download it again.")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(
            f"{archive}: extraction failed ({type(exc).__name__}: {exc}); the archive is "
            "probably truncated. Delete it and download it again."
        ) from exc
    with atomic_output(marker) as tmp:
        tmp.write_text(f"{archive.name}\n")
    return marker
