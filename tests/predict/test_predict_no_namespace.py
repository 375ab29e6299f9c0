"""predict's and the BIDS App's arguments: one frozen request each, made at the
edge (`cmd_predict`, `cmd_bids`); no module below the edge reads an argparse.Namespace, and nothing
changes a request while a call runs (what predict resolves gives a new one: predict/request.py).

Watched as the calls happen (sys.setprofile): every function of the package called with a
Namespace or a request among its arguments, and each request as it was when first seen."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import sys
from pathlib import Path

import pytest
from tests.helpers.safety import make_case, predict_argv

from patch2loc import cli
from patch2loc.bids.request import BidsRequest
from patch2loc.cli.parser import build_parser
from patch2loc.predict.request import PredictRequest

SRC = Path(cli.__file__).resolve().parents[1]  # src/patch2loc: cli is a package
REQUESTS = (PredictRequest, BidsRequest)
# the edges, where the parsed command line becomes a request: the only readers of a Namespace
EDGE = {
    "cli/predict.py": {"cmd_predict"},
    "predict/request.py": {"from_args", "from_namespace"},
    "cli/bids.py": {"cmd_bids"},
    "bids/request.py": {"from_args"},
}
# who takes predict's request: the command and the modules it hands the request to
TAKES_PREDICT_REQUEST = {"predict/driver.py"}  # the steps below take the parts they use


class _Watch:
    """What the package's functions receive during one CLI call."""

    def __init__(self):
        self.namespace: dict[str, set[str]] = {}
        self.requests: dict[type, set[str]] = {kind: set() for kind in REQUESTS}
        self.first_seen: list[tuple[object, tuple]] = []  # (request, its fields then): kept alive, ids stay unique
        self._ids: set[int] = set()

    def __call__(self, frame, event, arg):
        if event != "call":
            return
        path = Path(frame.f_code.co_filename)
        if not path.is_relative_to(SRC):
            return
        code, module = frame.f_code, str(path.relative_to(SRC))
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        for value in (frame.f_locals.get(name) for name in names):
            if isinstance(value, argparse.Namespace):
                self.namespace.setdefault(module, set()).add(code.co_name)
            if isinstance(value, REQUESTS):
                self.requests[type(value)].add(module)
                if id(value) not in self._ids:
                    self._ids.add(id(value))
                    self.first_seen.append((value, dataclasses.astuple(value)))

    def run(self, argv: list[str]) -> int:
        sys.setprofile(self)
        try:
            return cli.main(argv)
        finally:
            sys.setprofile(None)

    def changed(self) -> list[str]:
        return [f"{request!r} was {then}" for request, then in self.first_seen if dataclasses.astuple(request) != then]


def test_predict_reads_the_namespace_only_at_its_edge_and_never_changes_a_request(tmp_path):
    c = make_case(tmp_path / "in")
    watch = _Watch()
    assert watch.run(predict_argv(c, tmp_path / "out" / "h.nii.gz", "--threshold", "3")) == 0
    assert set(watch.namespace) <= set(EDGE) and all(watch.namespace[m] <= EDGE[m] for m in watch.namespace), (
        watch.namespace
    )
    assert len(watch.first_seen) >= 2  # the parsed one and the resolved one (its median filter)
    assert watch.changed() == []
    assert watch.requests[PredictRequest] <= TAKES_PREDICT_REQUEST, watch.requests


@pytest.mark.slow
def test_the_bids_app_reads_the_namespace_only_at_its_edge_and_hands_predict_a_request(tmp_path, monkeypatch):
    pytest.importorskip("bids", reason="pybids is not installed (pip install 'patch2loc[bids]')")
    from tests.helpers.bids import SPACING, crop_prepare, make_bundle, participant_argv

    from patch2loc.bids.demo import write_demo_bids

    raw = write_demo_bids(tmp_path / "raw", spacing=SPACING)
    bundle = make_bundle(tmp_path / "model")
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", crop_prepare)
    watch = _Watch()
    out = raw / "derivatives" / "patch2loc"
    assert watch.run(participant_argv(raw, out, bundle, "--participant-label", "02")) == 0
    assert (out / "sub-02").is_dir()
    assert set(watch.namespace) <= set(EDGE) and all(watch.namespace[m] <= EDGE[m] for m in watch.namespace), (
        watch.namespace
    )
    assert watch.requests[BidsRequest] == {"bids/app.py"}
    # the BIDS App's one call into predict is a request (adapter.run_predict makes it), never an argv
    assert watch.requests[PredictRequest] <= TAKES_PREDICT_REQUEST, watch.requests
    assert "predict/driver.py" in watch.requests[PredictRequest]
    assert watch.changed() == []


def test_no_module_of_predict_or_bids_below_the_edge_names_argparse():
    """What the runs above may not reach: argparse imported, or a Namespace named, below the edge."""
    offenders = []
    for path in sorted([*SRC.glob("predict/*.py"), *SRC.glob("bids/*.py")]):
        module = str(path.relative_to(SRC))
        if module in EDGE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            imports = isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names)
            imports |= isinstance(node, ast.ImportFrom) and node.module == "argparse"
            if imports or (isinstance(node, (ast.Name, ast.Attribute)) and "Namespace" in ast.unparse(node)):
                offenders.append(f"{module}:{node.lineno}")
    assert offenders == []


def test_the_bids_request_defaults_are_the_parsers():
    args = build_parser().parse_args(["bids", "raw", "out", "participant", "--participant-label", "01"])
    assert BidsRequest.from_args(args) == BidsRequest("raw", "out", "participant", participant_label=("01",))
    parser_dests = {k for k in vars(args) if k not in ("command", "func")}
    assert parser_dests == {f.name for f in dataclasses.fields(BidsRequest)}  # no flag left behind


def test_a_request_cannot_be_changed():
    request = BidsRequest("raw", "out", "group")
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.quiet = True
