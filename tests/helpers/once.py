"""Results built once per test session and shared by the pytest-xdist workers: the first worker to ask
builds it under a file lock, the others wait and read what it wrote. For inputs several test files
read unchanged (a dry run of the paper DAG takes a minute on 2 cores; `--dist loadfile` puts the files
on different workers, so a session fixture alone would build it once per worker)."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def session_folder(tmp_path_factory) -> Path:
    """A folder of this session that every worker sees: the workers' common parent under xdist (each
    worker's own base is below it), the base itself without xdist. Never a folder of an earlier session."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once(tmp_path_factory, key: str, build: Callable[[Path], T]) -> T:
    """`build(folder)`'s result for `key`, built by one worker of the session (in `folder`, a fresh
    folder of its own) and read back by the others; a build that raised is built again by the next."""
    root = session_folder(tmp_path_factory) / "once"
    root.mkdir(exist_ok=True)
    result = root / f"{key}.pickle"
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if result.is_file():
            return pickle.loads(result.read_bytes())
        folder = root / key
        shutil.rmtree(folder, ignore_errors=True)  # what a build that raised left
        folder.mkdir()
        value = build(folder)
        part = root / f"{key}.part"
        part.write_bytes(pickle.dumps(value))
        os.replace(part, result)  # whole or absent
        return value
