"""Hostile files for `patch2loc bids` (docs/input-safety.md "Round 4: the BIDS
App"): every JSON file the App reads (the input's and the derivatives' dataset_description.json,
mask sidecars, --bids-filter-file, OUTPUT_DIR's own description and sidecars) and the per-scan
components tables the group level reads back, poisoned: nested past the stack, sparse and huge,
or of the wrong JSON type. Each is one line naming the file and the key, exit 2, nothing written,
in under 7 s without reading the file whole (helpers.bids_hostile.refused)."""

from __future__ import annotations

import json
import os

import tests.helpers.bids_hostile as helpers
import pytest
from tests.helpers.bids_hostile import in_child, participant, refused

from patch2loc.bids import files
from patch2loc.bids.names import derivative_paths
from patch2loc.errors import InputError

pytest.importorskip("bids", reason="pybids is not installed (pip install 'patch2loc[bids]')")
built, case = helpers.built, helpers.case  # the fixtures
DEEP = "[" * 100_000  # json.loads: RecursionError ("a bug in patch2loc" before)
SUB02 = derivative_paths({"subject": "02", "suffix": "T2w"})


def _sparse(path, mb: int) -> None:
    """A file of `mb` MB that takes no disk: what a reader must refuse from its size."""
    with open(path, "wb") as f:
        f.truncate(mb << 20)


def _edit(path, change) -> None:
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))


# (file, content: text, a dict edit, or a sparse size in MB, the words the line must hold)
RAW_DESC, MASK_DESC = "raw/dataset_description.json", "raw/derivatives/masks/dataset_description.json"
MASK_SIDECAR = "raw/derivatives/masks/sub-01/ses-1/anat/sub-01_ses-1_space-T2w_desc-brain_mask.json"
OUT_DESC, OUT_SIDECAR = "out/dataset_description.json", f"out/{SUB02['heatmap_json']}"
CASES = {
    "raw description nested": (RAW_DESC, DEEP, "nested more than 32 levels"),
    "raw description sparse": (RAW_DESC, 200, "bytes, more than the 1,048,576"),
    "raw DatasetType a number": (RAW_DESC, lambda d: d.update(DatasetType=5), '"DatasetType" must be a string'),
    "raw description a list": (RAW_DESC, "[]", "must hold a JSON object"),
    "mask DatasetType a list": (MASK_DESC, lambda d: d.update(DatasetType=["x"]), '"DatasetType" must be a string'),
    "mask sidecar Sources 5": (MASK_SIDECAR, lambda d: d.update(Sources=5), '"Sources" must be a list of strings'),
    "mask sidecar nested": (MASK_SIDECAR, '{"Sources": ' + DEEP, "nested more than 32 levels"),
    "output ModelBundle a string": (
        OUT_DESC,
        lambda d: d["GeneratedBy"][0].update(ModelBundle="x"),
        '"GeneratedBy[0].ModelBundle" must be an object',
    ),
    "output GeneratedBy an object": (
        OUT_DESC,
        lambda d: d.update(GeneratedBy=d["GeneratedBy"][0]),
        '"GeneratedBy" must be a list of objects',
    ),
    "output DatasetLinks a list": (OUT_DESC, lambda d: d.update(DatasetLinks=["x"]), '"DatasetLinks" must be an'),
    "output description nested": (OUT_DESC, DEEP, "nested more than 32 levels"),
    "output description sparse": (OUT_DESC, 200, "bytes, more than the 1,048,576"),
    "published RunFingerprint 5": (OUT_SIDECAR, lambda d: d.update(RunFingerprint=5), '"RunFingerprint" must be a'),
    "published sidecar nested": (OUT_SIDECAR, DEEP, "nested more than 32 levels"),
}


def _poison(base, rel, content) -> None:
    path = base / rel
    if callable(content):
        _edit(path, content)
    elif isinstance(content, int):
        _sparse(path, content)
    else:
        path.write_text(content)


@pytest.mark.parametrize("name", list(CASES))
def test_a_poisoned_json_file_is_one_line_naming_it(case, tmp_path, capsys, name):
    raw, bundle, out = case
    rel, content, needle = CASES[name]
    _poison(tmp_path, rel, content)
    line = refused(participant(raw, out, bundle), needle, tmp_path, capsys)
    assert str(tmp_path / rel) in line, line


