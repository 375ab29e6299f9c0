"""Merge the shards of a sharded scoring job: csv tables line by line, kept heatmaps by link.

Scoring a lesion dataset in shards (one job per `evaluate.shard_size` volumes) writes, per shard,
the same files the unsharded job writes for the whole dataset. Merging streams the csv text in
shard order (the header once), so the result is the unsharded table byte for byte (decompressed,
for .csv.gz) and no table is ever held in memory.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Iterable

from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output


def _open_text(path: Path, mode: str):
    return (
        gzip.open(path, mode, encoding="utf-8", newline="")
        if path.name.endswith(".gz")
        else open(path, mode, encoding="utf-8", newline="")
    )


def merge_csv(parts: Iterable[str | os.PathLike], out: str | os.PathLike) -> int:
    """Concatenate csv files (plain or .gz) with one header; returns the number of data rows.

    Every part must have the same header line; a part that differs is named in the error.
    """
    parts = [Path(p) for p in parts]
    if not parts:
        raise InputError(f"{out}: no shards to merge; check the workflow's shard list.")
    header, rows = None, 0
    with atomic_output(out) as tmp:
        raw = open(tmp, "wb")
        # mtime=0: the same rows give the same bytes, run after run.
        sink = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if Path(out).name.endswith(".gz") else raw
        try:
            for part in parts:
                with _open_text(part, "rt") as fh:
                    first = fh.readline()
                    if header is None:
                        header = first
                        sink.write(first.encode())
                    elif first != header:
                        raise InputError(
                            f"{part}: header {first.strip()!r} differs from the first shard's "
                            f"{header.strip()!r}; delete the shards and score again."
                        )
                    for line in fh:
                        sink.write(line.encode())
                        rows += 1
        finally:
            if sink is not raw:
                sink.close()
            raw.close()
    return rows


def merge_dirs(parts: Iterable[str | os.PathLike], out_dir: str | os.PathLike) -> int:
    """Put the files of several shard folders into one folder (hard links when possible, else
    copies); returns how many. Two shards with the same file name are an error."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for part in map(Path, parts):
        for src in sorted(part.iterdir()):
            if src.name.startswith("."):
                # Snakemake's .snakemake_timestamp of the shard's directory() output: hard-linked,
                # touching the merged folder's own timestamp would make the shard look newer.
                continue
            dest = out_dir / src.name
            if dest.exists():
                raise InputError(f"{src}: {dest} already came from another shard; subject ids must be unique.")
            try:
                os.link(src, dest)
            except OSError:  # another file system, or links not allowed
                shutil.copy2(src, dest)
            count += 1
    return count
