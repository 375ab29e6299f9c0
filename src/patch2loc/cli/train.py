"""`patch2loc train`: one model of a trained method of the registry, from csv lists of (image,
mask) pairs, as the workflow's training rules train it; the flags set the method's settings, the
rest are its config block's defaults."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from patch2loc.checks.devices import check_device
from patch2loc.checks.flags import DEVICE_HELP, at_least_2, finite_float, int_in, positive_int
from patch2loc.checks.scanlist import read_scan_list
from patch2loc.errors import InputError
from patch2loc.files.outputs import check_output
from patch2loc.registry import DEFAULT_METHOD, METHODS, implementation, require_trained
from patch2loc.run.layout import MODEL_FILES


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(image, mask) paths from a csv with the columns `image,mask` (scanlist.read_scan_list)."""
    return [(str(row["image"]), str(row["mask"])) for row in read_scan_list(path, ("image", "mask"))]


# The settings train's flags set (a method takes those its Settings has; another is refused).
TRAIN_FLAGS = {
    "steps": "--steps",
    "patches_per_step": "--patches",
    "lr": "--lr",
    "seed": "--seed",
    "device": "--device",
    "amp": "--amp",
    "val_every": "--val-every",
}


def cmd_train(args: argparse.Namespace) -> int:
    """Train one model of a trained method of the registry, as the workflow's training rules do."""
    method = require_trained(args.method, "--method", "train").name
    if args.device is not None:
        check_device(args.device)
    train_pairs, val_pairs = read_pairs(args.train_list), read_pairs(args.val_list)
    inputs = {"--train-list": args.train_list, "--val-list": args.val_list}
    for i, (image, mask) in enumerate([*train_pairs, *val_pairs]):
        inputs.update({f"image {i + 1}": image, f"mask {i + 1}": mask})
    check_output(args.out, "--out", inputs=inputs, folder=True, replaced_whole=False)
    for name in MODEL_FILES:  # the files train writes into --out
        check_output(Path(args.out) / name, "--out", inputs=inputs)
    module = implementation(method)  # imported here so that --help works without torch
    known = {f.name for f in fields(module.Settings)}
    block = {key: getattr(args, key) for key in TRAIN_FLAGS if getattr(args, key) is not None}
    for key in block:
        if key not in known:
            raise InputError(
                f"{TRAIN_FLAGS[key]}: {method} has no setting {key} (its settings: "
                f"{', '.join(sorted(known))}); drop {TRAIN_FLAGS[key]}."
            )
    summary = module.train_from_files(
        train_pairs,
        val_pairs,
        block,
        args.out,
        modality=args.modality,
        threads=args.num_threads,
        progress=not args.quiet,
    )
    print(json.dumps(summary, indent=2, default=str))
    return 0


def add_parser(sub) -> None:
    """The `train` command's flags, beside its command."""
    t = sub.add_parser(
        "train",
        help="train a model on normal scans",
        description="Train a method (Patch2Loc by default) as the workflow does; writes best.pt, "
        "last.pt and loss.csv to --out (and resumes from last.pt when it exists).",
    )
    t.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        choices=list(METHODS),
        help="the trained method (default Patch2Loc); the settings no flag sets are its config block's "
        "defaults, the paper's (docs/architecture.md). Thresh needs no training: refused",
    )
    t.add_argument(
        "--train-list",
        required=True,
        help="csv with columns image,mask (training subjects); relative paths are relative to the csv's folder",
    )
    t.add_argument(
        "--val-list", required=True, help="csv with columns image,mask (validation subjects), paths as in --train-list"
    )
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--steps", type=int_in(1, 10**8), help="training steps (default: the method's; Patch2Loc 15000)")
    t.add_argument(
        "--patches",
        type=at_least_2,
        dest="patches_per_step",
        help="Patch2Loc: patches per step, 2 to 1048576 (default 8096)",
    )
    t.add_argument(
        "--lr", type=finite_float(positive=True), help="learning rate (default: the method's; Patch2Loc 1e-2)"
    )
    t.add_argument("--seed", type=int_in(0, 2**63 - 2), help="random seed (default 3141)")
    t.add_argument("--device", help=DEVICE_HELP + " (default auto)")
    t.add_argument(
        "--modality",
        help="modality of the scans (e.g. T1, T2): recorded in the checkpoints, "
        "so that predict refuses scans of another modality",
    )
    t.add_argument("--amp", choices=("none", "bf16", "fp16"), help="mixed precision (default none)")
    t.add_argument(
        "--val-every", type=positive_int, help="steps between validations (default: the method's; Patch2Loc 500)"
    )
    t.add_argument("--num-threads", type=int_in(1, 1024), help="torch CPU threads")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)
