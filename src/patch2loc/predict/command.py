"""`patch2loc predict`: scans -> anomaly heatmaps, lesion masks and summaries.

Order matters for safety: every check that needs no compute runs first (device, the method, the
run's files or the bundle, HD-BET, every output path against every input: plan.py), then what
each scan's files claim (headers only: preflight.py) and the memory its job would take
(budget.py), before any model is loaded; then the models are loaded once (their method and
modality checked: models.py) and the scans are scored one by one. Each scan's outputs are committed together
(scan.py); a failure, Ctrl-C or SIGTERM leaves nothing of that scan and never touches an input.
With several scans, one bad scan is reported (one line) and the others go on; the exit status is
then the number of failed scans (at most 100). A folder run skips a scan only when its outputs
were made from the same inputs with the same settings (runstate.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from patch2loc.errors import InputError

if TYPE_CHECKING:  # the request travels; importing it here costs nothing at run time
    from patch2loc.predict.request import PredictRequest

MAX_EXIT = 100


def _header_checks(
    job, chain, method: str, req: PredictRequest, checkpoints: list, patch_size: int | None = None
) -> None:
    """The checks of one scan that read headers only (preflight.py, budget.py), before any model is
    loaded: a scan refused here costs no model, no voxel and no torch import."""
    from patch2loc.predict.budget import check_budget
    from patch2loc.predict.models import method_flags
    from patch2loc.predict.preflight import check_claims, check_flags_fit, check_paths_utf8, model_grid

    scan = job.scan
    if chain is not None or scan.is_dicom:  # SimpleITK opens these paths
        check_paths_utf8(
            {
                "--image": scan.image,
                "--mask": scan.mask,
                "--seg": scan.seg,
                **{f"--out ({name})": path for name, path in job.outputs().items()},
            }
        )
    claims = check_claims(scan, chain is not None)
    flags = method_flags(method, req)
    stride = flags["stride"] or 1  # a method that ignores --stride scores every pixel
    check_flags_fit(model_grid(scan.image, chain), stride, req.median_size, scan.image)
    check_budget(
        scan,
        claims,
        chain,
        method=method,
        checkpoints=checkpoints,
        batch_size=req.batch_size,
        stride=stride,
        patch_size=patch_size,
        html=job.html is not None,
    )


def _voxel_checks(job, chain, skull_strip: str) -> None:
    """The checks of one scan that read its voxels, but compute nothing (preflight.py)."""
    from patch2loc.predict.preflight import check_raw_scan
    from patch2loc.predict.scan import skull_strip_of

    if chain is not None and not job.scan.is_dicom:
        strip = skull_strip_of(job.scan, skull_strip)
        check_raw_scan(job.scan.image, job.scan.mask if strip == "provided" else None)


class _Failures:
    """One line per failed scan of a folder run (the others go on); a single scan's failure is raised."""

    def __init__(self, batch: bool):
        self.batch, self.count = batch, 0

    def add(self, job, exc: Exception, current: bool) -> None:
        from tqdm.auto import tqdm

        from patch2loc.errors import resource_problem
        from patch2loc.predict.runstate import remove_stale

        line = (
            str(exc)
            if isinstance(exc, InputError)
            else resource_problem(exc, str(job.scan.image), writing=f"the outputs of {job.heatmap}")
        )
        if not self.batch:
            if line is None or isinstance(exc, InputError):
                raise exc
            raise InputError(line) from None
        self.count += 1
        if line is None:  # a bug: said as such, and the others go on
            detail = (str(exc).strip().splitlines() or [""])[0][:200]
            line = f"{job.scan.image}: unexpected {type(exc).__name__}: {detail}"
        if not current and remove_stale(job):  # outputs of other inputs/settings: never "done" again
            line = f"{line.rstrip('.')} (its earlier outputs, made from other inputs or settings, were removed)."
        tqdm.write(f"patch2loc predict: error: {line}", file=sys.stderr)  # on a line of its own, not the bar's


def cmd_predict(args: argparse.Namespace) -> int:
    """The command line's edge: its arguments become one frozen request, and only that travels."""
    from patch2loc.predict.request import PredictRequest

    return predict(PredictRequest.from_args(args))


def predict(req: PredictRequest) -> int:
    """Run one request (`predict.request.PredictRequest`; the BIDS App builds one too). --model:
    the bundle is checked and (a zip) unpacked into a private folder, removed at the end."""
    if req.model is None:
        return _predict(req, None)
    from patch2loc.bundle.reader import open_bundle
    from patch2loc.outputs import check_utf8_path

    if req.from_run or req.checkpoint:
        raise InputError(
            f"{req.model}: --model carries the run's chain and models; drop "
            f"{'--from-run' if req.from_run else '--checkpoint'}."
        )
    check_utf8_path(req.model, "--model")
    with open_bundle(req.model) as bundle:
        return _predict(req, bundle)


