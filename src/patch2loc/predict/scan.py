"""One scan through predict: (DICOM ->) chain -> ensemble score -> native space -> lesions -> summary.

Everything a scan produces is staged in one `OutputSet` and appears together when the scan is
done; a failure leaves nothing of that scan. Output names (plan.Job), for the stem S of a scan:
S.nii.gz (heatmap on the model's grid; atlas space with --from-run), S_lesions.nii.gz (lesion
mask there), S_native.nii.gz and S_native_lesions.nii.gz (on the input scan's own grid, --from-run
only), S_summary.json and S_components.csv (components of the native lesion mask when there is
one), S_preprocessed/ (--from-run: the chain's files), S.png (overview).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from patch2loc.checks.labels import label_values
from patch2loc.checks.claims import nifti_claims
from patch2loc.errors import InputError
from patch2loc.scoring.metrics import evaluate_volume
from patch2loc.checks.intensities import check_training_range
from patch2loc.files.io import Case, Volume, header_volume, load_volume, save_volume
from patch2loc.registry import DEFAULT_METHOD
from patch2loc.files.staging import OutputSet
from patch2loc.predict import ensemble, lesions, overview  # modules: a patched function there is the one called
from patch2loc.predict.contrasts import stack_scan
from patch2loc.predict.dicom import dicom_to_nifti
from patch2loc.predict.ensemble import Member
from patch2loc.predict.inputs import ScanInput
from patch2loc.predict.plan import OWNER_FILE, Job
from patch2loc.predict.preflight import check_checkpoint_fits, check_seg_grid
from patch2loc.predict.runchain import RunChain
from patch2loc.scoring import ScanSettings, ScoredScan, lesion_mask
from patch2loc.scoring.native import native_map


@dataclass
class Context:
    members: list[Member]
    chain: RunChain | None  # --from-run or --model: raw scans go through the run's chain
    threshold: float | None
    threshold_source: str
    settings: ScanSettings  # post-processing, device, the method's options
    allow_mismatch: bool
    checkpoints: list[str] = field(default_factory=list)
    method: str = DEFAULT_METHOD  # the members' method (predict.models.resolve_method)
    force: bool = False  # --force: a scan outside the models' training intensities is warned about, not refused
    contrasts: dict = field(default_factory=dict)  # several contrasts: {contrast: (scan, mask)} after the reference
    tissue_order: bool = True  # False (--skip-tissue-order): a channel's unexpected tissue order is a warning


def _seg_metrics(seg_path: Path, score, brain, threshold) -> dict:
    labels = (
        label_values(load_volume(seg_path, kind="lesion mask").data, seg_path) > 0
    )  # its grid was checked by preflight.check_claims
    m = evaluate_volume(score, labels, brain, region="brain", threshold=threshold)
    return {
        "auprc": m["auprc"],
        "best_dice": m["best_dice"],
        "best_threshold": m["best_threshold"],
        "dice_at_threshold": m["dice_at_threshold"],
        "lesion_voxels": m["lesion_voxels"],
    }


def finite_heatmap(score: np.ndarray, brain: np.ndarray, scan: ScanInput, what: str) -> np.ndarray:
    """A heatmap is committed only when it is finite inside the brain (outside it is background:
    0). A NaN or inf there would silently become a wrong lesion mask and volume."""
    bad = ~np.isfinite(score)
    inside = int(np.count_nonzero(bad & brain))
    if inside:
        raise InputError(
            f"{scan.image}: the {what} has {inside} non-finite value(s) inside the brain (the model's "
            "output overflowed: extreme intensities or a corrupt checkpoint); nothing was written. "
            "Check the scan's intensities and the checkpoint."
        )
    score[bad] = 0.0
    return score


@dataclass
class _Prepared:
    """A scan ready to score: its native file (a DICOM series converted), the image and brain mask on
    the models' grid, and the staged S_preprocessed/ folder (None without a chain)."""

    native: str | Path
    image: str | Path
    brain: str | Path
    staged: Path | None = None
    channels: dict | None = None  # a stack's channel checks (checks.contrasts.check_channels)


@dataclass
class _View:
    """Where the summary, components and viewer describe the scan: native space when there is one."""

    score: np.ndarray
    brain: np.ndarray
    affine: np.ndarray
    space: str  # "native" | "model grid"
    image: np.ndarray  # the scan shown by the viewer


def run_scan(job: Job, ctx: Context, state: dict | None = None) -> dict:
    """Score one scan and commit all its outputs together (prepare, score, native outputs, summary,
    figures); returns the summary record. `state`: its inputs' checksums and the call's settings
    (runstate.scan_state), recorded in the summary."""
    paths = job.outputs
    with OutputSet() as outs:
        prepared = _prepare(job, ctx, outs)
        case = _load(prepared)
        grid = _reference(case.image)  # a stack's maps lie on its grid, shown over its reference contrast
        scored, score = _score(job.scan, ctx, case, prepared.image)
        save_volume(score, outs.file(paths["heatmap"]), like=grid)
        if ctx.threshold is not None:
            save_volume(lesion_mask(score, case.mask, ctx.threshold), outs.file(paths["lesions"]), like=grid)
        view = _View(score, case.mask, grid.affine, "model grid", grid.data)
        if ctx.chain is not None:
            view = _native_outputs(job, ctx, outs, prepared, case, score)
        record, rows = _summary(job, ctx, view, scored, state, prepared.channels)
        outs.file(paths["summary"]).write_text(lesions.summary_json(record), encoding="utf-8")
        outs.file(paths["components"]).write_text(lesions.components_csv(rows), encoding="utf-8")
        if job.png is not None:
            overview.overview_png(grid.data, score, case.mask, outs.file(job.png), title=job.scan.id)
        if job.html is not None:  # in the summary's space, where --seg lies
            _viewer(job, ctx, view, outs)
        if ctx.chain is not None:
            _claim_folder(prepared.staged, job, ctx)
    return record


def _prepare(job: Job, ctx: Context, outs: OutputSet) -> _Prepared:
    """The image and brain mask to score: the chain's output for a raw scan (a DICOM series first
    converted), else the given preprocessed image and its mask."""
    paths, scan = job.outputs, job.scan
    if ctx.chain is None:
        if scan.is_dicom:
            raise InputError(f"{scan.image}: a DICOM series is a raw scan; score it with --from-run.")
        if scan.mask is None:
            raise InputError(
                f"{scan.image}: no brain mask for this preprocessed image. Pass --mask (or a "
                "csv column mask), or use --from-run for raw scans."
            )
        return _Prepared(scan.image, scan.image, scan.mask)
    staged = outs.folder(paths["preprocessed"])
    native_path = scan.image
    if scan.is_dicom:
        native_path = dicom_to_nifti(scan.image, staged / "native.nii.gz")
        if scan.seg is not None:
            check_seg_grid(scan.seg, scan.image, nifti_claims(native_path))
    name, chain = paths["preprocessed"].name, ctx.chain.for_contrast(ctx.chain.contrasts[0])
    image, brain_path = chain.prepare(
        native_path, scan.mask if job.strip == "provided" else None, staged, name, job.strip
    )
    channels = None
    if ctx.contrasts:  # a model of several contrasts: each through its own chain, then stacked
        image, brain_path, channels = stack_scan(
            ctx.chain, ctx.contrasts, staged, name, job.strip, (image, brain_path), scan.image, ctx.tissue_order
        )
    return _Prepared(native_path, image, brain_path, staged, channels)


def _load(prepared: _Prepared) -> Case:
    """The case to score: one contrast, or a stack of several read as [C, X, Y, Z] (as the workflow reads it)."""
    from patch2loc.preprocessing.stack import load_any_case

    return load_any_case(prepared.image, prepared.brain)


def _reference(image: Volume) -> Volume:
    """The 3-D volume of a case's grid: the image, or a stack's reference (first) contrast."""
    return image if image.data.ndim == 3 else Volume(image.data[0], image.affine, None, image.path)


def _score(scan: ScanInput, ctx: Context, case: Case, image: str | Path) -> tuple[ScoredScan, np.ndarray]:
    """The ensemble's heatmap on the models' grid, after the checks that the models fit the scan."""
    # a method without a model (Thresh) has no checkpoint to fit and no training range to compare with;
    # a stack's models record one per contrast (intensities.contrast_ranges), each checked against its own
    trained = [(str(m.checkpoint), m.ckpt) for m in ctx.members if m.model is not None]
    for path, ckpt in trained:
        check_checkpoint_fits(ckpt, path, None, case.image.data.shape[-3:], ctx.allow_mismatch)
    volumes = case.image.data if case.image.data.ndim == 4 else case.image.data[None]
    others = [f"{path} ({name})" for name, (path, _) in ctx.contrasts.items()]
    for c, volume in enumerate(volumes):
        label = image if c == 0 else (others[c - 1] if c <= len(others) else f"{image} (contrast {c + 1})")
        check_training_range(volume, case.mask, trained, label, ctx.force, contrast=c)
    scored = ensemble.ensemble_score(ctx.members, case.image.data, case.mask, ctx.settings, ctx.method)
    return scored, finite_heatmap(scored.score.astype(np.float32), case.mask, scan, "heatmap")


