"""Staged writes: outputs appear whole, with the user's file mode, and each run owns its temporaries.

- `atomic_output` (one file) and `OutputSet` (several files and folders committed together) write
  under a temporary name in the destination folder and rename into place only on success, with
  the user's normal file mode (0666/0777 minus the umask; `mkstemp` alone would give 0600). A
  failure (Ctrl-C and SIGTERM included) removes the temporaries and the folders made for them.
- Temporary names carry `TEMP_MARK` and their owner (host, process id, process start time), so a
  writer killed with SIGKILL leaves a file that the next write of the same output (or
  `remove_stale_temps`) recognises and removes, while the staging files of a run that is still
  alive (a second predict on the same --out, started seconds later) are never touched.
- `owned_temp_folder`: a scratch folder with the same owner mark, swept the same way.
- `folder_lock`: one process at a time writes into a folder (train's --out).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from patch2loc.errors import InputError

TEMP_MARK = ".p2l-tmp-"  # in every temporary name: `.{name}.p2l-tmp-{host}-{pid}-{start}-{random}{suffixes}`
_OWNER = re.compile(r"([0-9a-f]{8})-(\d+)-(\d+)-")  # what follows TEMP_MARK in a name with an owner
_umask_lock = threading.Lock()


def _umask() -> int:
    with _umask_lock:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain `open(path, "w")` would give a new file."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    return 0o777 & ~_umask()


def host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _start_time(pid: int) -> int:
    """When process `pid` started (clock ticks since boot, Linux); 0 where unknown. With the pid it
    names one process: a pid reused by a later process has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the name in (...) may hold spaces
    except (OSError, IndexError, ValueError):
        return 0


def _temp_prefix(path: Path) -> str:
    return f".{path.name}{TEMP_MARK}"


def _owned_prefix(path: Path) -> str:
    pid = os.getpid()
    return f"{_temp_prefix(path)}{host_tag()}-{pid}-{_start_time(pid)}-"


def owner_alive(name: str) -> bool:
    """Whether the process that made the temporary file `name` may still be writing it. A name in
    the temporary namespace (`TEMP_MARK`) without an owner counts as dead: every writer names
    itself, so no live one made it (a damaged or hand-made leftover, which would otherwise stay
    forever). Another host's process cannot be checked and counts as alive."""
    owner = _OWNER.match(name.split(TEMP_MARK, 1)[-1])
    if owner is None:
        return False
    host, pid, start = owner.group(1), int(owner.group(2)), int(owner.group(3))
    if host != host_tag():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        pass
    return not (start and _start_time(pid) and _start_time(pid) != start)  # else: the pid was reused


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove temporary files/folders a killed writer of `path` left beside it; returns them.
    Those of a live process (another run writing the same output right now) are left alone."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    prefix = _temp_prefix(path)
    for stale in path.parent.iterdir():  # not glob: a name may hold [ ] * ?
        if not stale.name.startswith(prefix) or owner_alive(stale.name):
            continue
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed


def _missing_folders(path: Path) -> list[Path]:
    """The folders above `path` that do not exist yet, deepest first (made now, removed on failure)."""
    missing, folder = [], path.parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; one that is not empty stays
        try:
            folder.rmdir()
        except OSError:
            continue


def _new_temp(path: Path, folder: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    if folder:
        return Path(tempfile.mkdtemp(prefix=_owned_prefix(path), dir=path.parent))
    # The temporary name keeps the final suffixes (e.g. `.nii.gz`): writers infer the format from it.
    suffix = "".join(path.suffixes[-2:]) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=_owned_prefix(path), suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def owned_temp_folder(beside: str | os.PathLike) -> Path:
    """A new private (0700) folder named after `beside` and this process (e.g. a bundle unpacked
    into the temporary folder, or export's members before they are zipped), after removing those a
    dead process left for the same name. The caller removes it; a SIGKILL leaves it to the next run."""
    return _new_temp(Path(beside), folder=True)


def _discard(tmp: Path) -> None:
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


def _put_in_place(tmp: Path, path: Path) -> None:
    if tmp.is_dir():
        os.chmod(tmp, folder_mode())
        if path.is_dir() and not path.is_symlink():
            # A folder cannot be renamed over a non-empty one: move the old one aside first.
            old = Path(tempfile.mkdtemp(prefix=_owned_prefix(path), dir=path.parent))
            os.replace(path, old / "old")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
            return
    else:
        os.chmod(tmp, file_mode())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds."""
    path = Path(path)
    made = _missing_folders(path)
    tmp = _new_temp(path, folder=False)
    try:
        yield tmp
        _put_in_place(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
            _remove_empty(made)


class OutputSet:
    """Several outputs that appear together or not at all.

    with OutputSet() as outs:
        tmp_dir = outs.folder(final_dir)   # fill it
        tmp_file = outs.file(final_file)   # write it
    # all renamed into place here; on any exception (Ctrl-C included) all removed
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []
        self._made: list[Path] = []  # folders made for the outputs, removed again if nothing lands

    def file(self, path: str | os.PathLike) -> Path:
        return self._stage(Path(path), folder=False)

    def folder(self, path: str | os.PathLike) -> Path:
        return self._stage(Path(path), folder=True)

    def _stage(self, path: Path, folder: bool) -> Path:
        self._made += _missing_folders(path)
        tmp = _new_temp(path, folder)
        self._staged.append((tmp, path))
        return tmp

    def commit(self) -> None:
        for tmp, path in self._staged:
            _put_in_place(tmp, path)
        self._staged.clear()

    def discard(self) -> None:
        for tmp, _ in self._staged:
            _discard(tmp)
        self._staged.clear()
        _remove_empty(sorted(self._made, key=lambda f: len(f.parts), reverse=True))
        self._made.clear()

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.commit()
            finally:
                self.discard()
        else:
            self.discard()


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str, flag: str = "--out") -> Iterator[None]:
    """Hold an exclusive lock on `folder` (flock on the folder itself: no lock file is left), or
    refuse at once when another process holds it. Released when the process ends, however."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(
                f"{folder}: another {what} is writing into this folder right now. Wait for it "
                f"to finish, or choose another {flag}."
            ) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock
