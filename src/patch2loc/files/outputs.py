"""Output safety: outputs never replace inputs and are checked before any compute.

`check_output` refuses, before anything is computed, an output that is one of the inputs (same
path, a symlink to it or a hard link of it), an output with the wrong suffix, an output that is an
existing folder, an output path that is itself a symbolic link (it would be replaced, not its
target; a planted one only failed at the final rename), and an output whose folder cannot be
written; `check_utf8_path` a path SimpleITK
cannot open. Writing itself (staged, atomic, owned temporaries) is `staging.py` (import it from there).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from patch2loc.errors import InputError
from patch2loc.files.folders import folder_problem


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when `a` and `b` name one file: equal resolved paths, symlinks or hard links."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # st_dev + st_ino: also hard links
    except OSError:  # one of them does not exist (yet)
        return False


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    return path


def check_writable_folder(folder: str | os.PathLike, flag: str, what: str) -> None:
    """The folder exists and is writable, or can be created; InputError naming `what` otherwise."""
    existing = _nearest_existing(Path(folder))
    if not existing.is_dir():
        raise InputError(f"{what}: {existing} is a file, not a folder. Choose another {flag} path.")
    problem = folder_problem(existing)
    if problem is not None:
        raise InputError(
            f"{what}: the folder {existing} is not writable ({problem}). Choose another {flag} path or make the "
            "folder writable."
        )


def check_output(
    path: str | os.PathLike,
    flag: str,
    suffixes: Iterable[str] = (),
    inputs: dict[str, str | os.PathLike | None] | None = None,
    folder: bool = False,
    replaced_whole: bool = True,
) -> None:
    """Refuse an output path before any compute: wrong suffix, an existing folder (for a file) or
    file (for a folder), an unwritable folder, or the same file as one of `inputs` ({flag: path}).
    A folder that is `replaced_whole` must not contain an input either; one that only receives
    outputs (each checked on its own) may: `--out` may be the folder the scans are in."""
    path = Path(path)
    suffixes = tuple(suffixes)
    if folder and path.exists() and not path.is_dir():
        raise InputError(f"{path}: {flag} is an existing file, not a folder. Choose another {flag}.")
    if not folder and path.is_dir():
        raise InputError(
            f"{path}: {flag} is an existing folder. Give a file name, e.g. {path / 'out'}"
            f"{suffixes[0] if suffixes else ''}."
        )
    if suffixes and not path.name.lower().endswith(suffixes):
        raise InputError(
            f"{path}: {flag} must end in {' or '.join(suffixes)}. Choose a name such as "
            f"{path.name.split('.')[0] or 'out'}{suffixes[0]}."
        )
    for in_flag, in_path in (inputs or {}).items():
        if in_path is None:
            continue
        if same_file(path, in_path):
            other = "" if os.path.abspath(path) == os.path.abspath(in_path) else f" {in_path}"  # (once is enough)
            raise InputError(
                f"{path}: {flag} is the same file as {in_flag}{other}; it would be "
                f"overwritten. Choose another {flag} path."
            )
        if folder and replaced_whole and Path(os.path.realpath(in_path)).is_relative_to(os.path.realpath(path)):
            raise InputError(
                f"{path}: the output folder {flag} contains {in_flag} {in_path}, which it "
                f"would overwrite. Choose another {flag} path."
            )
    # after the inputs: a link to an input is named as such ("the same file as --image")
    if path.is_symlink() and (replaced_whole or not folder):
        raise InputError(
            f"{path}: {flag} is a symbolic link (to {printable(os.readlink(path))}); an output never "
            f"replaces a link or writes through it. Remove the link{_or_another(flag)}."
        )
    check_writable_folder(path if folder else path.parent, flag, str(path))


def _or_another(flag: str) -> str:
    """The alternative a message offers: another value of a command-line flag; a path the tool
    names itself (predict's preprocessed folder) has no flag to change, so none is offered."""
    return f" or choose another {flag}" if flag.startswith("-") else ""


def check_distinct(outputs: dict[str, str | os.PathLike | None]) -> None:
    """No two outputs name the same file."""
    named = [(flag, p) for flag, p in outputs.items() if p is not None]
    for i, (flag_a, a) in enumerate(named):
        for flag_b, b in named[i + 1 :]:
            if same_file(a, b):
                raise InputError(f"{a}: {flag_a} and {flag_b} name the same file. Give them different paths.")


def printable(path: str | os.PathLike) -> str:
    """A path as text that can always be printed (undecodable bytes as \\xNN)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_utf8_path(path: str | os.PathLike, what: str) -> None:
    """SimpleITK aborts the whole process (SIGABRT) on a path that is not valid UTF-8: refuse it."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"{printable(path)}: {what} is not valid UTF-8, which the image library "
            "(SimpleITK) cannot open. Rename the file or folder (or pick another path)."
        ) from None
