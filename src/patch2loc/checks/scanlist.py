"""Scan lists (csv), the one reader for `patch2loc train --train-list/--val-list` (columns
image,mask) and `patch2loc predict --image list.csv` (image[,mask[,seg]]).

Paths in a list are absolute or relative to the csv's own folder, never to the working folder
(a list then means the same wherever the command runs); a relative path that exists only from the
working folder gets a one-line hint. A byte-order mark (Excel's "CSV UTF-8") is not part of the
first column's name.
"""

from __future__ import annotations

import csv
from pathlib import Path

from patch2loc.errors import InputError


def _located(csv_path: Path, text: str, row_number: int, column: str) -> Path:
    given = Path(text)
    if given.is_absolute():
        return given
    here = csv_path.parent / given
    if not here.exists() and given.exists():  # written for the working folder
        raise InputError(
            f"{csv_path}: row {row_number}, {column} {text}: relative paths in the list are "
            f"relative to the csv's folder ({csv_path.parent}), and it is not there. Write it "
            f"relative to that folder, or absolute ({given.resolve()})."
        )
    return here


def read_scan_list(
    path: str | Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[dict[str, Path | None]]:
    """One {column: path or None} per row; the `required` columns must exist and be filled in."""
    path = Path(path)
    columns = ",".join(required) + "".join(f"[,{c}" for c in optional) + "]" * len(optional)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            if any(c not in fields for c in required):
                raise InputError(
                    f"{path}: needs the column(s) {', '.join(map(repr, required))} (found {fields}). "
                    f"Write one row per scan: {columns}."
                )
            rows = []
            for row_number, row in enumerate(reader, start=2):  # line 1 is the header
                cells = {c: (row.get(c) or "").strip() for c in (*required, *optional)}
                empty = [c for c in required if not cells[c]]
                if empty:
                    raise InputError(
                        f"{path}: row {row_number} has an empty '{empty[0]}' cell. Fill in the path "
                        "(or delete the row)."
                    )
                rows.append({c: _located(path, text, row_number, c) if text else None for c, text in cells.items()})
    except FileNotFoundError:
        raise InputError(f"{path}: file not found. Check the path of the scan list.") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder. Pass a csv file with the columns {columns}.") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text csv. Pass a csv with the columns {columns}.") from None
    if not rows:
        raise InputError(f"{path}: no scans listed. Add at least one row {columns}.")
    return rows
