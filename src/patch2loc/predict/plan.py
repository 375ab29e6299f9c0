"""Which outputs each scan of a `predict` call gets, checked against every input before any compute.

`jobs` turns --out (a file or a folder) into one frozen Job per scan: its outputs,
named once, and how the chain skull-strips it. `check_skull_strip` checks --skull-strip against
the scans (HD-BET installed where needed). `check_paths` then refuses, before
anything is read or computed: an output that is an input (same path, a link, a hard link), an
output inside a folder that is read whole as an input (a bundle folder, the --from-run folder, a
DICOM series folder: a file added there makes it unusable), an output path that is a symbolic link
(the link would be replaced, not its target), two outputs that are one file, and an existing
`S_preprocessed/` folder or summary that belongs to another heatmap.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from patch2loc.errors import InputError
from patch2loc.files.outputs import check_distinct, check_output

if TYPE_CHECKING:  # importing these here costs nothing at run time
    from patch2loc.predict.inputs import ScanInput
    from patch2loc.predict.request import OutputFlags, ScanFlags

NIFTI = (".nii.gz", ".nii")
OWNER_FILE = "predict.json"  # in S_preprocessed/: which heatmap the folder belongs to


@dataclass(frozen=True)
class Job:
    """One scan's work: its outputs (named once, `outputs`) and how the chain strips it."""

    scan: ScanInput
    heatmap: Path  # S.nii.gz (or the exact --out of a single scan)
    stem: Path
    png: Path | None
    from_run: bool
    lesions: bool  # a threshold is known
    html: Path | None = None  # --html: the interactive viewer
    strip: str | None = None  # the chain's skull stripping (skull_strip_of); None without a chain
    outputs: dict[str, Path] = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "outputs", _outputs(self))  # frozen: set once, as it is made


def _outputs(job: Job) -> dict[str, Path]:
    s = str(job.stem)
    paths = {"heatmap": job.heatmap, "summary": Path(s + "_summary.json"), "components": Path(s + "_components.csv")}
    if job.lesions:
        paths["lesions"] = Path(s + "_lesions.nii.gz")
    if job.from_run:
        paths["preprocessed"] = Path(s + "_preprocessed")
        paths["native"] = Path(s + "_native.nii.gz")
        if job.lesions:
            paths["native_lesions"] = Path(s + "_native_lesions.nii.gz")
    if job.png is not None:
        paths["png"] = job.png
    if job.html is not None:
        paths["html"] = job.html
    return paths


def skull_strip_of(scan: ScanInput, choice: str) -> str:
    """--skull-strip (auto | mask | hdbet | none) -> the chain's setting for this scan."""
    if choice == "auto":
        return "provided" if scan.mask is not None else "hdbet"
    return {"mask": "provided"}.get(choice, choice)


def check_skull_strip(choice: str, scans: list, from_run: bool) -> None:
    """--skull-strip (`choice`) against the scans: only raw scans are stripped, `mask` needs every
    mask, and HD-BET must be there when a scan needs it."""
    if not from_run and choice in ("hdbet", "none"):
        raise InputError(f"--skull-strip {choice}: only raw scans are skull-stripped; add --from-run (or --model).")
    unmasked = [s for s in scans if s.mask is None]
    if from_run and unmasked and choice == "mask":
        raise InputError(
            f"{unmasked[0].image}: --skull-strip mask but no brain mask for this scan. Pass --mask "
            "(or a csv column mask), or use --skull-strip hdbet or none."
        )
    needs_hdbet = [s for s in scans if skull_strip_of(s, choice) == "hdbet"]
    if from_run and needs_hdbet:
        from patch2loc.predict.runchain import require_hdbet  # numpy: not at `patch2loc --help`

        require_hdbet(needs_hdbet[0].image)


def _check_owner(folder: Path, heatmap: Path) -> None:
    """Reuse S_preprocessed/ only for the same heatmap; never replace a folder we did not make."""
    if not folder.exists():
        return
    try:
        made_for = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8")).get("heatmap")
    except (OSError, ValueError, AttributeError):
        made_for = None
    if made_for != heatmap.name:
        whose = f"the heatmap {made_for}" if made_for else "something other than patch2loc predict"
        raise InputError(
            f"{folder}: this folder belongs to {whose}; predicting {heatmap.name} would overwrite "
            "it. Choose another --out name or folder."
        )


