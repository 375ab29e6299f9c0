"""Downloads that survive interruptions, with checksums, and archive extraction.

`fetch` writes to `<dest>.part` and resumes it with an HTTP Range request; a server that ignores
Range (answers 200 instead of 206) makes it start the file again from zero, never append a second
copy. The first complete download records its sha256 in a tab-separated checksum db
(`name<TAB>sha256<TAB>url`); later runs verify against it, so a silently changed or corrupted file
is caught. `extract` unpacks tar/zip archives and writes a completion marker last, so an
interrupted extraction is redone instead of trusted.

Several download jobs may run at once and share one checksum db: every read-modify-write of the
db happens under an exclusive lock (`fcntl.flock` on `<db>.lock`), so no entry is lost.
A checksum pinned in config/datasets.yaml (`expected`) is checked before anything is recorded:
a corrupted transfer is deleted and never enters the db. It is a sha256 in hex, or `<algorithm>:<hex>`
for what a source publishes instead (`md5:...` for the IXI tarballs and on Zenodo records,
`sha1:...` in DataverseNL's file listings: whatever algorithm the listing names is checked;
`gitblob:...` for a file of a git mirror, its id in the mirror's tree).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from patch2loc.io import InputError, atomic_output

CHUNK = 1 << 20


GIT_BLOB = "gitblob"  # git's id of a file: sha1 of "blob <size>\0" + content (a git mirror's tree lists it)


def sha256sum(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (sha256 unless another hashlib algorithm, or GIT_BLOB, is named), read
    in chunks (the IXI tarballs are several GB)."""
    h = hashlib.new("sha1" if algorithm == GIT_BLOB else algorithm)
    if algorithm == GIT_BLOB:
        h.update(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _pinned(expected: str) -> tuple[str, str]:
    """('sha256', hex) from 'hex', or (algorithm, hex) from 'algorithm:hex' (md5, sha1, SHA-256...)."""
    algorithm, _, value = expected.rpartition(":")
    return (algorithm.lower().replace("-", "") or "sha256"), value.lower()


def pinned(entry: dict) -> str | None:
    """The value `fetch` checks for a sources entry: its `sha256` when pinned, else the `md5` its
    source publishes, else its git blob id (`gitblob`: a file of a git mirror, as its tree lists it)."""
    if entry.get("sha256"):
        return entry["sha256"]
    return next((f"{key}:{entry[key]}" for key in ("md5", GIT_BLOB) if entry.get(key)), None)


def read_checksums(db: str | os.PathLike) -> dict[str, str]:
    """name -> sha256 from the checksum db (empty if it does not exist yet)."""
    db = Path(db)
    if not db.exists():
        return {}
    out = {}
    for n, line in enumerate(db.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or len(parts[1]) != 64:
            raise InputError(f"{db}: line {n} is not 'name<TAB>sha256[<TAB>url]'. Fix or delete the line.")
        out[parts[0]] = parts[1]
    return out


@contextlib.contextmanager
def _locked(db: Path):
    """Exclusive lock on the db for one read-modify-write (parallel download jobs share the db)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record_checksum(db: Path, name: str, digest: str, url: str) -> None:
    """Add one line to the db (rewritten atomically so a crash cannot truncate it). Call with the
    db locked."""
    old = db.read_text() if db.exists() else "# name\tsha256\turl\n"
    if old and not old.endswith("\n"):
        old += "\n"
    with atomic_output(db) as tmp:
        tmp.write_text(old + f"{name}\t{digest}\t{url}\n")


def _key(dest: Path, db: Path) -> str:
    """The db key of a file: its path relative to the db's folder when possible."""
    try:
        return str(dest.resolve().relative_to(db.resolve().parent))
    except ValueError:
        return str(dest.resolve())


def _verify(
    dest: Path, db: Path, url: str, expected: str | None = None, pinned_by: str = "config/datasets.yaml"
) -> Path:
    """Check `dest` against the pinned value and the db; record its checksum if the db lacks it."""
    key = _key(dest, db)
    digest = sha256sum(dest)
    if expected:
        algorithm, value = _pinned(expected)
        got = digest if algorithm == "sha256" else sha256sum(dest, algorithm)
        if got != value:
            dest.unlink()  # a corrupt file must not be mistaken for a finished download
            raise InputError(
                f"{url}: {algorithm} {got} differs from the value pinned in {pinned_by} ({value}); the "
                "corrupted download was removed, run again (or update the pinned value if the source "
                "legitimately changed)."
            )
    with _locked(db):
        known = read_checksums(db).get(key)
        if known is None:
            _record_checksum(db, key, digest, url)
    if known is not None and known != digest:
        raise InputError(
            f"{dest}: sha256 {digest} does not match {known} recorded in {db}. The file is corrupt "
            f"or changed on the server: delete {dest} and download it again (and delete its line in "
            f"{db} if the server's file legitimately changed)."
        )
    return dest


def verify_file(
    path: str | os.PathLike, checksum_db: str | os.PathLike, source: str, expected: str | None = None
) -> Path:
    """Record a file's sha256 in the db the first time, verify it every later time (e.g. a file
    unpacked from a downloaded archive, which a later job reads directly)."""
    return _verify(Path(path), Path(checksum_db), source, expected)


def fetch(
    url: str,
    dest: str | os.PathLike,
    checksum_db: str | os.PathLike,
    *,
    timeout: float = 60.0,
    expected: str | None = None,
    pinned_by: str = "config/datasets.yaml",
) -> Path:
    """Download `url` to `dest` (resuming `dest.part`), then verify/record its sha256.

    An existing `dest` is not downloaded again, only verified. Works for http(s):// and file://.
    `expected`: a pinned sha256 (or `md5:<hex>` etc.), from `pinned_by`; a mismatch deletes the
    download and raises InputError.
    """
    dest, db = Path(dest), Path(checksum_db)
    if dest.exists():
        return _verify(dest, db, url, expected, pinned_by)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = getattr(response, "status", None) or response.getcode()
            # 206 = the server honoured Range; anything else is the whole file from byte 0.
            mode = "ab" if have and status == 206 else "wb"
            length = response.headers.get("Content-Length")
            with open(part, mode) as out:
                start = out.tell()
                shutil.copyfileobj(response, out, CHUNK)
                got = out.tell() - start
            # http.client returns b"" (not an error) when the server closes the connection early.
            if length is not None and got < int(length):
                raise http.client.IncompleteRead(b"", int(length) - got)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range not satisfiable: .part is already complete
            pass
        else:
            raise InputError(
                f"{url}: download failed (HTTP {exc.code} {exc.reason}). Check the URL in "
                "config/datasets.yaml or download the file by hand to "
                f"{dest}."
            ) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        # HTTPException: e.g. IncompleteRead when the connection drops mid-transfer; what arrived
        # stays in .part and the next attempt asks for the rest.
        raise InputError(
            f"{url}: download failed or was interrupted ({type(exc).__name__}: {exc}). Re-run "
            f"to resume from {part}, or download the file by hand to {dest}."
        ) from exc
    os.replace(part, dest)
    return _verify(dest, db, url, expected, pinned_by)


def _marker(archive: Path, dest: Path) -> Path:
    return dest / f".extracted-{archive.name}"


def extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Unpack a tar(.gz/.bz2/.xz) or zip archive into `dest`; return the completion marker.

    The marker `dest/.extracted-<archive name>` is written after the last member, so its presence
    means a complete extraction (and a second call does nothing). Members that would land outside
    `dest` (absolute paths, `..`, links pointing out) are refused.
    """
    archive, dest = Path(archive), Path(dest)
    marker = _marker(archive, dest)
    if marker.exists():
        return marker
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    if not (root / name).resolve().is_relative_to(root):
                        raise InputError(
                            f"{archive}: member {name!r} would be written outside {dest}; "
                            "refusing to extract. Check where the archive came from."
                        )
                zf.extractall(dest)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")  # refuses absolute paths, '..' and outside links
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