def _native_outputs(job: Job, ctx: Context, outs: OutputSet, prepared: _Prepared, case: Case, score) -> _View:
    """The heatmap (and lesion mask) on the scan's own grid; the summary then describes that grid."""
    paths, thr = job.outputs, ctx.threshold
    native: Volume = header_volume(prepared.native)  # its affine and header go onto the native outputs
    transform = prepared.staged / "transform.tfm"
    # the workflow's native-space scoring makes its map with the same call (scoring.native)
    native_score, brain = native_map(score, case.mask, case.image.affine, transform, prepared.native)
    native_score = finite_heatmap(native_score, brain, job.scan, "native-space heatmap")
    save_volume(native_score.astype(np.float32), outs.file(paths["native"]), like=native)
    if thr is not None:
        save_volume(lesion_mask(native_score, brain, thr), outs.file(paths["native_lesions"]), like=native)
    # the viewer shows the scan itself: read it only for the viewer
    image = load_volume(prepared.native).data if job.html is not None else case.image.data
    return _View(native_score, brain, native.affine, "native", image)


def _summary(
    job: Job, ctx: Context, view: _View, scored: ScoredScan, state: dict | None, channels: dict | None = None
) -> tuple[dict, list[dict]]:
    """The summary record (S_summary.json) and the lesion components (S_components.csv). `inputs`: every
    scan and mask that made the map, each contrast's (the reference first) with the channel checks."""
    scan, thr = job.scan, ctx.threshold
    rows = [] if thr is None else lesions.components((view.score >= thr) & view.brain, view.score, view.affine)
    metrics = None if scan.seg is None else _seg_metrics(scan.seg, view.score, view.brain, thr)
    record = {
        "scan": scan.id,
        "image": str(scan.image),
        "mask": None if scan.mask is None else str(scan.mask),
        "inputs": _inputs(scan, ctx, channels),
        "method": ctx.method,
        "checkpoints": ctx.checkpoints,
        "ensemble": "mean of the folds' raw scores, then median filter + mask",
        "threshold": thr,
        "threshold_source": ctx.threshold_source,
        "median_size": ctx.settings.median_size,
        "summary_space": view.space,
        "lesion_volume_ml": float(sum(r["volume_ml"] for r in rows)),
        "n_components": len(rows),
        "components": rows,
        "seg_metrics": metrics,
        "patches": scored.patches,
        "seconds": round(scored.seconds, 2),
        "outputs": {k: str(v) for k, v in job.outputs.items()},
        "run_state": state,
    }
    return record, rows


def _inputs(scan: ScanInput, ctx: Context, channels: dict | None) -> dict:
    """{contrast: {image, mask}} of every scan the map was made from (a mask: None when skull-stripped)."""
    reference = ctx.chain.contrasts[0] if ctx.chain is not None else None
    mask = None if scan.mask is None else str(scan.mask)
    named = {reference or "image": {"image": str(scan.image), "mask": mask}}
    for c, (image, brain) in ctx.contrasts.items():
        named[c] = {"image": str(image), "mask": None if brain is None else str(brain)}
    if scan.seg is not None:
        named["seg"] = str(scan.seg)
    return {"scans": named, **({"channels": channels} if channels else {})}


def _viewer(job: Job, ctx: Context, view: _View, outs: OutputSet) -> None:
    from patch2loc.viewer import prediction_viewer  # matplotlib and pandas: only for --html

    prediction_viewer(
        outs.file(job.html),
        view.image,
        view.score,
        view.affine,
        ctx.threshold,
        brain=view.brain,
        seg=job.scan.seg,
        title=f"{job.scan.id} ({view.space})",
        method=ctx.method,
    )


def _claim_folder(staged: Path, job: Job, ctx: Context) -> None:
    """S_preprocessed/predict.json: which heatmap, inputs and models the chain's files belong to."""
    scan = job.scan
    owner = {
        "heatmap": job.outputs["heatmap"].name,
        "image": str(Path(scan.image).resolve()),
        "mask": str(Path(scan.mask).resolve()) if scan.mask else None,
        "checkpoints": ctx.checkpoints,
        "run": str(ctx.chain.run.resolve()),
        "modality": ctx.chain.modality,
    }
    if ctx.contrasts:
        owner["contrasts"] = {c: str(Path(s).resolve()) for c, (s, _) in ctx.contrasts.items()}
    (staged / OWNER_FILE).write_text(json.dumps(owner, indent=1), encoding="utf-8")
