"""The command line's parser: `patch2loc train`, `predict`, `export` and `bids`, their flags' types
(each bound from ranges.py, the bounds every other setting has) and one-line usage errors. The
commands themselves live with what they do (`patch2loc train`: methods/train_command.py)."""

from __future__ import annotations

import argparse
import math
import warnings

from patch2loc.errors import EXIT_INPUT_ERROR
from patch2loc.ranges import MAX_BATCH, MAX_MEDIAN, MAX_STRIDE


def _int_in(low: int, high: int, why: str = ""):
    """argparse type: an integer in [low, high]; `why` explains the bound in the message."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if not low <= value <= high:
            bound = f">= {low}" if value < low else f"<= {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}{why}, got {value}")
        return value

    return parse


def _finite_float(positive: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value) or (positive and value <= 0):
            raise argparse.ArgumentTypeError(f"must be a finite number{' > 0' if positive else ''}, got {text}")
        return value

    return parse


_positive_int = _int_in(1, 10**9)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (flag, problem, where to look), exit 2."""

    def error(self, message: str):
        self.exit(EXIT_INPUT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_at_least_2 = _int_in(2, 2**20, " (the heads use BatchNorm, which needs 2)")


class _Renamed(argparse.Action):
    """A flag also accepted under its old name (its second option string), with a one-line warning."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string != self.option_strings[0]:
            warnings.warn(
                f"{option_string} is now {self.option_strings[0]}; the old name will go.", FutureWarning, stacklevel=2
            )
        setattr(namespace, self.dest, values)


DEVICE_HELP = "auto (a CUDA GPU when usable, else cpu), cpu, cuda or cuda:N"
PATCH2LOC_ONLY = "Patch2Loc only: ignored with another --method (the others reconstruct whole slices in fp32)"


def build_parser() -> argparse.ArgumentParser:
    from patch2loc.bids.command import add_parser as add_bids_parser
    from patch2loc.bundle.export import cmd_export
    from patch2loc.methods import DEFAULT_METHOD, METHODS, TRAINED
    from patch2loc.methods.train_command import cmd_train
    from patch2loc.predict import cmd_predict

    others = ", ".join(m for m in TRAINED if m != DEFAULT_METHOD)  # the registry's other trained methods

    parser = OneLineParser(
        prog="patch2loc",
        description=("Patch2Loc: unsupervised brain-lesion detection by predicting where a patch comes from."),
    )
    sub = parser.add_subparsers(dest="command", required=True)

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
    t.add_argument("--steps", type=_int_in(1, 10**8), help="training steps (default: the method's; Patch2Loc 15000)")
    t.add_argument(
        "--patches",
        type=_at_least_2,
        dest="patches_per_step",
        help="Patch2Loc: patches per step, 2 to 1048576 (default 8096)",
    )
    t.add_argument(
        "--lr", type=_finite_float(positive=True), help="learning rate (default: the method's; Patch2Loc 1e-2)"
    )
    t.add_argument("--seed", type=_int_in(0, 2**63 - 2), help="random seed (default 3141)")
    t.add_argument("--device", help=DEVICE_HELP + " (default auto)")
    t.add_argument(
        "--modality",
        help="modality of the scans (e.g. T1, T2): recorded in the checkpoints, "
        "so that predict refuses scans of another modality",
    )
    t.add_argument("--amp", choices=("none", "bf16", "fp16"), help="mixed precision (default none)")
    t.add_argument(
        "--val-every", type=_positive_int, help="steps between validations (default: the method's; Patch2Loc 500)"
    )
    t.add_argument("--num-threads", type=_int_in(1, 1024), help="torch CPU threads")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser(
        "export",
        help="a finished run's model as a self-contained bundle (.zip or folder)",
        description="Write everything `patch2loc predict --model` needs (every fold's weights and "
        "threshold, the Nyul landmarks, the atlas, the preprocessing, normalisation and "
        "heatmap settings, a manifest with the sha256 of every member) to --out.",
    )
    e.add_argument("run", metavar="RUN_DIR", help="the run folder (results/<run_name>)")
    e.add_argument("--modality", required=True, choices=("T1", "T2"), help="the model to export")
    e.add_argument("--out", required=True, help="the bundle: a .zip file, or else a new folder")
    e.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        choices=list(METHODS),
        help=f"the trained method whose models (and thresholds) are exported: {DEFAULT_METHOD} (default), "
        f"{others}; a method without a model (Thresh) is refused",
    )
    e.add_argument("--folds", type=_int_in(0, 99), nargs="+", help="only these folds (default: the run's folds)")
    e.add_argument("--quiet", action="store_true", help="no message")
    e.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "predict",
        help="anomaly heatmaps, lesion masks and summaries of scans",
        description="Score every voxel of one or more scans: the (median-filtered, masked) "
        "anomaly score as NIfTI, a lesion mask at a threshold with a component "
        "summary (JSON/CSV) and, with --from-run, the same on the scan's own grid.",
    )
    p.add_argument(
        "--image",
        required=True,
        action="append",
        help="a scan (NIfTI; with --from-run a raw scan or a DICOM series folder), a folder of "
        "scans, or a csv with columns image[,mask[,seg]]; repeat for more",
    )
    p.add_argument(
        "--mask",
        help="brain mask of a single --image (NIfTI); with --from-run the raw scan's "
        "brain mask (omit it to skull-strip with HD-BET)",
    )
    p.add_argument(
        "--seg",
        help="ground-truth lesion mask of a single scan, on the scan's own grid: the "
        "summary then holds AUPRC, best Dice and Dice at the threshold",
    )
    p.add_argument(
        "--method",
        choices=list(METHODS),
        help=f"the method whose models score the scans: {DEFAULT_METHOD} (default), {others} (the "
        "workflow's other trained methods; their checkpoints, run folds and thresholds). With "
        "--model the bundle's own method (a different --method is refused). A method without a "
        "model (Thresh) is refused",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        help="best.pt from patch2loc train (or the workflow's DAE training, with --method DAE); repeat "
        "to ensemble (default with --from-run: every fold's best.pt of the modality and method)",
    )
    p.add_argument(
        "--folds", type=_int_in(0, 99), nargs="+", help="with --from-run or --model: only these folds' models"
    )
    p.add_argument(
        "--from-run",
        metavar="RUN_DIR",
        help="preprocess raw native-space scans first, exactly like the run's data "
        "(results/<run>: its atlas, settings and Nyul landmarks); outputs in atlas space "
        "and on the scan's own grid",
    )
    p.add_argument(
        "--model",
        metavar="BUNDLE",
        help="a model bundle from patch2loc export (.zip or folder): like --from-run, with everything "
        "the run would give carried in the bundle (raw scans, outputs in atlas and native space), "
        "scored with the bundle's method",
    )
    p.add_argument(
        "--modality",
        choices=("T1", "T2"),
        help="modality of the scans; with --from-run also which landmarks and models to use. A "
        "checkpoint trained on another modality is refused (see --allow-mismatch)",
    )
    p.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="only warn when a checkpoint was trained on another modality or volume grid",
    )
    p.add_argument(
        "--skull-strip",
        default="auto",
        choices=("auto", "mask", "hdbet", "none"),
        help="with --from-run, as the workflow's skull_strip: mask = the given brain masks "
        "(provided), hdbet = HD-BET, none = already stripped (brain = voxels > 0); "
        "auto = the mask when given, else HD-BET",
    )
    p.add_argument(
        "--threshold",
        type=_finite_float(),
        help="lesion-mask threshold on the score (default: the run's unsupervised threshold, "
        "the healthy-IXI 98th percentile, averaged over the folds used)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="output heatmap (.nii.gz) of a single scan, or a folder (one set of outputs per scan)",
    )
    p.add_argument("--png", help="overview figure (.png) of a single scan (in an --out folder: <id>.png)")
    p.add_argument(
        "--html",
        help="interactive viewer (.html, opens offline in a browser) of a single scan: "
        "scan, score overlay with a threshold slider, --seg outline",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="with an --out folder: redo scans whose outputs exist (default: skip them)",
    )
    p.add_argument(
        "--stride",
        type=_int_in(1, MAX_STRIDE),
        default=1,
        help=f"in-plane stride, 1 to {MAX_STRIDE} and below the slice size; >1 is upsampled bilinearly "
        f"({PATCH2LOC_ONLY})",
    )
    p.add_argument(
        "--batch-size",
        type=_int_in(1, MAX_BATCH),
        default=8192,
        help=f"patches per forward pass, 1 to {MAX_BATCH} ({PATCH2LOC_ONLY})",
    )
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--amp",
        default="auto",
        choices=("auto", "bf16", "fp16", "none"),
        help=f"encoder precision (auto: bf16/fp16 on GPU, bf16 on CPUs with native bf16; {PATCH2LOC_ONLY})",
    )
    p.add_argument(
        "--centres",
        "--region",
        default="dilated",
        choices=("dilated", "mask", "all"),
        action=_Renamed,
        help=f"patch centres to score (dilated: brain + median_size//2, same result as all; "
        f"{PATCH2LOC_ONLY}; --region is its old name)",
    )
    p.add_argument("--no-postprocess", action="store_true", help="write the raw score (no median, no mask)")
    p.add_argument(
        "--median-size",
        type=_int_in(1, MAX_MEDIAN, " (the cost grows with its cube)"),
        default=None,
        help=f"3D median filter side, 1 to {MAX_MEDIAN} and at most the slice size (default: the "
        "run's heatmap.median_size with --from-run, since its threshold was taken after that "
        "filter; else 7)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="score a scan whose in-brain intensities lie outside the scale the model was trained on "
        "(refused by default: the heatmap would be meaningless), with a warning",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_predict)
    add_bids_parser(sub)
    return parser
