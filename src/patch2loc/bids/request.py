"""What one `patch2loc bids` call asks for: a frozen request made once at the edge (`cmd_bids`), as
predict's (predict/request.py). Nothing below `cli/bids.py:cmd_bids` reads argparse; the
participant level hands predict a `PredictRequest` of its own (adapter.py). Its field defaults are
the flags' defaults: the parser reads them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from patch2loc.predict.request import PredictRequest, from_namespace


@dataclass(frozen=True)
class BidsRequest:
    bids_dir: str
    output_dir: str
    analysis_level: str  # participant | group
    model: str | None = None  # a bundle (participant level)
    participant_label: tuple[str, ...] | None = None
    session_label: tuple[str, ...] | None = None
    bids_filter_file: str | None = None
    mask_derivatives: str | None = None
    seg_derivatives: str | None = None  # group level
    device: str = PredictRequest.device  # as predict's --device
    overwrite: bool = False
    skip_tissue_order: bool = False  # as predict's: a channel of the wrong tissue order is a warning
    quiet: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "BidsRequest":
        return from_namespace(cls, args)
