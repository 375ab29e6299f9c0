"""A standalone HTML viewer of one heatmap: NiiVue with the scan, the score and the ground truth.

The page (`template.PAGE`) shows three orthogonal slices with a linked crosshair, the
normalised scan in grey, the anomaly score as an overlay on a fixed colour scale (the paper's
[0, 12] for Patch2Loc) with a threshold slider that starts at the run's unsupervised threshold,
the ground-truth outline where there is one, and the voxel, score and scan value under the
crosshair. It opens from file:// with no server and no internet: the volumes are in the page
(gzipped NIfTI, base64), and NiiVue is either inlined (`library=None`: one file to mail) or a
`<script src>` to the copy `copy_library` puts beside the pages (a run's viewers share one).

NiiVue (BSD-2-Clause, https://github.com/niivue/niivue) is not copied into this repository: it
is the `niivue.umd.js` that nilearn (>= 0.14, BSD-3-Clause) ships in its wheel.
"""

from __future__ import annotations

import base64
import gzip
import html
import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from patch2loc.errors import InputError
from patch2loc.evaluation.figures.style import HEATMAP_CMAP
from patch2loc.files.io import load_volume
from patch2loc.registry import DEFAULT_METHOD, METHODS
from patch2loc.viewer.template import PAGE
from patch2loc.files.staging import atomic_output

LIBRARY_NAME = "niivue.umd.js"
SCORE_STEP = 0.01  # scores are stored as int16 steps of 0.01 (range +-327): the readout is exact to 0.005


def niivue_library() -> Path:
    """nilearn's copy of NiiVue's browser bundle; InputError with the fix when it is missing."""
    spec = importlib.util.find_spec("nilearn")
    path = Path(spec.origin).parent / "_assets" / "js" / LIBRARY_NAME if spec and spec.origin else None
    if path is None or not path.is_file():
        raise InputError(
            f"NiiVue's {LIBRARY_NAME} not found (it comes with nilearn >= 0.14): pip install 'nilearn>=0.14'."
        )
    return path


def niivue_version(library: Path) -> str:
    found = re.search(rb'\{version:"(\d+\.\d+\.\d+)"\}', library.read_bytes())
    return found.group(1).decode() if found else "unknown"


def copy_library(out: str | os.PathLike) -> Path:
    """Copy NiiVue to `out` (atomically), e.g. viewers/niivue.umd.js beside a run's viewers."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        shutil.copyfile(niivue_library(), tmp)
    return out


def colour_range(method: str, score: np.ndarray, threshold: float) -> tuple[float, float]:
    """The method's fixed colour scale when the registry gives one (Patch2Loc: the paper's [0, 12]);
    otherwise (scores that are intensities or errors on a scale of their own) 0 to the 99.9th
    percentile of the non-zero scores, and at least to 1.25 x the threshold so that the slider can
    move above it."""
    fixed = METHODS[method].colour_range if method in METHODS else None
    if fixed is not None:
        return fixed
    values = score[score != 0]
    top = float(np.percentile(values, 99.9)) if values.size else 1.0
    return 0.0, round(max(top, 1.25 * threshold, 1e-6), 4)


def _nifti_base64(data: np.ndarray, affine: np.ndarray, slope: float = 1.0, inter: float = 0.0) -> str:
    import nibabel as nib

    img = nib.Nifti1Image(data, affine)
    img.header.set_slope_inter(slope, inter)
    return base64.b64encode(gzip.compress(img.to_bytes(), compresslevel=6, mtime=0)).decode("ascii")


def encode_volumes(scan: np.ndarray, score: np.ndarray, affine: np.ndarray, seg: np.ndarray | None = None) -> dict:
    """The page's volumes: the scan as uint8 over its 0.5-99.5 % range of non-zero voxels, the
    score as int16 steps of SCORE_STEP, the ground truth as a uint8 mask (base64 .nii.gz each)."""
    nonzero = scan[scan != 0]
    lo, hi = np.percentile(nonzero, [0.5, 99.5]) if nonzero.size else (0.0, 1.0)
    lo, hi = float(min(lo, 0.0)), float(hi if hi > lo else lo + 1.0)
    scan8 = np.clip(np.round((scan - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)
    steps = np.clip(np.round(score / SCORE_STEP), -32767, 32767).astype(np.int16)
    return {
        "scan": _nifti_base64(scan8, affine, (hi - lo) / 255, lo),
        "scanRange": [round(lo, 4), round(hi, 4)],
        "score": _nifti_base64(steps, affine, SCORE_STEP),
        "seg": None if seg is None else _nifti_base64((seg > 0).astype(np.uint8), affine),
    }


def _script_tag(library: str | None) -> str:
    if library is not None:  # a copy beside the page, by relative URL
        return f'<script src="{html.escape(library)}"></script>'
    code = niivue_library().read_text(encoding="utf-8")
    if "</script" in code.lower():  # would end the inline <script> early
        raise InputError(
            f"{niivue_library()}: this NiiVue cannot be inlined; write the viewer with a library beside it."
        )
    return f"<script>{code}</script>"


def viewer_html(
    scan: np.ndarray,
    score: np.ndarray,
    affine: np.ndarray,
    *,
    threshold: float,
    seg: np.ndarray | None = None,
    title: str = "heatmap",
    meta: str = "",
    method: str = DEFAULT_METHOD,
    library: str | None = None,
) -> str:
    """The viewer page. `library`: URL of niivue.umd.js relative to the page, or None to inline it."""
    scan, score = np.asarray(scan, np.float32), np.asarray(score, np.float32)
    for name, arr in (("score", score), ("ground truth", seg)):
        if arr is not None and arr.shape != scan.shape:
            raise InputError(f"the {name} has shape {arr.shape}, the scan {scan.shape}: they must share one grid.")
    low, high = colour_range(method, score, threshold)
    data = {
        **encode_volumes(scan, score, np.asarray(affine, np.float64), seg),
        "world2voxel": np.linalg.inv(np.asarray(affine, np.float64))[:3].round(8).tolist(),
        "threshold": round(float(threshold), 4),
        "range": [low, high],
        "step": SCORE_STEP,
        "colormap": HEATMAP_CMAP,
    }
    payload = json.dumps(data).replace("</", "<\\/")  # nothing in the JSON may end the <script>
    meta = f"{meta} · threshold {threshold:.2f} · NiiVue {niivue_version(niivue_library())}".lstrip(" ·")
    slots = {
        "@@TITLE@@": html.escape(title, quote=True),
        "@@META@@": html.escape(meta, quote=True),
        "@@DATA@@": payload,
        "@@LIBRARY@@": _script_tag(library),
    }
    # one pass: a title holding "@@DATA@@" or "@@LIBRARY@@" stays text (chained replaces put the data there)
    return re.sub("|".join(slots), lambda m: slots[m.group()], PAGE)


def write_viewer(
    out_html: str | os.PathLike, scan: np.ndarray, score: np.ndarray, affine: np.ndarray, **options
) -> Path:
    """Write `viewer_html(...)` to `out_html` atomically."""
    page = viewer_html(scan, score, affine, **options)
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out


def _background(image: str | os.PathLike):
    """The scan shown under the heatmap: the file, or the reference (first) contrast of a stack."""
    from patch2loc.files.io import Volume
    from patch2loc.preprocessing.stack import is_stack, load_stack_volume

    if not is_stack(image):
        return load_volume(image)
    stack = load_stack_volume(image)
    return Volume(stack.data[0], stack.affine, None, stack.path)


def viewer_from_files(
    out_html: str | os.PathLike,
    image: str | os.PathLike,
    heatmap: str | os.PathLike,
    *,
    threshold: float,
    seg: str | os.PathLike | None = None,
    **options,
) -> Path:
    """A viewer from NIfTI files: the normalised scan (of a stack of contrasts, its first: the reference,
    docs/multimodal.md), its heatmap and optionally the lesion mask."""
    scan = _background(image)
    score = load_volume(heatmap, kind="heatmap")
    lesion = load_volume(seg, kind="lesion mask").data if seg is not None else None
    for path, arr in ((heatmap, score.data), (seg, lesion)):
        if arr is not None and arr.shape != scan.data.shape:
            raise InputError(
                f"{path}: shape {arr.shape} differs from the scan {image} {scan.data.shape}; "
                "pass the files of one subject, on one grid."
            )
    return write_viewer(out_html, scan.data, score.data, scan.affine, threshold=threshold, seg=lesion, **options)


FALLBACK_QUANTILE = 98.0  # without a threshold, the slider starts at this percentile of the scan's in-brain scores


def prediction_viewer(
    out_html: str | os.PathLike,
    image: np.ndarray,
    score: np.ndarray,
    affine: np.ndarray,
    threshold: float | None,
    *,
    brain: np.ndarray,
    seg: str | os.PathLike | None = None,
    title: str = "",
    method: str = DEFAULT_METHOD,
) -> Path:
    """`patch2loc predict --html`: the viewer of one scored scan, NiiVue inlined (a single file).
    `seg` is the --seg file, on the grid of `image` (predict has checked it)."""
    meta = "predict"
    if threshold is None:  # no run and no --threshold
        inside = score[np.asarray(brain, bool)]
        threshold = float(np.percentile(inside, FALLBACK_QUANTILE)) if inside.size else 0.0
        meta = f"no run threshold: the slider starts at this scan's {FALLBACK_QUANTILE:g}th percentile"
    lesion = load_volume(seg, kind="lesion mask").data > 0 if seg is not None else None
    return write_viewer(
        out_html, image, score, affine, threshold=threshold, seg=lesion, title=title, meta=meta, method=method
    )
