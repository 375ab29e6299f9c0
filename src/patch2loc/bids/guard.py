"""Folders `patch2loc bids` walks or writes: links, loops and bounds, checked before anything runs.

- A dataset (BIDS_DIR, --mask-derivatives, --seg-derivatives) is walked here before pybids
  indexes it, as pybids would walk it (it skips dot-names, `derivatives/` and root-level `code`,
  `models`, `sourcedata`, `stimuli`). pybids follows every directory link, so two links to `.`
  made it walk 2^n paths (no answer in 180 s). A directory link is allowed only when its target
  lies inside the dataset and is reached by no other path (a loop, or the same scans twice
  under two names, is refused), and the walk stops at MAX_DEPTH levels and MAX_ENTRIES entries.
- OUTPUT_DIR must hold no link at all: a planted `sub-01 -> /elsewhere` (or predict's
  `*_preprocessed` folder, or any file) made the participant level write through it, outside
  OUTPUT_DIR. Nothing of ours is ever a link, so any link is refused, and each published path is
  checked once more, component by component (`check_write`), in case one appears during the run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from patch2loc.errors import InputError
from patch2loc.files.outputs import printable

MAX_DEPTH = 16  # a BIDS dataset is 4 deep (sub/ses/datatype/file); OUTPUT_DIR 5 (.predict/<scan>/...)
MAX_ENTRIES = 1_000_000  # files and folders walked (a 1,000-subject dataset: about 20,000)
SKIPPED_AT_ROOT = re.compile(r"derivatives$|code|models|sourcedata|stimuli")  # pybids' defaults, derivatives/


def _entries(folder: Path, counted: list[int], root: Path, what: str):
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError as exc:
        raise InputError(f"{folder}: {what} cannot be listed ({exc.strerror}). Check its permissions.") from None
    counted[0] += len(entries)
    if counted[0] > MAX_ENTRIES:
        raise InputError(
            f"{root}: {what} holds more than {MAX_ENTRIES:,} files and folders; nothing was indexed. "
            "Give a dataset with fewer files (or split it)."
        )
    return entries


def _too_deep(root: Path, folder: Path, what: str) -> InputError:
    return InputError(
        f"{folder}: nested more than {MAX_DEPTH} folders below {what} {root}; nothing was read. "
        "A BIDS dataset is sub-<label>/ses-<label>/<datatype>/: remove the extra levels."
    )


def check_dataset_tree(root: Path, what: str) -> None:
    """Walk a dataset as pybids will; refuse a directory link out of it, into a loop or to a folder
    reached another way, and a tree beyond the bounds. One line naming the link. The plain folders
    are walked first, so which path counts as "the other way" does not depend on the listing order."""
    real_root = Path(os.path.realpath(root))
    seen, links, counted = {real_root}, [], [0]
    _walk(Path(root), real_root, 0, seen, links, counted, what, root)
    while links:
        path, depth = links.pop()
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(real_root) or target in seen:
            raise _bad_link(path, target, real_root, what)
        seen.add(target)  # a folder pybids skips (sourcedata/, a dot-folder) reached through a link
        _walk(path, target, depth, seen, links, counted, what, root)


def _walk(top: Path, real_top: Path, depth: int, seen: set, links: list, counted: list, what: str, root: Path):
    """Every plain folder below `top` into `seen` (real paths); directory links into `links`."""
    stack = [(top, real_top, depth)]
    while stack:
        folder, real, level = stack.pop()
        if level > MAX_DEPTH:
            raise _too_deep(root, folder, what)
        for entry in _entries(folder, counted, root, what):
            if entry.name.startswith(".") or (folder == root and SKIPPED_AT_ROOT.match(entry.name)):
                continue
            path = folder / entry.name
            if entry.is_symlink():
                if os.path.isdir(path):  # a file link (git-annex, DataLad) is read as a file by its reader
                    links.append((path, level + 1))
            elif entry.is_dir(follow_symlinks=False) and not entry.name.endswith(".zarr"):
                seen.add(real / entry.name)
                stack.append((path, real / entry.name, level + 1))


def _bad_link(path: Path, target: Path, real_root: Path, what: str) -> InputError:
    if not target.is_relative_to(real_root):
        why = "points outside the dataset"
    else:
        why = "leads back to a folder the dataset already holds (a loop, or the same scans under two names)"
    return InputError(
        f"{printable(path)}: a directory link in {what} that {why} (to {printable(target)}); nothing was "
        "indexed. Remove the link, or copy the folder in."
    )


def check_no_links(out: Path) -> None:
    """Refuse OUTPUT_DIR when any path below it is a symbolic link (we never make one)."""
    if not out.is_dir() or out.is_symlink():
        return  # a new folder; OUTPUT_DIR itself as a link is outputs.check_output's refusal
    stack, counted = [(out, 0)], [0]
    while stack:
        folder, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(out, folder, "OUTPUT_DIR")
        for entry in _entries(folder, counted, out, "OUTPUT_DIR"):
            path = folder / entry.name
            if entry.is_symlink():
                raise InputError(
                    f"{printable(path)}: a symbolic link inside OUTPUT_DIR (to {printable(os.readlink(path))}); "
                    "patch2loc bids never writes through a link. Remove it (patch2loc makes none)."
                )
            if entry.is_dir(follow_symlinks=False):
                stack.append((path, depth + 1))


def check_write(out: Path, path: Path) -> Path:
    """`path` (about to be written) and its folders lie in OUTPUT_DIR, through no link; returns it."""
    rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(out))
    here = Path(out)
    for part in rel.parts:
        here = here / part
        if here.is_symlink():
            raise InputError(
                f"{printable(here)}: a symbolic link appeared inside OUTPUT_DIR while patch2loc bids ran; "
                "nothing is written through it. Remove it and rerun."
            )
    return path
