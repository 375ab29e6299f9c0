"""What every command's parser shares: the flags' types (each bound from ranges.py, the bounds every
other setting has), the one-line usage error, and help phrases used by several
commands. Each command's flags live beside the command (its `add_parser(sub)`); cli/parser.py
gathers them."""

from __future__ import annotations

import argparse
import math
import re

from patch2loc.errors import EXIT_INPUT_ERROR


def int_in(low: int, high: int, why: str = ""):
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


def input_name(text: str) -> str:
    """argparse type: a model input's name (T1, T2, or one of config `inputs` such as T1T2)."""
    if not re.fullmatch(r"[A-Za-z0-9]{1,16}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a model input's name (T1, T2, or e.g. T1T2: letters, digits)"
        )
    return text


def contrast_file(text: str) -> tuple[str, str]:
    """argparse type: CONTRAST=FILE (e.g. T2=sub-01_T2w.nii.gz) -> (contrast, file)."""
    name, sep, path = text.partition("=")
    if not sep or not path or not re.fullmatch(r"[A-Za-z0-9]{1,16}", name):
        raise argparse.ArgumentTypeError(f"{text!r} is not CONTRAST=FILE (e.g. T2=sub-01_T2w.nii.gz)")
    return name, path


def finite_float(positive: bool = False):
    """argparse type: a finite number (and > 0 when `positive`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value) or (positive and value <= 0):
            raise argparse.ArgumentTypeError(f"must be a finite number{' > 0' if positive else ''}, got {text}")
        return value

    return parse


positive_int = int_in(1, 10**9)
at_least_2 = int_in(2, 2**20, " (the heads use BatchNorm, which needs 2)")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (flag, problem, where to look), exit 2."""

    def error(self, message: str):
        self.exit(EXIT_INPUT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


DEVICE_HELP = "auto (a CUDA GPU when usable, else cpu), cpu, cuda or cuda:N"
PATCH2LOC_ONLY = "Patch2Loc only: ignored with another --method (the others reconstruct whole slices in fp32)"
