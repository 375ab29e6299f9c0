"""Every file `patch2loc bids` reads as text, read within a size budget and parsed into checked types.

A dataset_description.json, a sidecar, a --bids-filter-file, OUTPUT_DIR's own description and
sidecars, predict's summaries and the per-scan components tables are all files someone else may
have written. Each is read here: a regular file only (a FIFO would block, /dev/zero never ends),
at most its budget of bytes before anything is parsed (a 1 GB sparse file is refused from its
size, never read whole), JSON nested at most parsing.MAX_DEPTH levels (counted on the raw text:
300,000 `[` overflow Python's stack), and every value the App uses checked for its type. A file
that fails is one InputError naming the file (and the key) and what it must hold.
"""

from __future__ import annotations

import json
import math
import os

from patch2loc.checks.parsing import MAX_DEPTH, json_depth, read_bounded
from patch2loc.errors import InputError

MAX_JSON = 1 << 20  # a description or sidecar: about 1 kB
MAX_SUMMARY = 16 << 20  # predict's summary lists every component: about 250 bytes each
MAX_TABLE = 16 << 20  # a components table: about 120 bytes a component
MAX_ROWS = 100_000  # components of one scan (a 1 mm brain mask has about 1.5 million voxels)


def _crafted(path, what: str, problem: str) -> InputError:
    return InputError(f"{path}: {what} {problem}; nothing was parsed. The file is corrupt or crafted: replace it.")


def read_bytes(path: str | os.PathLike, what: str, max_bytes: int) -> bytes:
    """The file's bytes: a regular file of at most `max_bytes` (checks/parsing.read_bounded); missing: one line."""
    try:
        return read_bounded(path, what, max_bytes)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: {what} cannot be read ({exc.strerror}).") from None


def read_json(path: str | os.PathLike, what: str, max_bytes: int = MAX_JSON) -> dict:
    """A JSON object from `path`, bounded in size and depth; InputError naming `what` otherwise."""
    data = read_bytes(path, what, max_bytes)
    if json_depth(data) > MAX_DEPTH:
        raise _crafted(path, what, f"is nested more than {MAX_DEPTH} levels deep")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: {what} is not valid JSON ({type(exc).__name__}). Fix or replace the file.") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: {what} must hold a JSON object ({{...}}), not {_kind(obj)}.")
    return obj


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


CHECKS = {
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "list of strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "list of objects": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
}


def field(obj: dict, key: str, kind: str, path, where: str = "", optional: bool = True):
    """obj[key] checked to be `kind` (a CHECKS key); None when absent (or null) and `optional`."""
    value = obj.get(key)
    if value is None and optional:
        return None
    if not CHECKS[kind](value):
        name = f"{where}.{key}" if where else key
        raise InputError(
            f'{path}: "{name}" must be {"a" if kind != "object" else "an"} {kind}, not {_kind(value)}. '
            "Fix the file (or remove it)."
        )
    return value


def read_table(path: str | os.PathLike, what: str, columns: list[str], sep: str) -> list[dict[str, float]]:
    """A components table (predict's csv, the published tsv): exactly `columns`, one finite
    number in every cell, at most MAX_ROWS rows and MAX_TABLE bytes; rows as {column: value}."""
    return parse_table(read_bytes(path, what, MAX_TABLE).decode("utf-8", "replace"), path, what, columns, sep)


def parse_table(text: str, path, what: str, columns: list[str], sep: str) -> list[dict[str, float]]:
    lines = text.splitlines()
    if not lines or lines[0].split(sep) != columns:
        head = lines[0][:120] if lines else "nothing"
        raise InputError(f"{path}: {what} must have the columns {sep.join(columns)!r}, but its header is {head!r}.")
    if len(lines) - 1 > MAX_ROWS:
        raise _crafted(path, what, f"has {len(lines) - 1:,} rows, more than the {MAX_ROWS:,} a scan has")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split(sep)
        try:
            values = [float(c) for c in cells]
        except ValueError:
            values = []
        if len(cells) != len(columns) or len(values) != len(columns) or not all(map(math.isfinite, values)):
            raise InputError(
                f"{path}: {what}, line {number}: must hold {len(columns)} numbers ({', '.join(columns)}), "
                f"but holds {line[:80]!r}. Rerun the participant level with --overwrite."
            )
        rows.append(dict(zip(columns, values)))
    return rows
