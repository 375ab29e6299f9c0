"""Which models one `predict` call applies: the method, its checkpoints and thresholds, loaded.

The method is `--method` (default Patch2Loc) or, with `--model`, the bundle's own; any trained
method of the registry (`patch2loc.methods`: Patch2Loc, the DAE) is loaded with its module's
`load(checkpoint, device)`, which refuses another method's checkpoint with one line. Its models
come from `--checkpoint`, the bundle's folds, or the run's folds of that method (`--from-run`:
`models/[{method}/]{modality}/fold{k}/best.pt`), each with the run's unsupervised threshold of
that method and fold. Patch2Loc's own flags (--stride, --batch-size, --region, --amp) set how its
patches are scored; another method ignores them (the DAE reconstructs whole slices in fp32).
"""
from __future__ import annotations

from pathlib import Path

from patch2loc.errors import InputError

PATCH2LOC_ONLY = ("stride", "region", "amp")  # call settings that only Patch2Loc's scoring reads


def method_flags(method: str, args) -> dict:
    """Patch2Loc's scoring flags as this call applies them; None for a method that ignores them
    (the one place that says so: scoring, the recorded call settings and the preflight use it)."""
    if method == "Patch2Loc":
        return {flag: getattr(args, flag) for flag in PATCH2LOC_ONLY}
    return dict.fromkeys(PATCH2LOC_ONLY)


def resolve_method(args, bundle) -> str:
    """--method, or the bundle's method (a --method that contradicts it is refused)."""
    from patch2loc.methods import require_trained

    method = require_trained(args.method or "Patch2Loc", "--method", "apply").name
    if bundle is not None:
        own = bundle.settings["method"]
        if args.method not in (None, own):
            raise InputError(f"{args.model}: a {own} model bundle, but --method {args.method}. Drop --method (the "
                             f"bundle's method is used), or pass a {args.method} bundle (patch2loc export --method "
                             f"{args.method}).")
        return own
    return method


def fold_models(args, chain, bundle, method: str) -> tuple[list[Path], list[str], list[float | None]]:
    """(checkpoint files, their names for messages and summaries, each one's run threshold)."""
    from patch2loc.predict.ensemble import bundle_folds, fold_checkpoints, fold_threshold

    if bundle is not None:
        folds = bundle_folds(bundle, args.folds)
        return [f.weights for f in folds], [f"{bundle.source}:{f.name}" for f in folds], [f.threshold for f in folds]
    if args.checkpoint:
        checkpoints = [Path(c) for c in args.checkpoint]
    elif chain is not None:
        checkpoints = fold_checkpoints(chain.run, args.modality, args.folds, method)
    else:
        raise InputError(f"{args.image[0]}: pass --checkpoint (or --from-run or --model to use a run's fold models).")
    run = chain.run if chain is not None else None
    return checkpoints, [str(c) for c in checkpoints], [fold_threshold(run, args.modality, c, method)
                                                        for c in checkpoints]


def load_members(method: str, checkpoints: list[Path], names: list[str], thresholds: list[float | None], device,
                 modality: str | None, allow_mismatch: bool, from_bundle: bool = False) -> list:
    """Every model loaded (before any compute: a bad or wrong-method checkpoint fails fast) and
    checked against --modality."""
    from patch2loc.methods import TRAINED, implementation
    from patch2loc.predict.ensemble import Member
    from patch2loc.predict.preflight import check_checkpoint_fits

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
        check_checkpoint_fits(ckpt, name, modality, None, allow_mismatch)
        members.append(Member(Path(name), model, ckpt, fold_thr))
    return members


def score_settings(method: str, args, device, progress: bool) -> dict:
    """What ensemble.member_score passes to the method's scorer."""
    if method == "Patch2Loc":
        return dict(**method_flags(method, args), batch_size=args.batch_size, device=device,
                    margin=args.median_size // 2, progress=progress)
    from patch2loc.evaluation.scoring import ScoringConfig

    return {"cfg": ScoringConfig(median_size=args.median_size, device=device)}
