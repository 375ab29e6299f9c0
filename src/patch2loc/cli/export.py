"""`patch2loc export RUN --modality T2 [--method DAE] --out t2_model.zip`: its flags and its call of
the library's `bundle.export.export_bundle`."""

from __future__ import annotations

from patch2loc.bundle.export import export_bundle
from patch2loc.checks.flags import int_in
from patch2loc.registry import DEFAULT_METHOD, METHODS, TRAINED


def cmd_export(args) -> int:
    out = export_bundle(args.run, args.modality, args.out, args.method, args.folds)
    if not args.quiet:
        print(f"{out}: {args.method} {args.modality} bundle of {args.run}", flush=True)
    return 0


def add_parser(sub) -> None:
    """The `export` command's flags, beside its command."""
    others = ", ".join(m for m in TRAINED if m != DEFAULT_METHOD)  # the registry's other trained methods
    e = sub.add_parser(
        "export",
        help="a finished run's model as a self-contained bundle (.zip or folder)",
        description="Write everything `patch2loc predict --model` needs (every fold's weights and "
        "threshold, the Nyul landmarks, the atlas, the preprocessing, normalisation and "
        "heatmap settings, a manifest with the sha256 of every member) to --out.",
    )
    e.add_argument("run", metavar="RUN_DIR", help="the run folder (results/<run_name>)")
    e.add_argument(
        "--modality",
        required=True,
        help="the model to export: T1, T2, or a model input of several contrasts of the run's config "
        "`inputs` (e.g. T1T2: its bundle records the contrasts and carries each one's landmarks)",
    )
    e.add_argument("--out", required=True, help="the bundle: a .zip file, or else a new folder")
    e.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        choices=list(METHODS),
        help=f"the trained method whose models (and thresholds) are exported: {DEFAULT_METHOD} (default), "
        f"{others}; a method without a model (Thresh) is refused",
    )
    e.add_argument("--folds", type=int_in(0, 99), nargs="+", help="only these folds (default: the run's folds)")
    e.add_argument("--quiet", action="store_true", help="no message")
    e.set_defaults(func=cmd_export)
