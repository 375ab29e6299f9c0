"""Which models one `predict` call applies: the method, its checkpoints and thresholds, loaded.

The method is `--method` (default Patch2Loc) or, with `--model`, the bundle's own; any trained
method of the registry (`patch2loc.registry`: Patch2Loc, the DAE) is loaded with its module's
`load(checkpoint, device)`, which refuses another method's checkpoint with one line. Its models
come from `--checkpoint`, the bundle's folds, or the run's folds of that method (`--from-run`:
`models/[{method}/]{modality}/fold{k}/best.pt`), each with the run's unsupervised threshold of
that method and fold. The scoring flags (--stride, --batch-size, --centres, --amp) are options the
core hands to the method (`scoring.ScanSettings.options`): Patch2Loc reads them to score its
patches; a method without such options ignores them (the DAE reconstructs whole slices in fp32).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from patch2loc.errors import InputError
from patch2loc.registry import DEFAULT_METHOD, TRAINED, implementation, require_trained
from patch2loc.predict.preflight import check_checkpoint_fits

if TYPE_CHECKING:  # the request's parts (command._run_request); importing them here costs nothing at run time
    from patch2loc.predict.request import ModelFlags, ScoringFlags

SCORING_FLAGS = ("stride", "centres", "amp")  # call settings that change the map of a method that reads them


def scoring_options(method: str) -> tuple[str, ...]:
    """The scoring options `method` reads (the fields of its module's ScoreOptions)."""
    return tuple(f.name for f in fields(implementation(method).ScoreOptions))


def method_flags(method: str, scoring: ScoringFlags) -> dict:
    """The scoring flags as this call applies them; None for a flag the method ignores (the one
    place that says so: the recorded call settings and the preflight use it)."""
    reads = scoring_options(method)
    return {flag: getattr(scoring, flag) if flag in reads else None for flag in SCORING_FLAGS}


def resolve_method(flag: str | None, model: str | None, bundle) -> str:
    """--method (`flag`), or the bundle's method (a --method that contradicts it is refused);
    `model`: the --model the bundle came from, as the user named it."""
    method = require_trained(flag or DEFAULT_METHOD, "--method", "apply").name
    if bundle is not None:
        own = bundle.settings["method"]
        if flag not in (None, own):
            raise InputError(
                f"{model}: a {own} model bundle, but --method {flag}. Drop --method (the "
                f"bundle's method is used), or pass a {flag} bundle (patch2loc export --method "
                f"{flag})."
            )
        return own
    return method


def fold_models(
    chosen: ModelFlags, chain, bundle, method: str, image: str
) -> tuple[list[Path], list[str], list[float | None]]:
    """(checkpoint files, their names for messages and summaries, each one's run threshold).
    `image`: the first --image, named when no model is given."""
    from patch2loc.checks.claims import regular_file  # numpy: not at `patch2loc --help`
    from patch2loc.predict.ensemble import bundle_folds, fold_checkpoints, fold_threshold  # numpy, scipy

    if bundle is not None:
        folds = bundle_folds(bundle, chosen.folds)
        return [f.weights for f in folds], [f"{bundle.source}:{f.name}" for f in folds], [f.threshold for f in folds]
    if chosen.checkpoint:
        checkpoints = [Path(c) for c in chosen.checkpoint]
        for c in checkpoints:  # read for the call's fingerprint before any model loads: checked here
            if c.is_dir():
                raise InputError(f"{c}: --checkpoint is a folder; give the checkpoint file in it (e.g. {c}/best.pt).")
            regular_file(c, "--checkpoint", "Check the path, or train a model first (patch2loc train).")
    elif chain is not None:
        checkpoints = fold_checkpoints(chain.run, chosen.modality, chosen.folds, method)
    else:
        raise InputError(f"{image}: pass --checkpoint (or --from-run or --model to use a run's fold models).")
    run = chain.run if chain is not None else None
    return (
        checkpoints,
        [str(c) for c in checkpoints],
        [fold_threshold(run, chosen.modality, c, method) for c in checkpoints],
    )


def load_members(
    method: str,
    checkpoints: list[Path],
    names: list[str],
    thresholds: list[float | None],
    device,
    modality: str | None,
    allow_mismatch: bool,
    from_bundle: bool = False,
    contrasts: tuple[str, ...] | None = None,
    grid: tuple[int, ...] | None = None,
) -> list:
    """Every model loaded (before any compute: a bad or wrong-method checkpoint fails fast) and
    checked against --modality and, with a run or bundle, its `contrasts` (one input channel each) and
    the `grid` its chain makes (target_shape): found only after the registration before."""
    from patch2loc.predict.ensemble import Member  # numpy, scipy: not at `patch2loc --help`

    load = implementation(method).load
    members = []
    for c, name, fold_thr in zip(checkpoints, names, thresholds):
        try:
            model, ckpt = load(str(c), device)
        except InputError as exc:  # a bundle's member: named by the bundle, not its unpacked copy
            text = str(exc).replace(str(c), name)
            other = getattr(exc, "found", None)  # WrongMethod: say how to apply that checkpoint instead
            if other in TRAINED and not from_bundle:  # a bundle's method is its settings', not a flag
                text += f" To apply this {other} checkpoint, pass --method {other}."
            raise InputError(text) from None
        check_checkpoint_fits(ckpt, name, modality, grid, allow_mismatch)
        channels = ckpt["config"].get("channels", 1)
        if contrasts is not None and channels != len(contrasts):  # found only after the registration before
            raise InputError(
                f"{name}: a model of {str(channels)[:20]} input channel(s), but its run or bundle stacks "
                f"{len(contrasts)} contrast(s) {list(contrasts)}; nothing was computed. Use the fold models "
                "trained for that model input."
            )
        members.append(Member(Path(name), model, ckpt, fold_thr))
    return members


def score_settings(scoring: ScoringFlags, device, progress: bool):
    """The core's settings of this call (`scoring.ScanSettings`): its post-processing, and the
    scoring flags as options for the method."""
    from patch2loc.scoring import ScanSettings  # numpy, scipy: not at `patch2loc --help`

    options = {
        "stride": scoring.stride,
        "batch_size": scoring.batch_size,
        "amp": scoring.amp,
        "centres": scoring.centres,
    }
    return ScanSettings(
        median_size=scoring.median_size,
        postprocess=not scoring.no_postprocess,
        device=device,
        options=options,
        progress=progress,
    )
