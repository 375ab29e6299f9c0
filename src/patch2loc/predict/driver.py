"""predict's driver: one request (its command: cli/predict.py) -> anomaly heatmaps, lesion masks and summaries.

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

import sys
from dataclasses import dataclass, replace

from patch2loc.bundle.reader import open_bundle
from patch2loc.checks.devices import check_device, resolve_device
from patch2loc.errors import InputError, resource_problem
from patch2loc.files.outputs import check_utf8_path
from patch2loc.predict import models as model_loading
from patch2loc.predict import plan
from patch2loc.predict.plan import Job
from patch2loc.predict.contrasts import check_contrasts
from patch2loc.predict.models import fold_models, method_flags, resolve_method, score_settings
from patch2loc.predict.preflight import Limits, check_headers, check_voxels
from patch2loc.predict.request import CallFlags, ModelFlags, OutputFlags, PredictRequest, ScanFlags, ScoringFlags
from patch2loc.predict.runstate import call_settings, is_current, remove_stale, scan_state

# Imported where used, so that `patch2loc --help` loads no numpy: tqdm, predict.scan, predict.inputs,
# predict.runchain and scoring (numpy, scipy).

MAX_EXIT = 100


@dataclass
class _Models:
    """The folds' models a request scores with: their method, checkpoints (files or bundle members),
    names (recorded in the summaries) and unsupervised thresholds."""

    method: str
    checkpoints: list
    names: list[str]
    thresholds: list


@dataclass(frozen=True)
class _Call:
    """One request resolved: the chain (None for preprocessed scans), the models, the threshold and
    its source, what each scan is held to before its compute, whether --out is a folder, and the
    parts of the request that scoring reads."""

    chain: object
    models: _Models
    threshold: tuple[float | None, str]
    limits: Limits
    from_bundle: bool
    batch: bool
    contrasts: dict  # a model of several contrasts: {contrast: (scan, mask)} after the reference (contrasts.py)
    modality: str | None
    scoring: ScoringFlags
    conduct: CallFlags


@dataclass(frozen=True)
class _Ready:
    """A scan that passed its header checks: its job, its run state (recorded in its summary) and
    whether its earlier outputs are current (a failed redo then removes them: runstate.remove_stale)."""

    job: Job
    state: dict
    current: bool


class _Failures:
    """One line per failed scan of a folder run (the others go on); a single scan's failure is raised."""

    def __init__(self, batch: bool):
        self.batch, self.count = batch, 0

    def add(self, job, exc: Exception, current: bool) -> None:
        from tqdm.auto import tqdm

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


def predict(req: PredictRequest) -> int:
    """Run one request (`predict.request.PredictRequest`; the BIDS App builds one too). --model:
    the bundle is checked and (a zip) unpacked into a private folder, removed at the end."""
    if req.model is None:
        return _predict(req, None)
    if req.from_run or req.checkpoint:
        raise InputError(
            f"{req.model}: --model carries the run's chain and models; drop "
            f"{'--from-run' if req.from_run else '--checkpoint'}."
        )
    check_utf8_path(req.model, "--model")
    with open_bundle(req.model) as bundle:
        return _predict(req, bundle)


def _predict(req: PredictRequest, bundle) -> int:
    """The request resolved (what the run or bundle decides: a new request), then run."""
    req, method, chain = _resolve(req, bundle)
    return _run_request(req, method, chain, bundle)


def _run_request(req: PredictRequest, method: str, chain, bundle) -> int:
    """The resolved request unpacked once, here: each step below takes the part it reads
    (predict.request). The models, the plan (every check that needs no compute) and the call's
    settings; then each scan's header checks and the scans scored."""
    scan_flags = ScanFlags(req.image, req.mask, req.seg, req.contrast, req.contrast_mask, req.skull_strip)
    outputs = OutputFlags(req.out, req.png, req.html, req.overwrite)
    chosen = ModelFlags(req.checkpoint, req.folds, req.modality, req.threshold)
    scoring = ScoringFlags(req.stride, req.batch_size, req.amp, req.centres, req.median_size, req.no_postprocess)
    conduct = CallFlags(req.device, req.allow_mismatch, req.force, req.quiet, req.skip_tissue_order)
    models = _Models(method, *fold_models(chosen, chain, bundle, method, scan_flags.image[0]))
    threshold = _threshold(chosen.threshold, models.thresholds)
    jobs, batch = _plan(scan_flags, outputs, chain, models.checkpoints, lesions=threshold[0] is not None)
    stride = method_flags(method, scoring)["stride"] or 1  # a method that ignores --stride scores every pixel
    limits = Limits(method, tuple(models.checkpoints), stride, scoring.median_size, scoring.batch_size)
    contrasts = check_contrasts(scan_flags, chosen.modality, chain, jobs, limits)
    from_bundle = bundle is not None
    call = _Call(chain, models, threshold, limits, from_bundle, batch, contrasts, chosen.modality, scoring, conduct)
    settings = call_settings(scoring, scan_flags, chosen.modality, models.checkpoints, chain, *threshold, method)
    return _run_jobs(jobs, call, settings, outputs.overwrite)


def _run_jobs(jobs, call: _Call, settings: dict, overwrite: bool) -> int:
    """Each scan's header checks, then the scans scored; the exit status (the number of failed scans)."""
    failures = _Failures(call.batch)
    todo, skipped = _header_pass(jobs, call, settings, overwrite, failures)
    done = _score_all(todo, call, failures)
    if call.batch and not call.conduct.quiet:
        print(
            f"patch2loc predict: {done} scored, {skipped} skipped (done before with the same inputs and "
            f"settings; --overwrite to redo), {failures.count} failed",
            file=sys.stderr,
        )
    return min(failures.count, MAX_EXIT)


