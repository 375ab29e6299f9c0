"""`patch2loc bids BIDS_DIR OUTPUT_DIR participant|group`: its flags and its edge, where they become
one frozen request for the BIDS App (bids/app.py)."""

from __future__ import annotations

import argparse

from patch2loc.bids.app import bids
from patch2loc.bids.request import BidsRequest
from patch2loc.predict.request import defaults


def cmd_bids(args: argparse.Namespace) -> int:
    """The command line's edge: its arguments become one frozen request, and only that travels."""
    return bids(BidsRequest.from_args(args))


def add_parser(sub) -> None:
    """The `bids` command's flags, beside its command."""
    b = sub.add_parser(
        "bids",
        help="a BIDS App: every fitting scan of a BIDS dataset in, BIDS derivatives out",
        description="BIDS App. participant: score every T1w or T2w scan that fits the bundle's "
        "modality and write BIDS-Derivatives into OUTPUT_DIR (skipping scans done before "
        "with the same inputs and settings). group: group_anomaly.tsv and report.html.",
    )
    b.add_argument("bids_dir", metavar="BIDS_DIR", help="the raw BIDS dataset (read only)")
    b.add_argument(
        "output_dir", metavar="OUTPUT_DIR", help="the derivatives dataset to write, e.g. BIDS_DIR/derivatives/patch2loc"
    )
    b.add_argument(
        "analysis_level",
        choices=("participant", "group"),
        help="participant: score scans; group: the table and report over them",
    )
    b.add_argument("--model", metavar="BUNDLE", help="the model bundle (patch2loc export), participant level")
    b.add_argument(
        "--participant-label", nargs="+", metavar="LABEL", help="only these participants (with or without sub-)"
    )
    b.add_argument("--session-label", nargs="+", metavar="LABEL", help="only these sessions (with or without ses-)")
    b.add_argument(
        "--bids-filter-file",
        metavar="FILE",
        help='JSON, fMRIPrep\'s form: {"t2w": {"acquisition": "highres"}} narrows the scans of that kind',
    )
    b.add_argument(
        "--mask-derivatives",
        metavar="DIR",
        help="a derivatives dataset with each scan's brain mask "
        "(desc-brain_mask); without one a scan is skull-stripped "
        "with HD-BET, as predict does",
    )
    b.add_argument(
        "--seg-derivatives",
        metavar="DIR",
        help="group level: a derivatives dataset with lesion masks (a desc containing 'lesion') for AUPRC and Dice",
    )
    b.add_argument("--device", default=defaults(BidsRequest)["device"], help="auto, cpu, cuda or cuda:N (as predict)")
    b.add_argument("--overwrite", action="store_true", help="redo scans done before (default: skip them)")
    b.add_argument(
        "--skip-tissue-order",
        action="store_true",
        help="a bundle of several contrasts: warn, not refuse, when a scan's tissue order is not its "
        "contrast's (as predict's flag), for an unusual sequence",
    )
    b.add_argument("--quiet", action="store_true", help="no progress output")
    b.set_defaults(func=cmd_bids)
