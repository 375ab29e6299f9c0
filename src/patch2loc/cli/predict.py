"""`patch2loc predict`: its flags and its edge, where they become one frozen request for
predict's driver (predict/driver.py). The flags' defaults are read from PredictRequest's fields
(predict/request.py), their one home."""

from __future__ import annotations

import argparse

from patch2loc.checks.flags import DEVICE_HELP, PATCH2LOC_ONLY, contrast_file, finite_float, input_name, int_in
from patch2loc.checks.ranges import MAX_BATCH, MAX_MEDIAN, MAX_STRIDE
from patch2loc.registry import DEFAULT_METHOD, METHODS, TRAINED
from patch2loc.predict.driver import predict
from patch2loc.predict.request import PredictRequest, defaults

DEFAULTS = defaults(PredictRequest)


def cmd_predict(args: argparse.Namespace) -> int:
    """The command line's edge: its arguments become one frozen request, and only that travels."""
    return predict(PredictRequest.from_args(args))


def add_parser(sub) -> None:
    """The `predict` command's flags, beside its command (in --help's order)."""
    p = sub.add_parser(
        "predict",
        help="anomaly heatmaps, lesion masks and summaries of scans",
        description="Score every voxel of one or more scans: the (median-filtered, masked) "
        "anomaly score as NIfTI, a lesion mask at a threshold with a component "
        "summary (JSON/CSV) and, with --from-run, the same on the scan's own grid.",
    )
    for add in (_scans, _models, _outputs, _scoring):
        add(p)
    p.set_defaults(func=cmd_predict)


def _scans(p) -> None:
    """What is scored: the scans, their brain masks, their lesion masks."""
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


def _models(p) -> None:
    """Which models score them: the method, checkpoints, a run or a bundle, the modality."""
    others = ", ".join(m for m in TRAINED if m != DEFAULT_METHOD)  # the registry's other trained methods
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
        "--folds", type=int_in(0, 99), nargs="+", help="with --from-run or --model: only these folds' models"
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
        type=input_name,
        help="modality of the scans (T1, T2, or a model input of several contrasts of the run's config "
        "`inputs`, e.g. T1T2); with --from-run also which landmarks and models to use. A "
        "checkpoint trained on another modality is refused (see --allow-mismatch)",
    )
    p.add_argument(
        "--contrast",
        type=contrast_file,
        action="append",
        metavar="CONTRAST=FILE",
        help="a model of several contrasts (e.g. T1T2): the raw scan of each contrast after the first, "
        "e.g. --contrast T2=sub-01_T2w.nii.gz; --image is the first (reference) contrast's scan, on "
        "whose grid the outputs lie. One subject per call",
    )
    p.add_argument(
        "--contrast-mask",
        type=contrast_file,
        action="append",
        metavar="CONTRAST=FILE",
        help="the brain mask of a --contrast scan, on its own grid (needed when --mask is given)",
    )
    p.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="only warn when a checkpoint was trained on another modality or volume grid",
    )


def _outputs(p) -> None:
    """Skull stripping, the threshold and what is written."""
    p.add_argument(
        "--skull-strip",
        default=DEFAULTS["skull_strip"],
        choices=("auto", "mask", "hdbet", "none"),
        help="with --from-run, as the workflow's skull_strip: mask = the given brain masks "
        "(provided), hdbet = HD-BET, none = already stripped (brain = voxels > 0); "
        "auto = the mask when given, else HD-BET",
    )
    p.add_argument(
        "--threshold",
        type=finite_float(),
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


def _scoring(p) -> None:
    """How the score is computed and post-processed."""
    p.add_argument(
        "--stride",
        type=int_in(1, MAX_STRIDE),
        default=DEFAULTS["stride"],
        help=f"in-plane stride, 1 to {MAX_STRIDE} and below the slice size; >1 is upsampled bilinearly "
        f"({PATCH2LOC_ONLY})",
    )
    p.add_argument(
        "--batch-size",
        type=int_in(1, MAX_BATCH),
        default=DEFAULTS["batch_size"],
        help=f"patches per forward pass, 1 to {MAX_BATCH} ({PATCH2LOC_ONLY})",
    )
    p.add_argument("--device", default=DEFAULTS["device"], help=DEVICE_HELP)
    p.add_argument(
        "--amp",
        default=DEFAULTS["amp"],
        choices=("auto", "bf16", "fp16", "none"),
        help=f"encoder precision (auto: bf16/fp16 on GPU, bf16 on CPUs with native bf16; {PATCH2LOC_ONLY})",
    )
    p.add_argument(
        "--centres",
        default=DEFAULTS["centres"],
        choices=("dilated", "mask", "all"),
        help=f"patch centres to score (dilated: brain + median_size//2, same result as all; {PATCH2LOC_ONLY})",
    )
    p.add_argument("--no-postprocess", action="store_true", help="write the raw score (no median, no mask)")
    p.add_argument(
        "--median-size",
        type=int_in(1, MAX_MEDIAN, " (the cost grows with its cube)"),
        default=DEFAULTS["median_size"],
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
    p.add_argument(
        "--skip-tissue-order",
        action="store_true",
        help="a model of several contrasts: warn, not refuse, when a channel's tissue order is not its "
        "contrast's (CSF darker than white matter on T1, brighter on T2), for an unusual sequence",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