def _resolve(req: PredictRequest, bundle):
    """The request with what the run or bundle decides (modality, median filter), the method, and the
    chain (None for preprocessed scans)."""
    from patch2loc.predict.runchain import RunChain  # numpy

    check_device(req.device)
    if req.from_run or bundle is not None:
        check_utf8_path(req.out, "--out")
    if req.from_run:
        check_utf8_path(req.from_run, "--from-run")
    if req.from_run and not req.modality:
        raise InputError(
            f"{req.image[0]}: --from-run needs --modality T1 or T2, or a model input of the run's config `inputs` "
            "such as T1T2 (the landmarks and models to use)."
        )
    if bundle is not None:
        if req.modality not in (None, bundle.settings["modality"]):
            raise InputError(
                f"{req.model}: a {bundle.settings['modality']} model bundle, but --modality "
                f"{req.modality}. Use the bundle of that modality, or drop --modality."
            )
        req = replace(req, modality=bundle.settings["modality"])
    method = resolve_method(req.method, req.model, bundle)
    if bundle is not None:
        chain = RunChain.from_bundle(bundle)
    else:
        chain = RunChain.open(req.from_run, req.modality) if req.from_run else None
    if req.median_size is None:  # the run's own filter: its healthy threshold was taken after it
        req = replace(req, median_size=int((chain.config.get("heatmap") or {}).get("median_size", 7)) if chain else 7)
    return req, method, chain


def _threshold(given: float | None, thresholds: list) -> tuple[float | None, str]:
    """The user's threshold, else the run's (the folds' unsupervised thresholds, averaged), and its source."""
    from patch2loc.scoring import mean_threshold  # numpy, scipy

    if given is not None:
        return given, "--threshold"
    threshold = mean_threshold(thresholds)
    return threshold, "run (mean of the folds' healthy-IXI quantile thresholds)" if threshold is not None else "none"


def _plan(flags: ScanFlags, outputs: OutputFlags, chain, checkpoints: list, lesions: bool):
    """The scans, one job each (plan.py), and every output path checked against every input."""
    from patch2loc.predict.inputs import expand  # numpy

    scans = expand(flags.image, flags.mask, flags.seg)
    plan.check_skull_strip(flags.skull_strip, scans, chain is not None)
    jobs, batch = plan.jobs(outputs, flags.skull_strip, scans, chain is not None, lesions)
    plan.check_paths(jobs, scans, checkpoints, chain, flags, outputs.out)
    return jobs, batch


def _header_pass(jobs, call: _Call, settings: dict, overwrite: bool, failures):
    """What each scan's files claim, before any model is loaded: (the scans to score, as _Ready; the
    number skipped as done before). `settings`: the call's (runstate.call_settings)."""
    todo, skipped = [], 0
    for job in jobs:
        state = scan_state(job.scan, settings, job.strip)
        current = is_current(job, state)
        if current and call.batch and not overwrite:
            skipped += 1
            continue
        try:
            check_headers(job, call.chain, call.limits)
        except Exception as exc:  # one scan's failure must not stop the others
            failures.add(job, exc, current)
            continue
        todo.append(_Ready(job, state, current))
    return todo, skipped


def _context(call: _Call):
    """The models loaded once (checked against the request) and what every scan is scored with."""
    from patch2loc.predict.scan import Context  # numpy

    models, conduct = call.models, call.conduct
    device = resolve_device(conduct.device)
    # looked up at call time, as the tests that stop a run there replace it (tests/bundle/test_bundle_hostile_late.py)
    members = model_loading.load_members(
        models.method,
        models.checkpoints,
        models.names,
        models.thresholds,
        device,
        call.modality,
        conduct.allow_mismatch,
        from_bundle=call.from_bundle,
        contrasts=call.chain.contrasts if call.chain is not None else None,
        grid=tuple(call.chain.config["preprocess"]["target_shape"]) if call.chain is not None else None,
    )
    return Context(
        members=members,
        chain=call.chain,
        threshold=call.threshold[0],
        threshold_source=call.threshold[1],
        settings=score_settings(call.scoring, device, progress=not conduct.quiet and not call.batch),
        allow_mismatch=conduct.allow_mismatch,
        checkpoints=models.names,
        method=models.method,
        force=conduct.force,
        contrasts=call.contrasts,
        tissue_order=not conduct.skip_tissue_order,
    )


def _score_all(todo, call: _Call, failures) -> int:
    """Load the models once and score each scan; returns how many were scored."""
    if not todo:
        return 0
    from tqdm.auto import tqdm

    from patch2loc.predict.scan import run_scan  # numpy

    ctx, quiet = _context(call), call.conduct.quiet
    patch = max((m.ckpt.get("patch_size") or 0 for m in ctx.members), default=0) or None
    done = 0
    for ready in tqdm(todo, desc="scans", unit="scan", disable=quiet or not call.batch):
        job = ready.job
        try:
            if patch is not None:  # the budget again, with the models' own patch size
                check_headers(job, call.chain, call.limits, patch)
            check_voxels(job, call.chain)
            record = run_scan(job, ctx, ready.state)
            done += 1
        except Exception as exc:  # one scan's failure must not stop the others
            failures.add(job, exc, ready.current)
            continue
        if not quiet and not call.batch:
            what = f"{record['patches']} patches" if record["patches"] is not None else f"{ctx.method} score"
            print(f"{job.heatmap}: {what} in {record['seconds']:.1f} s", file=sys.stderr)
    return done
