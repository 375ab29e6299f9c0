"""`patch2loc predict`: one scan -> anomaly heatmap (+ overview PNG).

Order matters for safety: every check that needs no compute runs first (device, output paths
against the inputs, the run's files, HD-BET, the checkpoint and its modality and grid), then the
compute, and all outputs (heatmap, PNG, preprocessed folder) are committed together at the end:
a failure or Ctrl-C at any point leaves nothing behind and never touches an input.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from ..errors import InputError

NIFTI = (".nii.gz", ".nii")
OWNER_FILE = "predict.json"  # in <out>_preprocessed/: which heatmap the folder belongs to


def check_checkpoint_fits(ckpt: dict, checkpoint: str, modality: str | None, shape: tuple | None,
                          allow_mismatch: bool) -> None:
    """A model trained on another modality or grid: error, or a warning with --allow-mismatch."""
    from ..checkpoint import checkpoint_grid, checkpoint_modality

    problems = []
    trained = checkpoint_modality(ckpt)
    if modality and trained and trained != modality:
        problems.append(f"it was trained on {trained} scans, not {modality}")
    grid = checkpoint_grid(ckpt)
    if shape is not None and grid is not None and grid != tuple(shape):
        problems.append(f"it was trained on volumes of shape {grid}, the image has {tuple(shape)} "
                        "(scores are only comparable on the same preprocessing grid)")
    if not problems:
        return
    text = f"{checkpoint}: {'; '.join(problems)}."
    if not allow_mismatch:
        raise InputError(f"{text} Use a checkpoint for this modality and grid, or pass --allow-mismatch.")
    warnings.warn(text, stacklevel=2)


def _check_patch_size(ckpt: dict, shape: tuple, image: str) -> None:
    from ..model import patch_size_for

    patch = int(ckpt.get("patch_size", 0))
    if patch and patch != patch_size_for(shape[0]):
        warnings.warn(f"{image}: slice side {shape[0]} would give a patch of {patch_size_for(shape[0])} "
                      f"pixels but the model uses {patch}; check the preprocessing.", stacklevel=2)


def _check_owner(folder: Path, out: Path) -> None:
    """Reuse <out>_preprocessed/ only for the same heatmap; never replace a folder we did not make."""
    if not folder.exists():
        return
    owner = folder / OWNER_FILE
    try:
        made_for = json.loads(owner.read_text(encoding="utf-8")).get("heatmap")
    except (OSError, ValueError, AttributeError):
        made_for = None
    if made_for != out.name:
        whose = f"the heatmap {made_for}" if made_for else "something other than patch2loc predict"
        raise InputError(f"{folder}: this folder belongs to {whose}; predicting {out.name} would overwrite "
                         "it. Choose another --out name or folder.")


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from ..devices import check_device, resolve_device
    from ..heatmap import postprocess, score_volume
    from ..io import load_case, save_volume
    from ..model import load_model
    from ..outputs import OutputSet, check_distinct, check_output
    from .overview import overview_png
    from .runchain import RunChain, preprocessed_folder, require_hdbet

    check_device(args.device)
    out, png = Path(args.out), Path(args.png) if args.png else None
    if args.from_run and not args.modality:
        raise InputError(f"{args.image}: --from-run needs --modality T1 or T2 (the landmarks to use).")
    if not args.from_run and not args.mask:
        raise InputError(f"{args.image}: --mask is required for a preprocessed image (or pass --from-run).")

    chain = RunChain.open(args.from_run, args.modality) if args.from_run else None
    inputs = {"--image": args.image, "--mask": args.mask, "--checkpoint": args.checkpoint,
              **(chain.inputs() if chain else {})}
    check_output(out, "--out", NIFTI, inputs)
    if png is not None:
        check_output(png, "--png", (".png",), inputs)
    prepared = preprocessed_folder(out) if chain else None
    check_distinct({"--out": out, "--png": png, "the preprocessed folder": prepared})
    if prepared is not None:
        check_output(prepared, f"the preprocessed folder of --out {out.name}", (), inputs, folder=True)
        _check_owner(prepared, out)
        if not args.mask:
            require_hdbet(args.image)
    for flag in ("--image", "--mask"):
        path = inputs[flag]
        if path is not None and not Path(path).is_file():
            raise InputError(f"{path}: {flag} file not found. Check the path.")

    device = resolve_device(args.device)
    model, ckpt = load_model(args.checkpoint, device)  # before any compute: a bad model fails fast
    check_checkpoint_fits(ckpt, args.checkpoint, args.modality, None, args.allow_mismatch)

    with OutputSet() as outs:
        image, mask = args.image, args.mask
        if chain is not None:
            staged = outs.folder(prepared)
            image, mask = chain.prepare(args.image, args.mask, staged, prepared.name)
        case = load_case(image, mask)
        shown_image = str(prepared / Path(image).name) if chain else args.image
        check_checkpoint_fits(ckpt, args.checkpoint, None, case.image.data.shape, args.allow_mismatch)
        _check_patch_size(ckpt, case.image.data.shape, shown_image)
        res = score_volume(model, case.image.data, case.mask, stride=args.stride, batch_size=args.batch_size,
                           device=device, amp=args.amp, region=args.region, margin=args.median_size // 2,
                           progress=not args.quiet)
        score = res.score if args.no_postprocess else postprocess(res.score, case.mask, args.median_size)
        score = score.astype(np.float32)
        save_volume(score, outs.file(out), like=case.image)
        if png is not None:
            overview_png(case.image.data, score, case.mask, outs.file(png), title=Path(args.image).name)
        if chain is not None:
            (staged / OWNER_FILE).write_text(json.dumps(
                {"heatmap": out.name, "image": str(Path(args.image).resolve()),
                 "mask": str(Path(args.mask).resolve()) if args.mask else None,
                 "checkpoint": str(Path(args.checkpoint).resolve()), "run": str(chain.run.resolve()),
                 "modality": args.modality}, indent=1), encoding="utf-8")
    if not args.quiet:
        print(f"{out}: {res.n_patches} patches in {res.seconds:.1f} s", file=sys.stderr)
    return 0
