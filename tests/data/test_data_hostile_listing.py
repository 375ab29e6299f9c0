"""A hostile WMH file listing (Dataverse JSON): bounded before parsing (bytes, nesting)
and parsed into checked types; a hostile listing is one line naming the URL (and the file entry),
never a RecursionError or TypeError, and nothing is downloaded. Served by the loopback FileServer."""

from __future__ import annotations

import json
import time

import pytest

from patch2loc.data import dataverse
from patch2loc.data.dataverse import parse_listing, read_listing
from patch2loc.data.wmh import fetch_subjects
from patch2loc.errors import InputError
from rehearsals.real.server import FileServer

GOOD = {
    "label": "wmh.nii.gz",
    "directoryLabel": "training/Utrecht/0",
    "dataFile": {"id": 5, "filename": "wmh.nii.gz", "checksum": {"type": "SHA-1", "value": "ab" * 20}},
}


def _entry(**datafile) -> dict:
    return {**GOOD, "dataFile": {**GOOD["dataFile"], **datafile}}


def _serve(tmp_path, text: str | bytes):
    root = tmp_path / "served"
    root.mkdir(exist_ok=True)
    (root / "files.json").write_bytes(text.encode() if isinstance(text, str) else text)
    return FileServer(root, max_requests=5, lifetime=60)


def _refused(tmp_path, text, word: str) -> str:
    with _serve(tmp_path, text) as server, pytest.raises(InputError, match=word) as err:
        read_listing(server.url("files.json"))
    message = str(err.value)
    assert "\n" not in message and "files.json" in message
    return message


def test_a_deeply_nested_listing_is_refused_before_parsing(tmp_path):
    """300,000 nested lists made json.loads raise RecursionError ("a bug in patch2loc")."""
    _refused(tmp_path, "[" * 300_000 + "]" * 300_000, "nested more than 32 levels")
    _refused(tmp_path, '{"data": ' + '{"a": ' * 40 + "1" + "}" * 41, "nested more than 32 levels")


def test_a_listing_beyond_the_byte_limit_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(dataverse, "MAX_LISTING_BYTES", 1000)
    _refused(tmp_path, json.dumps({"data": [GOOD] * 20}), "more than 1,000 bytes")


@pytest.mark.parametrize(
    "listing, word",
    [
        ({"data": "files"}, "no list of files"),
        ([GOOD], "no list of files"),
        ({"data": {"latestVersion": []}}, "no list of files"),
        ({"data": [7]}, "file 1: no `dataFile` object"),
        ({"data": [GOOD, _entry(id="12")]}, r"file 2: `dataFile.id` '12' is not a whole number"),
        ({"data": [_entry(id=True)]}, "is not a whole number"),
        ({"data": [{**GOOD, "label": 5}]}, "`label` is a int, not text"),
        ({"data": [{**GOOD, "directoryLabel": ["a"]}]}, "`directoryLabel` is a list"),
        ({"data": [{"dataFile": {"id": 1}}]}, "no `label` or `dataFile.filename`"),
        ({"data": [_entry(checksum="sha1:ab")]}, "`checksum` is not"),
        ({"data": [_entry(checksum={"type": "SHA-1", "value": 7})]}, "`checksum` is not"),
    ],
)
def test_wrong_types_are_one_line_naming_the_entry(listing, word):
    with pytest.raises(InputError, match=word) as err:
        parse_listing(listing, "https://example.org/files")
    assert str(err.value).startswith("https://example.org/files: ") and "\n" not in str(err.value)


@pytest.mark.parametrize("kind", ["SHAKE-128", "CRC32", "UNF"])
def test_a_checksum_type_that_cannot_be_verified_stops_the_listing_before_any_download(tmp_path, kind):
    entry = _entry(checksum={"type": kind, "value": "ab" * 16})
    text = json.dumps({"data": [entry, {**entry, "label": "T1.nii.gz", "directoryLabel": "training/Utrecht/0/pre"}]})
    with _serve(tmp_path, text) as server, pytest.raises(InputError, match="cannot be verified") as err:
        fetch_subjects(
            ["Utrecht_0"],
            tmp_path / "raw" / "WMH",
            splits=("training",),
            listing=server.url("files.json"),
            access=server.url("datafile/{id}"),
            checksum_db=tmp_path / "raw" / "checksums.tsv",
        )
    assert "file 1" in str(err.value) and server.requests["datafile/5"] == 0
    assert not (tmp_path / "raw").exists()


def test_a_trickling_listing_is_cut_off_at_the_deadline(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    (root / "files.json").write_text(json.dumps({"data": [GOOD]}))
    with FileServer(root, trickle=("files.json",), trickle_s=0.2, max_requests=5, lifetime=60) as server:
        start = time.monotonic()
        with pytest.raises(InputError, match=r"did not arrive within 1 s \(config download.deadline_s\)"):
            read_listing(server.url("files.json"), timeout=60, deadline=1)
    assert time.monotonic() - start < 20  # a hang guard on a loaded machine; without the deadline: minutes


def test_a_listing_that_is_not_utf8_or_not_json_is_one_line(tmp_path):
    _refused(tmp_path, b'{"data": [\xff]}', "could not be read")
    _refused(tmp_path, '{"data": [', "could not be read")


def test_the_real_shapes_still_parse():
    for listing in ({"data": [GOOD]}, {"data": {"files": [GOOD]}}, {"data": {"latestVersion": {"files": [GOOD]}}}):
        [f] = parse_listing(listing)
        assert (f.path, f.id, f.checksum) == ("training/Utrecht/0/wmh.nii.gz", 5, "sha1:" + "ab" * 20)
