"""Files of a Dataverse dataset, fetched one at a time through its file API.

A Dataverse dataset's native API lists its files (`/api/datasets/:persistentId/versions/<version>/
files`: per file `label`, `directoryLabel` (the folder, e.g. `training/Amsterdam/GE3T/100/pre`),
`dataFile.id` and the checksum the installation keeps: SHA-1 on DataverseNL, MD5 on others; the
listing names the algorithm). Each file is then fetched from the per-file access API
(`/api/access/datafile/{id}`) with `download.fetch`: written to `.part` and resumed with Range
after an interruption, checked against the listing's checksum (a mismatch deletes it), its sha256
recorded in the shared checksum db under its lock. A file already in place is checked, not fetched.

Why not the "download the whole dataset" bundle: it zips everything (the WMH release: 1,791 files,
8.8 GB with the test set) up to the server's zip limit, cannot be resumed, and leaves the rest out.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from patch2loc.data.download import DEADLINE_S, TIMEOUT_S, checksum_spec, fetch
from patch2loc.errors import InputError
from patch2loc.checks.parsing import json_depth


MAX_LISTING_BYTES = 64 << 20  # the WMH release's listing (1,791 files) is about 2 MB
MAX_FILES = 100_000
MAX_DEPTH = 32  # a listing nests 5 levels


@dataclass(frozen=True)
class DataFile:
    path: str  # directoryLabel/label: where the file sits in the dataset (folders may hold spaces and dots)
    id: int
    checksum: str | None  # "<algorithm>:<hex>" as download.fetch takes it ("sha1:..." on DataverseNL)


def _bad(where: str, what: str) -> InputError:
    return InputError(
        f"{where}: {what}; not a Dataverse file listing. Check the `listing` URL in the sources file "
        "(config/datasets.yaml)."
    )


def _text(entry: dict, key: str, where: str, n: int) -> str:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise _bad(where, f"file {n}: `{key}` is a {type(value).__name__}, not text")
    return value or ""


def _checksum(datafile: dict, where: str, n: int) -> str | None:
    checksum = datafile.get("checksum") or ({"type": "MD5", "value": datafile["md5"]} if datafile.get("md5") else None)
    if not checksum:
        return None
    if not isinstance(checksum, dict) or not all(isinstance(checksum.get(k), str) for k in ("type", "value")):
        raise _bad(where, f"file {n}: `checksum` is not {{type, value}} text")
    spec = f"{checksum['type']}:{checksum['value']}"
    algorithm, value = checksum_spec(spec, f"{where}: file {n} ({datafile.get('filename')!r})")  # before any download
    return f"{algorithm}:{value}"


def _entries(listing, where: str) -> list:
    """The list of file entries of the three listing shapes, checked to be one."""
    data = listing.get("data", listing) if isinstance(listing, dict) else None
    if isinstance(data, dict):
        data = data.get("latestVersion", data)
        data = data.get("files", []) if isinstance(data, dict) else None
    if not isinstance(data, list):
        raise _bad(where, "no list of files under `data`")
    if len(data) > MAX_FILES:
        raise _bad(where, f"{len(data):,} files, more than {MAX_FILES:,}")
    return data


def _datafile(entry, where: str, n: int) -> DataFile:
    datafile = entry.get("dataFile") if isinstance(entry, dict) else None
    if not isinstance(datafile, dict):
        raise _bad(where, f"file {n}: no `dataFile` object")
    ident = datafile.get("id")
    if type(ident) is not int or ident < 0:  # bool is not an id, nor is "12"
        raise _bad(where, f"file {n}: `dataFile.id` {ident!r} is not a whole number")
    label = _text(entry, "label", where, n) or _text(datafile, "filename", where, n)
    if not label:
        raise _bad(where, f"file {n}: no `label` or `dataFile.filename`")
    folder = _text(entry, "directoryLabel", where, n).strip("/")
    return DataFile(f"{folder}/{label}" if folder else label, ident, _checksum(datafile, where, n))


def parse_listing(listing, where: str = "the file listing") -> list[DataFile]:
    """Files of a native-API listing: `{"data": [...]}` (versions/<v>/files), `{"data": {"files":
    [...]}}` (versions/<v>) or `{"data": {"latestVersion": {"files": [...]}}}` (the dataset).
    Every field is checked for its type; InputError names the file entry."""
    return [_datafile(entry, where, n) for n, entry in enumerate(_entries(listing, where), 1)]


def _read_bounded(response, where: str, deadline: float) -> bytes:
    """At most MAX_LISTING_BYTES, within `deadline` s (reads of what has arrived, so a trickle is
    cut off), nesting counted before anything is parsed."""
    stop_at, chunks, size = time.monotonic() + deadline, [], 0
    read = getattr(response, "read1", response.read)
    while block := read(1 << 16):
        size += len(block)
        if size > MAX_LISTING_BYTES:
            raise _bad(where, f"more than {MAX_LISTING_BYTES:,} bytes (nothing was parsed)")
        if time.monotonic() > stop_at:
            raise InputError(
                f"{where}: the file listing did not arrive within {deadline:g} s (config download.deadline_s); "
                "run again, or raise download.deadline_s for a slow link."
            )
        chunks.append(block)
    data = b"".join(chunks)
    if json_depth(data) > MAX_DEPTH:
        raise _bad(where, f"nested more than {MAX_DEPTH} levels deep")
    return data


def read_listing(url: str, timeout: float = TIMEOUT_S, deadline: float = DEADLINE_S) -> list[DataFile]:
    """The dataset's files, from its listing URL; InputError (one line) when it cannot be read:
    bounded in bytes, time and nesting before parsing (`_read_bounded`), every field checked."""
    try:
        with urllib.request.urlopen(url, timeout=min(timeout, deadline)) as response:
            data = _read_bounded(response, url, deadline)
        listing = json.loads(data.decode("utf-8"))
    except InputError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: not UTF-8, not JSON
        raise InputError(
            f"{url}: the dataset's file listing could not be read ({type(exc).__name__}: {exc}); "
            "check the `listing` URL in the sources file (config/datasets.yaml)."
        ) from exc
    return parse_listing(listing, url)


def fetch_files(
    wanted: list[tuple[DataFile, Path]],
    *,
    access: str,
    checksum_db: str | Path,
    pinned_by: str,
    timeout: float = TIMEOUT_S,
    deadline: float = DEADLINE_S,
) -> list[Path]:
    """Fetch each (file, destination) not yet in place from `access` (a URL with `{id}`), one at a
    time (each within `deadline` s), each checked against its listing checksum; a file in place is
    checked, not fetched.
    Returns the files fetched now."""
    fetched = []
    for datafile, dest in wanted:
        present = dest.exists()
        fetch(
            access.format(id=datafile.id),
            dest,
            checksum_db,
            timeout=timeout,
            deadline=deadline,
            expected=datafile.checksum,
            pinned_by=pinned_by,
        )
        if not present:
            fetched.append(dest)
    return fetched