FILTERS = {
    "a dict where a label belongs": ({"t2w": {"session": {"a": 1}}}, '"t2w.session" must be a label'),
    "a list where an object belongs": ({"t2w": ["x"]}, '"t2w" must be an object'),
    "nested": ('{"t2w": ' + DEEP, "nested more than 32 levels"),
    "sparse": (200, "bytes, more than the 1,048,576"),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_a_poisoned_filter_file_is_one_line_naming_it(case, tmp_path, capsys, name):
    raw, bundle, out = case
    content, needle = FILTERS[name]
    _poison(tmp_path, "filter.json", json.dumps(content) if isinstance(content, dict) else content)
    line = refused(
        participant(raw, out, bundle, "--bids-filter-file", str(tmp_path / "filter.json")), needle, tmp_path, capsys
    )
    assert "filter.json" in line


def test_a_pipe_is_refused_not_waited_on(case, tmp_path):
    """A FIFO named dataset_description.json: reading it would block for ever."""
    raw, bundle, out = case
    (out / "dataset_description.json").unlink()
    os.mkfifo(out / "dataset_description.json")
    rc, err, _ = in_child(participant(raw, out, bundle), timeout=60)
    assert rc == 2 and len(err) == 1 and "not a regular file" in err[0], err


# ---------------------------------------------------------------- 5. the per-scan tables the group level reads


def _table(out):
    return out / SUB02["components"]


def _cell(out, text):
    lines = _table(out).read_text().splitlines()
    cells = lines[1].split("\t")
    cells[2] = text
    _table(out).write_text("\n".join([lines[0], "\t".join(cells), *lines[2:]]) + "\n")


def _columns(out, change):
    lines = [line.split("\t") for line in _table(out).read_text().splitlines()]
    _table(out).write_text("".join("\t".join(change(cells)) + "\n" for cells in lines))


TABLES = {
    "a string for a number": (lambda out: _cell(out, "abc"), "line 2: must hold 8 numbers"),
    "nan": (lambda out: _cell(out, "nan"), "line 2: must hold 8 numbers"),
    "an extra column": (lambda out: _columns(out, lambda c: [*c, c[0]]), "must have the columns"),
    "a missing column": (lambda out: _columns(out, lambda c: c[:2] + c[3:]), "must have the columns"),
    "huge": (lambda out: _sparse(_table(out), 40), "bytes, more than the 16,777,216"),
    "a string Threshold": (
        lambda out: _edit(out / SUB02["heatmap_json"], lambda d: d.update(Threshold="x")),
        '"Threshold" must be a number',
    ),
    "Sources a number": (
        lambda out: _edit(out / SUB02["heatmap_json"], lambda d: d.update(Sources=5)),
        '"Sources" must be a list of strings',
    ),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_the_group_level_refuses_a_poisoned_per_scan_table(case, tmp_path, capsys, name):
    raw, _, out = case
    poison, needle = TABLES[name]
    poison(out)
    line = refused(["bids", str(raw), str(out), "group", "--quiet"], needle, tmp_path, capsys)
    assert "sub-02_space-native_desc-anomaly" in line
    assert not (out / "group_anomaly.tsv").exists() and not (out / "report.html").exists()


def test_the_bounded_reader_takes_what_fits_and_nothing_else(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"a": [1, 2]}')
    assert files.read_json(path, "a file") == {"a": [1, 2]}
    with pytest.raises(InputError, match=r"13 bytes, more than the 5 "):
        files.read_json(path, "a file", max_bytes=5)
    with pytest.raises(InputError, match="not a regular file"):
        files.read_json(tmp_path, "a file")
    assert files.field({"a": None}, "a", "number", path) is None
    with pytest.raises(InputError, match='"x.a" must be a number, not true/false'):
        files.field({"a": True}, "a", "number", path, "x")


def test_files_the_app_never_reads_cost_it_nothing(case, tmp_path, capsys):
    """participants.tsv and the scans' own sidecars: pybids without its metadata index reads neither
    (a 1 GB sparse one of each; the refusal that follows indexing is still fast and small)."""
    raw, bundle, out = case
    _sparse(raw / "participants.tsv", 1024)
    _sparse(raw / "sub-02" / "anat" / "sub-02_T2w.json", 1024)
    refused(participant(raw, out, bundle, "--participant-label", "07"), "no participant sub-07", tmp_path, capsys)