def _check_summary_owner(job) -> None:
    """x.nii and x.nii.gz share the stem x: never let one replace the other's outputs."""
    summary = job.outputs["summary"]
    try:
        made_for = json.loads(summary.read_text(encoding="utf-8"))["outputs"]["heatmap"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no summary yet (or not ours: check_output already refused folders)
    if Path(made_for).name != job.heatmap.name:
        raise InputError(
            f"{summary}: belongs to the heatmap {Path(made_for).name}; predicting {job.heatmap.name} "
            "would overwrite it. Choose another --out name."
        )


def jobs(outputs: OutputFlags, skull_strip: str, scans, from_run: bool, lesions: bool) -> tuple[list[Job], bool]:
    """One Job per scan, and whether --out is a folder (several scans: a batch). `skull_strip`:
    the --skull-strip choice, each scan's stripping with a chain."""
    out = Path(outputs.out)

    def job(scan, heatmap, stem, png, html=None) -> Job:
        strip = skull_strip_of(scan, skull_strip) if from_run else None
        return Job(scan, heatmap, stem, png, from_run, lesions, html, strip)

    # A folder: several scans, or an existing folder / a name without a suffix that is not named
    # like a NIfTI. Otherwise one file (check_output then insists on .nii.gz / .nii).
    nifti_name = out.name.lower().endswith(NIFTI)
    if len(scans) == 1 and (nifti_name or (out.suffix and not out.is_dir())):
        suffix = next((s for s in NIFTI if out.name.lower().endswith(s)), "")
        stem = out.with_name(out.name[: len(out.name) - len(suffix)] if suffix else out.name)
        png, html = (Path(p) if p else None for p in (outputs.png, outputs.html))
        return [job(scans[0], out, stem, png, html)], False
    if out.name.lower().endswith(NIFTI):
        raise InputError(f"{out}: --image names {len(scans)} scans, so --out must be a folder (not a .nii.gz).")
    if outputs.png:
        raise InputError(f"{outputs.png}: --png names one file; with an --out folder every scan gets <id>.png there.")
    if outputs.html:
        raise InputError(f"{outputs.html}: --html is for a single scan (an --out .nii.gz), not an --out folder.")
    return [job(s, out / f"{s.id}.nii.gz", out / s.id, out / f"{s.id}.png") for s in scans], True


def check_paths(jobs, scans, checkpoints, chain, flags: ScanFlags, out: str) -> None:
    """Every output against every input, before any compute. `flags`: what the user named to read
    (--image, the other contrasts' files); `out`: --out."""
    inputs: dict[str, Path | None] = {f"--checkpoint {i + 1}": c for i, c in enumerate(checkpoints)}
    given = [Path(text) for text in flags.image if Path(text).is_file()]  # files and csv lists (the path is said once)
    inputs.update({"--image" if len(given) == 1 else f"--image #{i + 1}": p for i, p in enumerate(given)})
    for s in scans:
        inputs.update({f"--image {s.id}": s.image, f"--mask of {s.id}": s.mask, f"--seg of {s.id}": s.seg})
    if chain is not None:
        inputs.update(chain.inputs())
    for flag in ("contrast", "contrast_mask"):  # a model of several contrasts: every contrast's files
        inputs.update({f"--{flag.replace('_', '-')} {c}": Path(p) for c, p in getattr(flags, flag)})
    whole = {f"--image {s.id} (a DICOM series folder)": s.image for s in scans if s.is_dicom}
    if chain is not None and Path(chain.run).is_dir():
        whole["--model" if "--model" in chain.given else "--from-run"] = Path(chain.run)
    _not_a_scan_folder(Path(out), flags.image)
    if len(jobs) > 1 or jobs[0].heatmap != Path(out):  # a folder that receives outputs, never replaced
        check_output(out, "--out", (), inputs, folder=True, replaced_whole=False)
    every: dict[str, Path] = {}
    for job in jobs:
        for name, path in job.outputs.items():
            if name == "preprocessed":
                check_output(path, f"the preprocessed folder of {job.heatmap.name}", (), inputs, folder=True)
                _check_owner(path, job.heatmap)
            else:
                flag = {"heatmap": "--out", "png": "--png", "html": "--html"}.get(name, f"--out ({name})")
                suffixes = {"heatmap": NIFTI, "png": (".png",), "html": (".html",)}.get(name, ())
                check_output(path, flag, suffixes, inputs)
            _not_inside(path, whole)
            every[f"{job.scan.id} {name}"] = path
        _check_summary_owner(job)
    check_distinct(every)


def _not_a_scan_folder(out: Path, images: list[str]) -> None:
    """--out must not be (or lie in) a folder given as --image: every NIfTI there is a scan, so a
    rerun would take the first run's heatmaps (<id>.nii.gz) for scans."""
    for text in images:
        folder = Path(text)
        if folder.is_dir() and Path(os.path.realpath(out)).is_relative_to(os.path.realpath(folder)):
            raise InputError(
                f"{out}: --out is inside the scans' folder --image {folder}, where a rerun would read this "
                "run's heatmaps as scans. Choose an --out outside it."
            )


def _not_inside(path: Path, folders: dict[str, Path]) -> None:
    """An output must not land in a folder that is read whole (a bundle, a run, a DICOM series):
    one more file there makes it unusable (a bundle refuses members it does not list)."""
    where = Path(os.path.realpath(path.parent)) / path.name
    for flag, folder in folders.items():
        if where.is_relative_to(os.path.realpath(folder)):
            raise InputError(
                f"{path}: this output would be written inside {flag} {folder}, which is read whole as "
                "an input (a file added there makes it unusable). Choose an --out outside it."
            )
