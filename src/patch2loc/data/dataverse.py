"""A Dataverse "download the whole dataset" bundle made whole: the files it left out, one by one.

Dataverse's bundle API (`/api/access/dataset/...`) zips "as many files as possible": past the
server's zip-size limit it leaves files out and lists them in the bundle's MANIFEST.TXT, one line
each (Dataverse's own wording):

    training/Utrecht/0/wmh.nii.gz (application/gzip) 156318 bytes.
    FLAIR.nii.gz (application/gzip) skipped because the total size of the download bundle exceeded the limit of 2147483648 bytes.
    readme.pdf IS RESTRICTED AND CANNOT BE DOWNLOADED

Left-out files are named by label only (many are called wmh.nii.gz), so their folder and database
id come from the dataset's file listing (native API, `/api/datasets/:persistentId/versions/
<version>/files`: label, directoryLabel, dataFile.id and the checksum Dataverse keeps). Each
missing file the run needs is fetched from the per-file access API (`/api/access/datafile/{id}`)
with `download.fetch`: resumed from `.part`, checked against the listing's checksum, sha256
recorded in the shared checksum db under its lock. Without a listing URL the run stops with one
line that names what is missing and where to get it.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from patch2loc.data.download import fetch
from patch2loc.io import InputError

MANIFEST = "MANIFEST.TXT"
_INCLUDED = re.compile(r"^(?P<name>.+?) \((?P<mime>[^()]*)\) (?P<size>\d+) bytes\.$")
_SKIPPED = re.compile(r"^(?P<name>.+?)(?: \([^()]*\))?\s+skipped because\b")
_RESTRICTED = re.compile(r"^(?P<name>.+?) IS (?:RESTRICTED|EMBARGOED)\b")


@dataclass(frozen=True)
class Manifest:
    included: tuple[str, ...]  # zip entry names (with their folders)
    left_out: tuple[str, ...]  # file labels (no folder), over the size limit
    restricted: tuple[str, ...]  # labels the server would not hand out at all


def read_manifest(path: str | Path) -> Manifest:
    """Parse a bundle's MANIFEST.TXT (lines it does not recognise are ignored)."""
    included, left_out, restricted = [], [], []
    for line in Path(path).read_text(errors="replace").splitlines():
        line = line.strip()
        if m := _SKIPPED.match(line):
            left_out.append(m["name"])
        elif m := _RESTRICTED.match(line):
            restricted.append(m["name"])
        elif m := _INCLUDED.match(line):
            included.append(m["name"])
    return Manifest(tuple(included), tuple(left_out), tuple(restricted))


@dataclass(frozen=True)
class DataFile:
    path: str  # directoryLabel/label, as the bundle would have stored it
    id: int
    checksum: str | None  # "<algorithm>:<hex>" as download.fetch takes it


def parse_listing(listing: dict) -> list[DataFile]:
    """Files of a native-API listing: `{"data": [...]}` (versions/<v>/files) or
    `{"data": {"files": [...]}}` (versions/<v>)."""
    data = listing.get("data", listing)
    entries = data.get("files", []) if isinstance(data, dict) else data
    files = []
    for entry in entries:
        datafile = entry["dataFile"]
        label = entry.get("label") or datafile["filename"]
        folder = (entry.get("directoryLabel") or "").strip("/")
        checksum = datafile.get("checksum") or ({"type": "MD5", "value": datafile["md5"]} if datafile.get("md5") else None)
        files.append(DataFile(f"{folder}/{label}" if folder else label, int(datafile["id"]),
                              f"{checksum['type']}:{checksum['value']}" if checksum else None))
    return files


def _read_listing(url: str, timeout: float) -> list[DataFile]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return parse_listing(json.loads(response.read().decode("utf-8")))
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{url}: the dataset's file listing could not be read ({type(exc).__name__}: {exc}); "
                         "check the `listing` URL in the sources file, or fetch the left-out files by hand "
                         "(see MANIFEST.TXT).") from exc


def complete_bundle(folder: str | Path, *, needed: tuple[str, ...], checksum_db: str | Path,
                    listing: str | None, access: str | None, page: str | None = None,
                    timeout: float = 60.0) -> list[Path]:
    """Fetch the files under the `needed` top folders that the unpacked bundle in `folder` lacks.

    Returns the files fetched (none when MANIFEST.TXT reports nothing left out, or there is no
    MANIFEST.TXT). Raises InputError when files are missing and cannot be fetched.
    """
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return []
    manifest = read_manifest(manifest_path)
    if not manifest.left_out and not manifest.restricted:
        return []
    where = page or "the dataset's page"
    if not (listing and access):
        names = ", ".join(sorted(set(manifest.left_out + manifest.restricted)))
        raise InputError(
            f"{manifest_path}: the bundle left out {len(manifest.left_out) + len(manifest.restricted)} file(s) "
            f"({names}); set `listing` and `access` for this dataset in the sources file, or download them "
            f"from {where} into {folder} under their folders (e.g. training/<site>/<id>/) and then delete "
            f"{manifest_path}, and run again.")
    files = _read_listing(listing, timeout)
    absent = [f for f in files if not (folder / f.path).exists()]
    unexplained = Counter(manifest.left_out + manifest.restricted) - Counter(f.path.rsplit("/", 1)[-1] for f in files)
    if unexplained:
        raise InputError(f"{manifest_path}: {sorted(unexplained)} are listed as left out but the file listing "
                         f"{listing} has no such file; is the listing of the same dataset version?")
    wanted = [f for f in absent if f.path.split("/", 1)[0] in needed]
    fetched = []
    for f in wanted:
        fetched.append(fetch(access.format(id=f.id), folder / f.path, checksum_db, timeout=timeout,
                             expected=f.checksum, pinned_by=f"the file listing {listing}"))
    skipped = len(absent) - len(wanted)
    print(f"{manifest_path}: {len(manifest.left_out)} file(s) left out of the bundle; fetched {len(fetched)} "
          f"one by one; {skipped} not needed here (outside {', '.join(needed)}/) left out", flush=True)
    return fetched
