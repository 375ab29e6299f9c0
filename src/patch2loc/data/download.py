"""Downloads that survive interruptions and slow links, with checksums (extraction: data/unpack.py).

`fetch` writes to `<dest>.part` and resumes it with an HTTP Range request; a server that ignores
Range (answers 200 instead of 206) makes it start the file again from zero, never append a second
copy. The first complete download records its sha256 in a tab-separated checksum db
(`name<TAB>sha256<TAB>url`); later runs verify against it, so a silently changed or corrupted file
is caught. Each read waits at most `timeout` s, and one file's transfer at most `deadline` s in
all (config download.timeout_s, download.deadline_s): a server that trickles a byte now and then
is cut off at the deadline, and what arrived stays in `.part` for the next run to resume.

Several download jobs may run at once and share one checksum db: every read-modify-write of the
db happens under an exclusive lock (`fcntl.flock` on `<db>.lock`), so no entry is lost.
A checksum pinned in config/datasets.yaml (`expected`) is checked before anything is recorded:
a corrupted transfer is deleted and never enters the db. It is a sha256 in hex, or `<algorithm>:<hex>`
for what a source publishes instead (`md5:...` for the IXI tarballs and on Zenodo records,
`sha1:...` in DataverseNL's file listings: whatever algorithm the listing names is checked;
`gitblob:...` for a file of a git mirror, its id in the mirror's tree). Only what can be verified
is accepted (`VERIFIABLE`: a fixed-size hashlib digest, or gitblob), checked before the transfer
starts; hex is compared without case.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output

CHUNK = 1 << 20
# The config's `download` block, its one home: timeout_s, the most one read waits for the server;
# deadline_s, the most one file's transfer may take (IXI-T1: 4.5 GB).
KEYS = {"timeout_s": 60.0, "deadline_s": 7200.0}
TIMEOUT_S, DEADLINE_S = KEYS["timeout_s"], KEYS["deadline_s"]
MAX_DB_BYTES = 64 << 20  # the checksum db: one short line per file (a few hundred files)


GIT_BLOB = "gitblob"  # git's id of a file: sha1 of "blob <size>\0" + content (a git mirror's tree lists it)
# What can be verified: hashlib's guaranteed algorithms with a fixed-size digest (not shake_*).
VERIFIABLE = tuple(sorted(a for a in hashlib.algorithms_guaranteed if not a.startswith("shake")))


def times_from_config(block: dict | None) -> dict[str, float]:
    """fetch's `timeout` and `deadline` from the config's `download` block (defaults where absent)."""
    block = {**KEYS, **(block or {})}
    return {"timeout": float(block["timeout_s"]), "deadline": float(block["deadline_s"])}


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


def checksum_spec(expected: str, where: str) -> tuple[str, str]:
    """(algorithm, lower-case hex) from 'hex' (sha256) or 'algorithm:hex' (md5, SHA-1, gitblob...);
    InputError for an algorithm that cannot be verified here or a value of the wrong shape."""
    algorithm, _, value = str(expected).strip().rpartition(":")
    algorithm, value = (algorithm.lower().replace("-", "") or "sha256"), value.lower()
    if algorithm != GIT_BLOB and algorithm not in VERIFIABLE:
        raise InputError(
            f"{where}: checksum type {algorithm!r} cannot be verified (known: {', '.join(VERIFIABLE)}, "
            f"{GIT_BLOB}); nothing was downloaded. Pin a value of one of these types."
        )
    digits = 2 * hashlib.new("sha1" if algorithm == GIT_BLOB else algorithm).digest_size
    if not re.fullmatch(f"[0-9a-f]{{{digits}}}", value):
        raise InputError(
            f"{where}: the {algorithm} value {value[:80]!r} is not {digits} hex digits; nothing was "
            "downloaded. Copy the checksum again from the source."
        )
    return algorithm, value


def pinned(entry: dict) -> str | None:
    """The value `fetch` checks for a sources entry: its `sha256` when pinned, else the `md5` its
    source publishes, else its git blob id (`gitblob`: a file of a git mirror, as its tree lists it)."""
    if entry.get("sha256"):
        return entry["sha256"]
    return next((f"{key}:{entry[key]}" for key in ("md5", GIT_BLOB) if entry.get(key)), None)


def _db_text(db: Path) -> str:
    if db.stat().st_size > MAX_DB_BYTES:
        raise InputError(f"{db}: larger than {MAX_DB_BYTES >> 20} MB, not a checksum db; move it away and run again.")
    data = db.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"{db}: line {line} is not UTF-8 text (byte {err.start}); fix or delete that line (the db is "
            "'name<TAB>sha256<TAB>url' per file)."
        ) from None


def read_checksums(db: str | os.PathLike) -> dict[str, str]:
    """name -> sha256 (lower-case hex) from the checksum db (empty if it does not exist yet)."""
    db = Path(db)
    if not db.exists():
        return {}
    out = {}
    for n, line in enumerate(_db_text(db).splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not re.fullmatch("[0-9a-fA-F]{64}", parts[1]):
            raise InputError(f"{db}: line {n} is not 'name<TAB>sha256[<TAB>url]'. Fix or delete the line.")
        out[parts[0]] = parts[1].lower()  # hex is compared without case
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
        algorithm, value = checksum_spec(expected, f"{url}: the checksum pinned in {pinned_by}")
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


def _copy(response, out, stop_at: float, url: str, part: Path, deadline: float) -> None:
    """Copy the body in reads of what has arrived (read1), so a trickle is checked against the
    deadline after every read, not after a whole 1 MB chunk."""
    read = getattr(response, "read1", response.read)
    while block := read(CHUNK):
        out.write(block)
        if time.monotonic() > stop_at:
            out.flush()
            raise InputError(
                f"{url}: the download did not finish within {deadline:g} s (config download.deadline_s); "
                f"the {os.path.getsize(part):,} bytes that arrived are kept in {part} and the next run resumes "
                "from them. Run again, or raise download.deadline_s for a slow link."
            )


def _transfer(url: str, part: Path, dest: Path, timeout: float, deadline: float) -> None:
    """One attempt: GET (with Range when `part` holds a start) into `part`, within the deadline."""
    stop_at = time.monotonic() + deadline
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        # Each read waits at most this long, so the deadline is overrun by at most one such wait.
        with urllib.request.urlopen(request, timeout=min(timeout, deadline)) as response:
            status = getattr(response, "status", None) or response.getcode()
            # 206 = the server honoured Range; anything else is the whole file from byte 0.
            mode = "ab" if have and status == 206 else "wb"
            length = response.headers.get("Content-Length")
            with open(part, mode) as out:
                start = out.tell()
                _copy(response, out, stop_at, url, part, deadline)
                got = out.tell() - start
            # http.client returns b"" (not an error) when the server closes the connection early.
            if length is not None and got < int(length):
                raise http.client.IncompleteRead(b"", int(length) - got)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range not satisfiable: .part is already complete
            return
        raise InputError(
            f"{url}: download failed (HTTP {exc.code} {exc.reason}). Check the URL in "
            f"config/datasets.yaml or download the file by hand to {dest}."
        ) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        # HTTPException: e.g. IncompleteRead when the connection drops mid-transfer; what arrived
        # stays in .part and the next attempt asks for the rest.
        raise InputError(
            f"{url}: download failed or was interrupted ({type(exc).__name__}: {exc}). Re-run "
            f"to resume from {part}, or download the file by hand to {dest}."
        ) from exc


def fetch(
    url: str,
    dest: str | os.PathLike,
    checksum_db: str | os.PathLike,
    *,
    timeout: float = TIMEOUT_S,
    deadline: float = DEADLINE_S,
    expected: str | None = None,
    pinned_by: str = "config/datasets.yaml",
) -> Path:
    """Download `url` to `dest` (resuming `dest.part`), then verify/record its sha256.

    An existing `dest` is not downloaded again, only verified. Works for http(s):// and file://.
    `expected`: a pinned sha256 (or `md5:<hex>` etc.), from `pinned_by`, checked for a verifiable
    type before anything is fetched; a mismatch deletes the download and raises InputError.
    `timeout`: the most one read waits; `deadline`: the most this transfer may take in all (what
    arrived stays in `.part`, resumed by the next call, as after an interruption).
    """
    if expected:
        checksum_spec(expected, f"{url}: the checksum pinned in {pinned_by}")
    dest, db = Path(dest), Path(checksum_db)
    if dest.exists():
        return _verify(dest, db, url, expected, pinned_by)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _transfer(url, part, dest, timeout, deadline)
    os.replace(part, dest)
    return _verify(dest, db, url, expected, pinned_by)
