"""A folder of the user's cache (the demo's anatomy sources, the transfer check's test data) and the files
found in it, checked before they are used.

The folder comes from an environment variable (PATCH2LOC_ANATOMY_CACHE, PATCH2LOC_TEST_DATA) or lies
under ~/.cache. A path that is a file ended in a FileExistsError traceback; a FIFO under an archive's
expected name was opened and waited on forever, and a link to /dev/zero hashed forever. Now the folder
must be a folder (made when missing), and a cached file is hashed only when it is a regular file of at
most the size such a file has; anything else is one line naming it and the fix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from patch2loc.data.download import sha256sum
from patch2loc.errors import InputError
from patch2loc.files.folders import folder_problem

MAX_ARCHIVE_BYTES = 256 << 20  # the archives cached today are 34-39 MB
CACHE_FREE_BYTES = 128 << 20  # an archive (34-39 MB), its extraction and the derived maps


def cache_folder(env: str, default: Path) -> Path:
    """The cache folder `env` names (else `default`), made when missing; InputError when it cannot be one."""
    given = os.environ.get(env, "").strip()
    folder = Path(given) if given else default
    how = f"set {env} to a folder you can write (or unset it: {default})" if given else f"or set {env} to a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{folder}: the cache folder ({env}) is a file, not a folder; move it away, {how}.") from None
    except OSError as exc:
        raise InputError(f"{folder}: the cache folder ({env}) cannot be made ({exc.strerror}); {how}.") from None
    problem = folder_problem(folder, CACHE_FREE_BYTES)
    if problem is not None:
        raise InputError(f"{folder}: the cache folder ({env}) is not writable ({problem}); {how}.")
    return folder


def cached_copy(path: Path, sha256: str, max_bytes: int = MAX_ARCHIVE_BYTES) -> bool:
    """Whether `path` holds the file of this sha256: False when absent, or a regular file of another size
    or content (the caller fetches it again and replaces it); InputError for a FIFO, device or folder
    under that name (or a link to one), which is never opened."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be accessed ({exc.strerror}); remove it so that it is fetched again."
        ) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "folder" if stat.S_ISDIR(info.st_mode) else "FIFO, device or socket (perhaps through a link)"
        raise InputError(
            f"{path}: a {kind} under a cached file's name; it was not opened. Remove it so that the file is fetched again."
        )
    return info.st_size <= max_bytes and sha256sum(path) == sha256


def regular_cached(path: Path, max_bytes: int, fix: str) -> bool:
    """Whether a derived file is cached at `path`: False when absent; InputError unless it is a regular file
    of at most `max_bytes` (checked before it is read)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise InputError(f"{path}: cannot be accessed ({exc.strerror}); {fix}") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        what = "not a regular file" if not stat.S_ISREG(info.st_mode) else f"{info.st_size:,} bytes"
        raise InputError(f"{path}: {what}, not a file this cache holds (at most {max_bytes >> 20} MB); {fix}")
    return True
