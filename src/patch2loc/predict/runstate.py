"""When is a scan of a folder run done? When its outputs were made from these inputs with these settings.

Each scan's summary records `run_state`: the sha256 of its inputs (image, or every file of a
DICOM series folder; mask; seg) and the settings of the call (every checkpoint's sha256, the
threshold and where it came from, stride, median size, region, post-processing, precision,
skull stripping, and with --from-run the sha256 of the run's config, landmarks and atlas), and
one `fingerprint` of both. A folder run skips a scan only when all its outputs exist and the
recorded fingerprint equals the current one; a scan whose input or settings changed is redone.
When such a redo fails, the earlier outputs are removed (only a set whose summary names this
heatmap, i.e. one predict made), so no later run can take them for current results.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from patch2loc.files.staging import TEMP_MARK
from patch2loc.predict.models import method_flags
from patch2loc.predict.plan import OWNER_FILE

if TYPE_CHECKING:  # the request's parts (command._run_request); importing them here costs nothing at run time
    from patch2loc.predict.request import ScanFlags, ScoringFlags

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: str | Path | None) -> str | None:
    """A file's sha256; for a folder (a DICOM series) one sha256 over its files' names and
    contents (not its subfolders, not hidden files); None for no path and for what is not a
    readable regular file or folder (never opened: a FIFO would block; reading the scan later
    names the problem)."""
    if path is None:
        return None
    path = Path(path)
    try:
        if path.is_file():
            return sha256_file(path)
        if not path.is_dir():
            return None
        digest = hashlib.sha256()
        for member in sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")):
            digest.update(member.name.encode("utf-8", "surrogateescape") + b"\0" + sha256_file(member).encode() + b"\n")
        return digest.hexdigest()
    except OSError:
        return None


def call_settings(
    scoring: ScoringFlags,
    scans: ScanFlags,
    modality: str | None,
    checkpoints: list[Path],
    chain,
    threshold: float | None,
    source: str,
    method: str = "Patch2Loc",
) -> dict:
    """Everything of the call that changes a scan's outputs (device and batch size do not; nor do
    Patch2Loc's scoring flags for a method that ignores them: predict.models). `scans`: for the other
    contrasts' files of a model of several contrasts."""
    settings = {
        "checkpoints": [sha256_file(c) for c in checkpoints],
        "threshold": threshold,
        "threshold_source": source,
        **method_flags(method, scoring),
        "median_size": scoring.median_size,
        "postprocess": not scoring.no_postprocess,
        "modality": modality,
    }
    if chain is not None:
        settings["from_run"] = {name: sha256_of(path) for name, path in chain.recorded.items()}
    if scans.contrast or scans.contrast_mask:  # a model of several contrasts: its other scans are inputs too
        settings["contrasts"] = {
            f"{c} {what}": sha256_of(p) for what in ("contrast", "contrast_mask") for c, p in getattr(scans, what)
        }
    return settings


def scan_state(scan, settings: dict, skull_strip: str | None) -> dict:
    """The run state of one scan: its inputs' checksums, the settings and their fingerprint."""
    inputs = {"image": sha256_of(scan.image), "mask": sha256_of(scan.mask), "seg": sha256_of(scan.seg)}
    settings = {**settings, "skull_strip": skull_strip}
    text = json.dumps({"inputs": inputs, "settings": settings}, sort_keys=True, default=str)
    return {"inputs": inputs, "settings": settings, "fingerprint": hashlib.sha256(text.encode()).hexdigest()}


def recorded(job) -> dict | None:
    """The summary of this job's earlier outputs, when it exists and belongs to this heatmap."""
    try:
        summary = json.loads(job.outputs["summary"].read_text(encoding="utf-8"))
        made_for = Path(summary["outputs"]["heatmap"]).name
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return summary if made_for == job.heatmap.name else None


def is_current(job, state: dict | None) -> bool:
    """All outputs exist and were made from the same inputs with the same settings."""
    summary = recorded(job)
    if (
        state is None
        or state["inputs"]["image"] is None
        or summary is None
        or not all(p.exists() for p in job.outputs.values())
    ):
        return False
    return (summary.get("run_state") or {}).get("fingerprint") == state["fingerprint"]


def remove_stale(job) -> list[Path]:
    """Remove the outputs an earlier run made for this job (the summary must name this heatmap;
    a folder only when predict made it); returns what was removed."""
    if recorded(job) is None:
        return []
    removed = []
    for name, path in job.outputs.items():
        if name == "summary" or TEMP_MARK in path.name or path.is_symlink() or not path.exists():
            continue
        if path.is_dir():
            if not (path / OWNER_FILE).is_file():
                continue
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path)
    summary = job.outputs["summary"]
    summary.unlink()  # last: while it exists, the set is recognisably ours
    return [*removed, summary]
