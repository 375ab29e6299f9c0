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

import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from patch2loc.data.download import fetch
from patch2loc.io import InputError


@dataclass(frozen=True)
class DataFile:
    path: str  # directoryLabel/label: where the file sits in the dataset (folders may hold spaces and dots)
    id: int
    checksum: str | None  # "<algorithm>:<hex>" as download.fetch takes it ("sha1:..." on DataverseNL)


def _checksum(datafile: dict, where: str) -> str | None:
    checksum = datafile.get("checksum") or ({"type": "MD5", "value": datafile["md5"]} if datafile.get("md5") else None)
    if not checksum:
        return None
    algorithm = str(checksum["type"]).lower().replace("-", "")
    if algorithm not in hashlib.algorithms_available:
        raise InputError(
            f"{where}: checksum type {checksum['type']!r} of {datafile.get('filename')!r} is not one "
            "hashlib knows (Dataverse uses MD5, SHA-1, SHA-256 or SHA-512); check the `listing` URL."
        )
    return f"{algorithm}:{checksum['value']}"


def parse_listing(listing: dict, where: str = "the file listing") -> list[DataFile]:
    """Files of a native-API listing: `{"data": [...]}` (versions/<v>/files), `{"data": {"files":
    [...]}}` (versions/<v>) or `{"data": {"latestVersion": {"files": [...]}}}` (the dataset)."""
    data = listing.get("data", listing)
    if isinstance(data, dict):
        data = data.get("latestVersion", data).get("files", [])
    files = []
    for entry in data:
        datafile = entry["dataFile"]
        label = entry.get("label") or datafile["filename"]
        folder = (entry.get("directoryLabel") or "").strip("/")
        files.append(
            DataFile(f"{folder}/{label}" if folder else label, int(datafile["id"]), _checksum(datafile, where))
        )
    return files


def read_listing(url: str, timeout: float = 60.0) -> list[DataFile]:
    """The dataset's files, from its listing URL; InputError (one line) when it cannot be read."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return parse_listing(json.loads(response.read().decode("utf-8")), url)
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"{url}: the dataset's file listing could not be read ({type(exc).__name__}: {exc}); "
            "check the `listing` URL in the sources file (config/datasets.yaml)."
        ) from exc


def fetch_files(
    wanted: list[tuple[DataFile, Path]], *, access: str, checksum_db: str | Path, pinned_by: str, timeout: float = 60.0
) -> list[Path]:
    """Fetch each (file, destination) not yet in place from `access` (a URL with `{id}`), one at a
    time, each checked against its listing checksum; a file in place is checked, not fetched.
    Returns the files fetched now."""
    fetched = []
    for datafile, dest in wanted:
        present = dest.exists()
        fetch(
            access.format(id=datafile.id),
            dest,
            checksum_db,
            timeout=timeout,
            expected=datafile.checksum,
            pinned_by=pinned_by,
        )
        if not present:
            fetched.append(dest)
    return fetched
