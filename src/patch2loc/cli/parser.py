"""The command line's parser: the root `patch2loc` and its commands `train`, `predict`, `export`
and `bids`. Each command's module here holds its flags (its `add_parser(sub)`) and its call of the library; the flags'
shared types and the one-line usage error are in checks/flags.py."""

from __future__ import annotations

import argparse

from patch2loc.checks.flags import OneLineParser
from patch2loc.cli.bids import add_parser as add_bids_parser
from patch2loc.cli.export import add_parser as add_export_parser
from patch2loc.cli.predict import add_parser as add_predict_parser
from patch2loc.cli.train import add_parser as add_train_parser


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="patch2loc",
        description=("Patch2Loc: unsupervised brain-lesion detection by predicting where a patch comes from."),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (add_train_parser, add_export_parser, add_predict_parser, add_bids_parser):
        add(sub)
    return parser
