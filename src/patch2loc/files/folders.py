"""Whether files can be created in a folder, tried rather than assumed: `os.access` says yes to root
everywhere (a folder under /proc or /sys, where nothing can be created) and knows nothing of free
space. One probe file is created and removed at once, before any work, and the folder's access and
modification times are put back."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MIN_FREE_BYTES = 16 << 20  # below this a folder has no room for even one small output


def folder_problem(folder: str | os.PathLike, need_bytes: int = MIN_FREE_BYTES) -> str | None:
    """Why no file can be written into the existing folder `folder` (None when one can): not a
    folder, nothing can be created there (its OS reason), or less free space than `need_bytes`."""
    folder = Path(folder)
    if not folder.is_dir():
        return "not a folder"
    before = folder.stat()
    try:
        fd, probe = tempfile.mkstemp(prefix=".p2l-probe-", dir=folder)
    except OSError as exc:
        return f"nothing can be created there ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    try:  # the folder's times as they were: a refusal after this check leaves it untouched
        os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))
    except OSError:
        pass
    try:
        free = shutil.disk_usage(folder).free
    except OSError:  # no statistics for this file system: the probe is all we know
        return None
    if free < need_bytes:
        return f"no space left: {free >> 20} MB free, at least {need_bytes >> 20} MB needed"
    return None
