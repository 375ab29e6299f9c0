"""`patch2loc predict`: scans -> anomaly heatmaps, lesion masks and summaries.

Order matters for safety: every check that needs no compute runs first (device, the method, the
scans and every output path against every input, the run's files, HD-BET, the checkpoints, their
method and modality: models.py), then the models are loaded once and the scans are scored one
by one, each after its own checks (preflight.py). Each scan's outputs are committed together
(scan.py); a failure, Ctrl-C or SIGTERM leaves nothing of that scan and never touches an input.
With several scans, one bad scan is reported (one line) and the others go on; the exit status is
then the number of failed scans (at most 100). A folder run skips a scan only when its outputs
were made from the same inputs with the same settings (runstate.py).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from patch2loc.errors import InputError

NIFTI = (".nii.gz", ".nii")
MAX_EXIT = 100


def _check_owner(folder: Path, heatmap: Path) -> None:
    """Reuse S_preprocessed/ only for the same heatmap; never replace a folder we did not make."""
    from patch2loc.predict.scan import OWNER_FILE

    if not folder.exists():
        return
    try:
        made_for = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8")).get("heatmap")
    except (OSError, ValueError, AttributeError):
        made_for = None
    if made_for != heatmap.name:
        whose = f"the heatmap {made_for}" if made_for else "something other than patch2loc predict"
        raise InputError(f"{folder}: this folder belongs to {whose}; predicting {heatmap.name} would overwrite "
                         "it. Choose another --out name or folder.")


def _check_summary_owner(job) -> None:
    """x.nii and x.nii.gz share the stem x: never let one replace the other's outputs."""
    summary = job.outputs()["summary"]
    try:
        made_for = json.loads(summary.read_text(encoding="utf-8"))["outputs"]["heatmap"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no summary yet (or not ours: check_output already refused folders)
    if Path(made_for).name != job.heatmap.name:
        raise InputError(f"{summary}: belongs to the heatmap {Path(made_for).name}; predicting {job.heatmap.name} "
                         "would overwrite it. Choose another --out name.")


def _jobs(args, scans, from_run: bool, lesions: bool):
    from patch2loc.predict.scan import Job

    out = Path(args.out)
    # A folder: several scans, or an existing folder / a name without a suffix that is not named
    # like a NIfTI. Otherwise one file (check_output then insists on .nii.gz / .nii).
    nifti_name = out.name.lower().endswith(NIFTI)
    if len(scans) == 1 and (nifti_name or (out.suffix and not out.is_dir())):
        suffix = next((s for s in NIFTI if out.name.lower().endswith(s)), "")
        stem = out.with_name(out.name[: len(out.name) - len(suffix)] if suffix else out.name)
        return [Job(scans[0], out, stem, Path(args.png) if args.png else None, from_run, lesions,
                    Path(args.html) if args.html else None)], False
    if out.name.lower().endswith(NIFTI):
        raise InputError(f"{out}: --image names {len(scans)} scans, so --out must be a folder (not a .nii.gz).")
    if args.png:
        raise InputError(f"{args.png}: --png names one file; with an --out folder every scan gets <id>.png there.")
    if args.html:
        raise InputError(f"{args.html}: --html is for a single scan (an --out .nii.gz), not an --out folder.")
    return [Job(s, out / f"{s.id}.nii.gz", out / s.id, out / f"{s.id}.png", from_run, lesions) for s in scans], True


def _check_paths(jobs, scans, checkpoints, chain, args) -> None:
    """Every output against every input, before any compute."""
    from patch2loc.outputs import check_distinct, check_output

    inputs: dict[str, Path | None] = {f"--checkpoint {i + 1}": c for i, c in enumerate(checkpoints)}
    given = [Path(text) for text in args.image if Path(text).is_file()]  # files and csv lists (the path is said once)
    inputs.update({"--image" if len(given) == 1 else f"--image #{i + 1}": p for i, p in enumerate(given)})
    for s in scans:
        inputs.update({f"--image {s.id}": s.image, f"--mask of {s.id}": s.mask, f"--seg of {s.id}": s.seg})
    if chain is not None:
        inputs.update(chain.inputs())
    if len(jobs) > 1 or jobs[0].heatmap != Path(args.out):  # a folder that receives outputs, never replaced
        check_output(args.out, "--out", (), inputs, folder=True, replaced_whole=False)
    every: dict[str, Path] = {}
    for job in jobs:
        for name, path in job.outputs().items():
            if name == "preprocessed":
                check_output(path, f"the preprocessed folder of {job.heatmap.name}", (), inputs, folder=True)
                _check_owner(path, job.heatmap)
            else:
                flag = {"heatmap": "--out", "png": "--png", "html": "--html"}.get(name, f"--out ({name})")
                suffixes = {"heatmap": NIFTI, "png": (".png",), "html": (".html",)}.get(name, ())
                check_output(path, flag, suffixes, inputs)
            every[f"{job.scan.id} {name}"] = path
        _check_summary_owner(job)
    check_distinct(every)


def _scan_checks(job, ctx, args) -> None:
    """The checks of one scan that need no compute (preflight.py), in the order they can fail."""
    from patch2loc.predict.preflight import (check_claims, check_flags_fit, check_paths_utf8, check_raw_scan,
                                             model_grid)
    from patch2loc.predict.models import method_flags
    from patch2loc.predict.scan import skull_strip_of

    scan = job.scan
    if ctx.chain is not None or scan.is_dicom:  # SimpleITK opens these paths
        check_paths_utf8({"--image": scan.image, "--mask": scan.mask, "--seg": scan.seg,
                          **{f"--out ({name})": path for name, path in job.outputs().items()}})
    check_claims(scan, ctx.chain is not None)  # headers only: before anything reads the voxels
    stride = method_flags(ctx.method, args)["stride"] or 1  # a method that ignores --stride scores every pixel
    check_flags_fit(model_grid(scan.image, ctx.chain), stride, args.median_size, scan.image)
    if ctx.chain is not None and not scan.is_dicom:
        strip = skull_strip_of(scan, ctx.skull_strip)
        check_raw_scan(scan.image, scan.mask if strip == "provided" else None)


def _failure_line(job, exc: Exception) -> str | None:
    """One line for a scan that failed; None for a bug (re-raised where one scan is scored)."""
    from patch2loc.errors import resource_problem

    if isinstance(exc, InputError):
        return str(exc)
    return resource_problem(exc, str(job.scan.image), writing=f"the outputs of {job.heatmap}")


def cmd_predict(args: argparse.Namespace) -> int:
    """--model: the bundle is checked and (a zip) unpacked into a private folder, removed at the end."""
    if args.model is None:
        return _predict(args, None)
    from patch2loc.bundle.reader import open_bundle
    from patch2loc.outputs import check_utf8_path

    if args.from_run or args.checkpoint:
        raise InputError(f"{args.model}: --model carries the run's chain and models; drop "
                         f"{'--from-run' if args.from_run else '--checkpoint'}.")
    check_utf8_path(args.model, "--model")
    with open_bundle(args.model) as bundle:
        return _predict(args, bundle)


def _predict(args: argparse.Namespace, bundle) -> int:
    from tqdm.auto import tqdm

    from patch2loc.devices import check_device, resolve_device
    from patch2loc.predict.ensemble import ensemble_threshold
    from patch2loc.predict.inputs import expand
    from patch2loc.predict.models import fold_models, load_members, resolve_method, score_settings
    from patch2loc.predict.runchain import RunChain, require_hdbet
    from patch2loc.predict.runstate import call_settings, is_current, remove_stale, scan_state
    from patch2loc.predict.scan import Context, run_scan, skull_strip_of

    check_device(args.device)
    if args.from_run or bundle is not None:
        from patch2loc.outputs import check_utf8_path

        check_utf8_path(args.out, "--out")
    if args.from_run:
        check_utf8_path(args.from_run, "--from-run")
    if args.from_run and not args.modality:
        raise InputError(f"{args.image[0]}: --from-run needs --modality T1 or T2 (the landmarks to use).")
    if bundle is not None:
        if args.modality not in (None, bundle.settings["modality"]):
            raise InputError(f"{args.model}: a {bundle.settings['modality']} model bundle, but --modality "
                             f"{args.modality}. Use the bundle of that modality, or drop --modality.")
        args.modality = bundle.settings["modality"]
    method = resolve_method(args, bundle)
    if bundle is not None:
        chain = RunChain.from_bundle(bundle)
    else:
        chain = RunChain.open(args.from_run, args.modality) if args.from_run else None
    if args.median_size is None:  # the run's own filter: its healthy threshold was taken after it
        args.median_size = int((chain.config.get("heatmap") or {}).get("median_size", 7)) if chain else 7
    checkpoints, names, thresholds = fold_models(args, chain, bundle, method)
    scans = expand(args.image, args.mask, args.seg)
    if chain is None and args.skull_strip in ("hdbet", "none"):
        raise InputError(f"--skull-strip {args.skull_strip}: only raw scans are skull-stripped; add --from-run "
                         "(or --model).")
    unmasked = [s for s in scans if s.mask is None]
    if chain is not None and unmasked and args.skull_strip == "mask":
        raise InputError(f"{unmasked[0].image}: --skull-strip mask but no brain mask for this scan. Pass --mask "
                         "(or a csv column mask), or use --skull-strip hdbet or none.")
    needs_hdbet = [s for s in scans if skull_strip_of(s, args.skull_strip) == "hdbet"]
    if chain is not None and needs_hdbet:
        require_hdbet(needs_hdbet[0].image)
    lesions = args.threshold is not None or chain is not None
    jobs, batch = _jobs(args, scans, chain is not None, lesions)

    # Thresholds: the user's, else the run's (the folds' unsupervised thresholds, averaged).
    device = resolve_device(args.device)
    _check_paths(jobs, scans, checkpoints, chain, args)
    members = load_members(method, checkpoints, names, thresholds, device, args.modality, args.allow_mismatch,
                           from_bundle=bundle is not None)
    threshold, source = args.threshold, "--threshold"
    if threshold is None:
        threshold = ensemble_threshold(members)
        source = "run (mean of the folds' healthy-IXI quantile thresholds)" if threshold is not None else "none"
    for job in jobs:
        job.lesions = threshold is not None
    settings = call_settings(args, checkpoints, chain, threshold, source, method)
    ctx = Context(members=members, chain=chain, threshold=threshold, threshold_source=source,
                  settings=score_settings(args, device, progress=not args.quiet and not batch),
                  skull_strip=args.skull_strip,
                  allow_mismatch=args.allow_mismatch, checkpoints=names, method=method)

    failed, done, skipped = 0, 0, 0
    for job in tqdm(jobs, desc="scans", unit="scan", disable=args.quiet or not batch):
        current = False
        try:
            job.state = scan_state(job.scan, settings, skull_strip_of(job.scan, args.skull_strip) if chain else None)
            current = is_current(job, job.state)
            if current and batch and not args.overwrite:
                skipped += 1
                continue
            _scan_checks(job, ctx, args)
            record = run_scan(job, ctx)
            done += 1
        except Exception as exc:  # one scan's failure must not stop the others
            line = _failure_line(job, exc)
            if not batch:
                if line is None or isinstance(exc, InputError):
                    raise
                raise InputError(line) from None
            failed += 1
            if line is None:
                detail = (str(exc).strip().splitlines() or [""])[0][:200]
                line = f"{job.scan.image}: unexpected {type(exc).__name__}: {detail}"
            if not current and remove_stale(job):  # outputs of other inputs/settings: never "done" again
                line = f"{line.rstrip('.')} (its earlier outputs, made from other inputs or settings, were removed)."
            print(f"patch2loc predict: error: {line}", file=sys.stderr)
            continue
        if not args.quiet and not batch:
            what = f"{record['patches']} patches" if record["patches"] is not None else f"{method} score"
            print(f"{job.heatmap}: {what} in {record['seconds']:.1f} s", file=sys.stderr)
    if batch and not args.quiet:
        print(f"patch2loc predict: {done} scored, {skipped} skipped (done before with the same inputs and "
              f"settings; --overwrite to redo), {failed} failed", file=sys.stderr)
    return min(failed, MAX_EXIT)
