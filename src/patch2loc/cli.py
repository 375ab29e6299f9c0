"""Command line: `patch2loc train` and `patch2loc predict`.

Bad input (unreadable or mismatched files, empty masks, NaNs, unusable checkpoints) prints one
line naming the file to stderr and exits with status 2; outputs are written atomically, so a
failed run leaves no output file behind.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import warnings
from pathlib import Path

from .io import InputError

EXIT_INPUT_ERROR = 2
COLOUR_RANGE = (0.0, 12.0)  # the paper's fixed colour scale for heatmaps


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(image, mask) paths from a csv with the columns `image,mask` (paths as written)."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            if "image" not in fields or "mask" not in fields:
                raise InputError(f"{path}: needs the columns 'image' and 'mask' (found {fields}). "
                                 "Write one row per subject: image,mask.")
            pairs = [(row["image"], row["mask"]) for row in reader]
    except FileNotFoundError:
        raise InputError(f"{path}: file not found. Check the path of the subject list.") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text csv. Pass a csv with the columns image,mask.") from None
    if not pairs:
        raise InputError(f"{path}: no subjects listed. Add at least one row image,mask.")
    return pairs


# --------------------------------------------------------------------------- train

def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from .train import TrainConfig, train_from_files  # imported here so --help works without it

    train_pairs, val_pairs = read_pairs(args.train_list), read_pairs(args.val_list)
    given = {"steps": args.steps, "patches_per_step": args.patches, "lr": args.lr, "seed": args.seed,
             "device": args.device, "amp": args.amp, "val_every": args.val_every,
             "num_threads": args.num_threads}
    known = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in given.items() if v is not None and k in known})
    summary = train_from_files(train_pairs, val_pairs, cfg, args.out, progress=not args.quiet)
    print(json.dumps(summary, indent=2, default=str))
    return 0


# --------------------------------------------------------------------------- predict

def _check_trained_shape(ckpt: dict, shape: tuple, image: str) -> None:
    """Warn when the image grid differs from the one the model was trained on."""
    from .model import patch_size_for

    expected = (ckpt.get("config") or {}).get("volume_shape") or ckpt.get("volume_shape")
    if expected is not None and tuple(int(s) for s in expected) != tuple(shape):
        warnings.warn(f"{image}: shape {tuple(shape)} differs from the training volumes "
                      f"{tuple(expected)}; positions are percentages, but scores are only "
                      "comparable on the same preprocessing grid.", stacklevel=2)
    patch = int(ckpt.get("patch_size", 0))
    if patch and patch != patch_size_for(shape[0]):
        warnings.warn(f"{image}: slice side {shape[0]} would give a patch of {patch_size_for(shape[0])} "
                      f"pixels but the model uses {patch}; check the preprocessing.", stacklevel=2)


def preprocess_new_scan(image: str, mask: str | None, modality: str, run_dir: str, out: str) -> tuple[str, str]:
    """Put a raw native-space scan through a finished run's chain (same atlas, settings and Nyul
    landmarks as its training data). Writes `<out stem>_preprocessed/` beside `out`, returns the
    normalised image and its brain mask (atlas space)."""
    import yaml

    from .datasets import RawScan
    from .normalize import normalize_scan
    from .preprocess import PreprocessConfig, preprocess_scan

    run = Path(run_dir)
    resolved, landmarks = run / "config.resolved.yaml", run / "landmarks" / f"{modality}.npy"
    for needed in (resolved, landmarks):
        if not needed.exists():
            raise InputError(f"{needed}: not found. --from-run needs a run folder (results/<run_name>) "
                             "whose workflow has finished preprocessing and normalisation.")
    cfg = yaml.safe_load(resolved.read_text())
    workdir = run.resolve().parents[1]  # results/<run> lives in the workflow's working directory

    def located(path: str) -> Path:
        return Path(path) if Path(path).is_absolute() else workdir / path

    out_dir = Path(out).with_name(Path(out).name.split(".")[0] + "_preprocessed")
    scan = RawScan("new", modality, out_dir.name, Path(image), None, Path(mask) if mask else None)
    pcfg = PreprocessConfig.from_config(cfg["preprocess"], skull_strip="provided" if mask else "hdbet")
    preprocess_scan(scan, located(cfg["atlas"]["image"]), located(cfg["atlas"]["mask"]), out_dir, pcfg)
    normalized = out_dir / "normalized.nii.gz"
    normalize_scan(out_dir / "image.nii.gz", out_dir / "mask.nii.gz", landmarks, normalized,
                   percentile=cfg["normalize"]["percentile"])
    return str(normalized), str(out_dir / "mask.nii.gz")


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from .heatmap import postprocess, resolve_device, score_volume
    from .io import load_case, save_volume
    from .model import load_model

    if args.from_run:
        if not args.modality:
            raise InputError(f"{args.image}: --from-run needs --modality T1 or T2 (the landmarks to use).")
        args.image, args.mask = preprocess_new_scan(args.image, args.mask, args.modality, args.from_run, args.out)
    elif not args.mask:
        raise InputError(f"{args.image}: --mask is required for a preprocessed image (or pass --from-run).")
    case = load_case(args.image, args.mask)  # before the model: input errors come first and fast
    device = resolve_device(args.device)
    model, ckpt = load_model(args.checkpoint, device)
    _check_trained_shape(ckpt, case.image.data.shape, args.image)
    res = score_volume(model, case.image.data, case.mask, stride=args.stride, batch_size=args.batch_size,
                       device=device, amp=args.amp, region=args.region, margin=args.median_size // 2,
                       progress=not args.quiet)
    score = res.score if args.no_postprocess else postprocess(res.score, case.mask, args.median_size)
    score = score.astype(np.float32)
    if args.png:
        overview_png(case.image.data, score, case.mask, args.png, title=Path(args.image).name)
    save_volume(score, args.out, like=case.image)
    if not args.quiet:
        print(f"{args.out}: {res.n_patches} patches in {res.seconds:.1f} s", file=sys.stderr)
    return 0


def overview_png(image, score, mask, path: str | Path, n_slices: int = 4, title: str = "") -> Path:
    """A few axial slices through the brain: image | heatmap on [0, 12] | overlay."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from .io import atomic_output

    zs = np.flatnonzero(mask.any(axis=(0, 1)))
    lo, hi = (zs[0], zs[-1]) if zs.size else (0, image.shape[2] - 1)
    slices = np.unique(np.linspace(lo, hi, n_slices + 2)[1:-1].round().astype(int))
    fig, axes = plt.subplots(len(slices), 3, figsize=(9, 3 * len(slices)), squeeze=False)
    vmin, vmax = COLOUR_RANGE
    for row, z in zip(axes, slices):
        img, hm = image[:, :, z].T, score[:, :, z].T  # x to the right, y up
        row[0].imshow(img, cmap="gray", origin="lower")
        im = row[1].imshow(hm, cmap="jet", vmin=vmin, vmax=vmax, origin="lower")
        fig.colorbar(im, ax=row[1], fraction=0.046, pad=0.04)
        row[2].imshow(img, cmap="gray", origin="lower")
        row[2].imshow(np.ma.masked_where(~mask[:, :, z].T, hm), cmap="jet", vmin=vmin, vmax=vmax,
                      alpha=0.5, origin="lower")
        row[0].set_ylabel(f"z = {z}")
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, name in zip(axes[0], ("image", "score", "overlay")):
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return Path(path)


