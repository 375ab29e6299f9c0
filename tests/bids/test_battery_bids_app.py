"""Hostile BIDS datasets given to the BIDS App (`patch2loc bids`): links out of the output folder and
loops, a scan name that is an HTML event handler, JSON nested past the recursion limit or of the wrong
types (dataset_description.json, filter files), and files the App never reads (a sidecar, participants
files, a 1 GB sparse sidecar), which must leave the run as the clean control's. Each case runs the App
in a child process (tests/helpers/hostile_child.py's judge). Slow: `make test-hostile`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers.hostile_child_fixture import Case
from tests.helpers.hostile_crafted import NESTED

pytestmark = pytest.mark.hostile
CLI = ["-m", "patch2loc.cli"]


# ---------------------------------------------------------------- the BIDS App


def _bids_copy(fix, folder: Path) -> tuple[Path, Path]:
    data, bundle = fix.bids
    copy = folder / "in" / "bids"
    shutil.copytree(data, copy, symlinks=True)
    return copy, bundle


def _bids_argv(data: Path, bundle: Path, folder: Path, *extra: str) -> list[str]:
    return [*CLI, "bids", str(data), str(folder / "out" / "p2l"), "participant", "--model", str(bundle),
            "--mask-derivatives", str(data / "derivatives" / "masks"), "--device", "cpu", "--quiet",
            "--participant-label", "02", *extra]  # fmt: skip


def _owned_out(fix, folder: Path, data: Path, bundle: Path) -> Path:
    """out/p2l as an earlier participant run leaves it (its dataset_description.json)."""
    from patch2loc.bids import adapter, publish
    from patch2loc.bids.description import link_for, write_dataset_files

    out = folder / "out" / "p2l"
    out.mkdir(parents=True)
    links = {publish.RAW: link_for(data, out, data)}
    write_dataset_files(out, adapter.bundle_info(bundle), links, bundle, None)  # None: no earlier description
    return out


def bids_link_subject(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    out = _owned_out(fix, folder, data, bundle)
    (folder / "victim").mkdir()
    os.symlink(folder / "victim", out / "sub-02")  # its derivatives would be written through it
    return _bids_argv(data, bundle, folder)


def bids_link_preprocessed(fix, folder):
    from patch2loc.bids.names import WORK

    data, bundle = _bids_copy(fix, folder)
    out = _owned_out(fix, folder, data, bundle)
    (folder / "victim").mkdir()
    (out / WORK).mkdir()
    os.symlink(folder / "victim", out / WORK / "sub-02_T1w_preprocessed")
    return _bids_argv(data, bundle, folder)


def bids_dot_links(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    os.symlink(".", data / "again")  # two folder links back to the dataset's root: an endless tree
    os.symlink("..", data / "sub-02" / "up")
    return _bids_argv(data, bundle, folder)


def bids_html_name(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    stem = 'sub-02_acq-x" onmouseover="alert(1)'
    for anat in (data / "sub-02" / "anat", data / "derivatives" / "masks" / "sub-02" / "anat"):
        for p in anat.glob("sub-02_*T1w*"):  # the scan, its sidecar, its brain mask and the mask's sidecar
            p.rename(anat / p.name.replace("sub-02", stem, 1))
    sidecar = next((data / "derivatives" / "masks" / "sub-02" / "anat").glob("*T1w_desc-brain_mask.json"))
    sidecar.write_text(sidecar.read_text(encoding="utf-8").replace("sub-02_T1w", stem + "_T1w"), encoding="utf-8")
    return _bids_argv(data, bundle, folder)


def _json_case(rel: str, text: str | None = None, obj=None, filter_file: bool = False):
    def build(fix, folder):
        data, bundle = _bids_copy(fix, folder)
        body = text if text is not None else json.dumps(obj)
        if filter_file:
            (folder / "in" / "filter.json").write_text(body, encoding="utf-8")
            return _bids_argv(data, bundle, folder, "--bids-filter-file", str(folder / "in" / "filter.json"))
        (data / rel).write_text(body, encoding="utf-8")
        return _bids_argv(data, bundle, folder)

    return build


def bids_sparse_sidecar(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    sidecar = data / "sub-02" / "anat" / "sub-02_T1w.json"
    with open(sidecar, "wb") as f:  # 1 GB, almost all of it a hole: '{"a": "' then zeros
        f.write(b'{"a": "')
        f.truncate(1 << 30)
    return _bids_argv(data, bundle, folder)


def bids_participants_tsv(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    (data / "participants.tsv").write_bytes(b'participant_id\tage\n\xff\xfe02\t{"nested": [1]}\n')
    return _bids_argv(data, bundle, folder)


# Files the App never reads: pybids indexes without its metadata index (index_metadata=False), so a
# scan's own sidecar, participants.tsv and participants.json are not opened. A crafted one must not
# change the run: exit 0 as the clean control, the file untouched, and no more time or memory than it.
UNREAD = {"expect": 0, "like": "bids_clean_control"}


CASES = [
    Case("bids_clean_control", "bids", lambda fix, folder: _bids_argv(*_bids_copy(fix, folder), folder), expect=0),
    Case("bids_link_at_subject", "bids", bids_link_subject, needle="link"),
    Case("bids_link_at_preprocessed", "bids", bids_link_preprocessed, needle="link"),
    Case("bids_two_links_to_dot", "bids", bids_dot_links, needle="link|loop"),
    Case("bids_html_event_handler_name", "bids", bids_html_name, needle="name|character"),
    Case(
        "bids_description_nested", "bids", _json_case("dataset_description.json", NESTED), needle="dataset_description"
    ),
    Case(
        "bids_description_types",
        "bids",
        _json_case("dataset_description.json", obj={"Name": ["x"], "BIDSVersion": 1.1, "DatasetType": {"raw": 1}}),
        needle="dataset_description",
    ),  # fmt: skip
    Case("bids_sidecar_nested", "bids", _json_case("sub-02/anat/sub-02_T1w.json", NESTED), **UNREAD),
    Case("bids_sidecar_types", "bids", _json_case("sub-02/anat/sub-02_T1w.json", obj=[1, "a"]), **UNREAD),
    Case("bids_filter_nested", "bids", _json_case("", NESTED, filter_file=True), needle="filter"),
    Case("bids_filter_types", "bids", _json_case("", obj={"t2w": ["highres"]}, filter_file=True), needle="filter"),
    Case("bids_participants_json_nested", "bids", _json_case("participants.json", NESTED), **UNREAD),
    Case("bids_participants_tsv_bytes", "bids", bids_participants_tsv, **UNREAD),
    Case("bids_sidecar_sparse_1gb", "bids", bids_sparse_sidecar, **UNREAD),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_passes(case, hostile_entry):
    """A refusal: exit 2, one line naming the file and the fix, nothing written or left, inputs unchanged, under 1.5 GB. A file the App never reads: the control's exit, time and memory."""
    hostile_entry.check(case, CASES, timeout=120.0)
