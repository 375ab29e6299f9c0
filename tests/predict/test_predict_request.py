"""predict's request: the parsed arguments become one frozen, typed request at the
edge; nothing below `cli/predict.py:cmd_predict` sees argparse, and nothing changes the request."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pytest
from tests.helpers.safety import make_case, predict_argv

from patch2loc import cli
from patch2loc.cli.parser import build_parser
from patch2loc.predict.request import PredictRequest

SRC = Path(cli.__file__).resolve().parents[1]  # src/patch2loc: cli is a package


def test_the_request_defaults_are_the_parsers():
    args = build_parser().parse_args(["predict", "--image", "a.nii.gz", "--out", "o.nii.gz"])
    request = PredictRequest(image=("a.nii.gz",), out="o.nii.gz")
    assert PredictRequest.from_args(args) == request
    parser_dests = {k for k in vars(args) if k not in ("command", "func")}
    assert parser_dests == {f.name for f in dataclasses.fields(PredictRequest)}  # no flag left behind


def test_the_request_is_frozen():
    request = PredictRequest(image=("a.nii.gz",), out="o.nii.gz", checkpoint=("m.pt",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.modality = "T1"
    assert isinstance(request.checkpoint, tuple)


def _calls_with(kind, argv) -> dict[str, set[str]]:
    """module (relative to the package) -> functions called with an argument of `kind`."""
    seen: dict[str, set[str]] = {}

    def profile(frame, event, arg):
        if event != "call":
            return
        path = Path(frame.f_code.co_filename)
        if not path.is_relative_to(SRC):
            return
        code = frame.f_code
        args = [frame.f_locals.get(name) for name in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]]
        if any(isinstance(a, kind) for a in args):
            seen.setdefault(str(path.relative_to(SRC)), set()).add(code.co_name)

    sys.setprofile(profile)
    try:
        code = cli.main(argv)
    finally:
        sys.setprofile(None)
    assert code == 0
    return seen


def test_no_function_below_the_edge_receives_argparse_and_the_request_visits_few_modules(tmp_path):
    c = make_case(tmp_path / "in")
    argv = predict_argv(c, tmp_path / "out" / "h.nii.gz", "--threshold", "3")
    namespace = _calls_with(argparse.Namespace, argv)
    # the edge: the command and the request's constructor; main() makes the Namespace itself
    edge = {"cli/predict.py": {"cmd_predict"}, "predict/request.py": {"from_args", "from_namespace"}}
    assert namespace == edge, namespace
    request = _calls_with(PredictRequest, predict_argv(c, tmp_path / "out2" / "h.nii.gz", "--threshold", "3"))
    assert len(request) < 10, request
    assert set(request) <= {"predict/driver.py"}, request  # below the driver each step gets its part