def _predict(req: PredictRequest, bundle) -> int:
    from dataclasses import replace

    from tqdm.auto import tqdm

    from patch2loc.devices import check_device, resolve_device
    from patch2loc.predict import plan
    from patch2loc.predict.inputs import expand
    from patch2loc.predict.models import fold_models, load_members, resolve_method, score_settings
    from patch2loc.predict.runchain import RunChain, require_hdbet
    from patch2loc.predict.runstate import call_settings, is_current, scan_state
    from patch2loc.predict.scan import Context, run_scan, skull_strip_of
    from patch2loc.scoring import mean_threshold

    check_device(req.device)
    if req.from_run or bundle is not None:
        from patch2loc.outputs import check_utf8_path

        check_utf8_path(req.out, "--out")
    if req.from_run:
        check_utf8_path(req.from_run, "--from-run")
    if req.from_run and not req.modality:
        raise InputError(f"{req.image[0]}: --from-run needs --modality T1 or T2 (the landmarks to use).")
    if bundle is not None:
        if req.modality not in (None, bundle.settings["modality"]):
            raise InputError(
                f"{req.model}: a {bundle.settings['modality']} model bundle, but --modality "
                f"{req.modality}. Use the bundle of that modality, or drop --modality."
            )
        req = replace(req, modality=bundle.settings["modality"])
    method = resolve_method(req, bundle)
    if bundle is not None:
        chain = RunChain.from_bundle(bundle)
    else:
        chain = RunChain.open(req.from_run, req.modality) if req.from_run else None
    if req.median_size is None:  # the run's own filter: its healthy threshold was taken after it
        req = replace(req, median_size=int((chain.config.get("heatmap") or {}).get("median_size", 7)) if chain else 7)
    checkpoints, names, thresholds = fold_models(req, chain, bundle, method)
    scans = expand(req.image, req.mask, req.seg)
    if chain is None and req.skull_strip in ("hdbet", "none"):
        raise InputError(
            f"--skull-strip {req.skull_strip}: only raw scans are skull-stripped; add --from-run (or --model)."
        )
    unmasked = [s for s in scans if s.mask is None]
    if chain is not None and unmasked and req.skull_strip == "mask":
        raise InputError(
            f"{unmasked[0].image}: --skull-strip mask but no brain mask for this scan. Pass --mask "
            "(or a csv column mask), or use --skull-strip hdbet or none."
        )
    needs_hdbet = [s for s in scans if skull_strip_of(s, req.skull_strip) == "hdbet"]
    if chain is not None and needs_hdbet:
        require_hdbet(needs_hdbet[0].image)
    lesions = req.threshold is not None or chain is not None
    jobs, batch = plan.jobs(req, scans, chain is not None, lesions)
    plan.check_paths(jobs, scans, checkpoints, chain, req)

    # Thresholds: the user's, else the run's (the folds' unsupervised thresholds, averaged).
    threshold, source = req.threshold, "--threshold"
    if threshold is None:
        threshold = mean_threshold(thresholds)
        source = "run (mean of the folds' healthy-IXI quantile thresholds)" if threshold is not None else "none"
    for job in jobs:
        job.lesions = threshold is not None
    settings = call_settings(req, checkpoints, chain, threshold, source, method)

    failures, todo, done, skipped = _Failures(batch), [], 0, 0
    for job in jobs:  # what each scan's files claim, before any model is loaded
        job.state = scan_state(job.scan, settings, skull_strip_of(job.scan, req.skull_strip) if chain else None)
        current = is_current(job, job.state)
        if current and batch and not req.overwrite:
            skipped += 1
            continue
        try:
            _header_checks(job, chain, method, req, checkpoints)
        except Exception as exc:  # one scan's failure must not stop the others
            failures.add(job, exc, current)
            continue
        todo.append((job, current))

    if todo:
        device = resolve_device(req.device)
        members = load_members(
            method,
            checkpoints,
            names,
            thresholds,
            device,
            req.modality,
            req.allow_mismatch,
            from_bundle=bundle is not None,
        )
        ctx = Context(
            members=members,
            chain=chain,
            threshold=threshold,
            threshold_source=source,
            settings=score_settings(req, device, progress=not req.quiet and not batch),
            skull_strip=req.skull_strip,
            allow_mismatch=req.allow_mismatch,
            checkpoints=names,
            method=method,
            force=req.force,
        )
        patch = max((m.ckpt.get("patch_size") or 0 for m in members), default=0) or None
    for job, current in tqdm(todo, desc="scans", unit="scan", disable=req.quiet or not batch):
        try:
            if patch is not None:  # the budget again, with the models' own patch size
                _header_checks(job, chain, method, req, checkpoints, patch)
            _voxel_checks(job, chain, req.skull_strip)
            record = run_scan(job, ctx)
            done += 1
        except Exception as exc:  # one scan's failure must not stop the others
            failures.add(job, exc, current)
            continue
        if not req.quiet and not batch:
            what = f"{record['patches']} patches" if record["patches"] is not None else f"{method} score"
            print(f"{job.heatmap}: {what} in {record['seconds']:.1f} s", file=sys.stderr)
    if batch and not req.quiet:
        print(
            f"patch2loc predict: {done} scored, {skipped} skipped (done before with the same inputs and "
            f"settings; --overwrite to redo), {failures.count} failed",
            file=sys.stderr,
        )
    return min(failures.count, MAX_EXIT)