# --------------------------------------------------------------------------- parser

def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patch2loc", description=(
        "Patch2Loc: unsupervised brain-lesion detection by predicting where a patch comes from."))
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on normal scans",
                       description="Train Patch2Loc; writes best.pt, last.pt and loss.csv to --out "
                                   "(and resumes from last.pt when it exists).")
    t.add_argument("--train-list", required=True, help="csv with columns image,mask (training subjects)")
    t.add_argument("--val-list", required=True, help="csv with columns image,mask (validation subjects)")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--steps", type=_positive_int, help="training steps (default 15000)")
    t.add_argument("--patches", type=_positive_int, help="patches per step (default 8096)")
    t.add_argument("--lr", type=float, help="Adam learning rate (default 1e-2)")
    t.add_argument("--seed", type=int, help="random seed (default 3141)")
    t.add_argument("--device", help="cuda, cpu or auto (default auto)")
    t.add_argument("--amp", choices=("none", "bf16", "fp16"), help="mixed precision (default none)")
    t.add_argument("--val-every", type=_positive_int, help="steps between validations (default 500)")
    t.add_argument("--num-threads", type=_positive_int, help="torch CPU threads")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="anomaly heatmap of one scan",
                       description="Score every voxel of a preprocessed scan; writes the (median-"
                                   "filtered, masked) anomaly score as NIfTI with the input's affine.")
    p.add_argument("--checkpoint", required=True, help="best.pt or last.pt from patch2loc train")
    p.add_argument("--image", required=True, help="preprocessed image (NIfTI); a raw scan with --from-run")
    p.add_argument("--mask", help="brain mask of the image (NIfTI); with --from-run the raw scan's "
                                  "brain mask (omit it to skull-strip with HD-BET)")
    p.add_argument("--from-run", metavar="RUN_DIR",
                   help="preprocess a raw native-space scan first, exactly like the run's data "
                        "(results/<run>: its atlas, settings and Nyul landmarks); the heatmap is in atlas space")
    p.add_argument("--modality", choices=("T1", "T2"), help="with --from-run: which landmarks to use")
    p.add_argument("--out", required=True, help="output heatmap (.nii.gz)")
    p.add_argument("--png", help="optional overview figure (.png)")
    p.add_argument("--stride", type=_positive_int, default=1, help="in-plane stride; >1 is upsampled bilinearly")
    p.add_argument("--batch-size", type=_positive_int, default=8192, help="patches per forward pass")
    p.add_argument("--device", default="auto", help="cuda, cpu or auto")
    p.add_argument("--amp", default="auto", choices=("auto", "bf16", "fp16", "none"),
                   help="encoder precision (auto: bf16/fp16 on GPU, bf16 on CPUs with native bf16)")
    p.add_argument("--region", default="dilated", choices=("dilated", "mask", "all"),
                   help="centres to score (dilated: brain + median_size//2, same result as all)")
    p.add_argument("--no-postprocess", action="store_true", help="write the raw score (no median, no mask)")
    p.add_argument("--median-size", type=_positive_int, default=7, help="3D median filter side (default 7)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"patch2loc {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR


if __name__ == "__main__":
    sys.exit(main())
