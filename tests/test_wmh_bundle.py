"""A WMH Dataverse bundle cut off at the zip limit: MANIFEST.TXT is read, the left-out files the run
needs are fetched one by one from the loopback server (resume, checksum, db), or the run stops with
one line; nothing is arranged until every subject is complete."""
from __future__ import annotations

import hashlib
import json

import pytest

from patch2loc.data.dataverse import complete_bundle, read_manifest
from patch2loc.data.download import read_checksums, sha256sum
from patch2loc.data.wmh import arrange
from patch2loc.io import InputError
from patch2loc.rehearsal.server import FileServer

FILES = {  # path in the bundle -> content; ids as Dataverse numbers them
    "training/Utrecht/0/wmh.nii.gz": b"u-wmh", "training/Utrecht/0/pre/T1.nii.gz": b"u-t1" * 900,
    "training/Utrecht/0/pre/FLAIR.nii.gz": b"u-flair",
    "training/Amsterdam/GE3T/100/wmh.nii.gz": b"g-wmh", "training/Amsterdam/GE3T/100/pre/T1.nii.gz": b"g-t1",
    "training/Amsterdam/GE3T/100/pre/FLAIR.nii.gz": bytes(range(256)) * 300,
    "test/Amsterdam/GE1T5/137/wmh.nii.gz": b"t-wmh", "test/Amsterdam/GE1T5/137/pre/T1.nii.gz": b"t-t1",
    "test/Amsterdam/GE1T5/137/pre/FLAIR.nii.gz": b"t-flair",
    "additional_annotations/o3/Utrecht/0/wmh.nii.gz": b"o3", "readme.pdf": b"%PDF-1.4",
}
LEFT_OUT = ("training/Amsterdam/GE3T/100/pre/FLAIR.nii.gz", "test/Amsterdam/GE1T5/137/pre/FLAIR.nii.gz")
IDS = {path: 9000 + i for i, path in enumerate(FILES)}


def _manifest() -> str:
    lines = []
    for path, data in FILES.items():
        name = path.rsplit("/", 1)[-1]
        if path in LEFT_OUT:
            lines.append(f"{name} (application/gzip) skipped because the total size of the download bundle "
                         "exceeded the limit of 1000 bytes.")
        else:
            lines.append(f"{path} (application/gzip) {len(data)} bytes.")
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture
def bundle(tmp_path):
    """The unpacked, cut-off bundle under raw/WMH/_archive, and the server's side of the dataset."""
    archive, served = tmp_path / "raw" / "WMH" / "_archive", tmp_path / "served"
    for path, data in FILES.items():
        if path not in LEFT_OUT:
            (archive / path).parent.mkdir(parents=True, exist_ok=True)
            (archive / path).write_bytes(data)
        (served / "datafile").mkdir(parents=True, exist_ok=True)
        (served / "datafile" / str(IDS[path])).write_bytes(data)
    (archive / "MANIFEST.TXT").write_text(_manifest())
    listing = {"status": "OK", "data": [
        {"label": p.rsplit("/", 1)[-1], "directoryLabel": p.rsplit("/", 1)[0] if "/" in p else None,
         "dataFile": {"id": IDS[p], "filesize": len(d), "checksum": {"type": "MD5", "value": hashlib.md5(d).hexdigest()}}}
        for p, d in FILES.items()]}
    (served / "files.json").write_text(json.dumps(listing))
    return archive, served


def _complete(archive, server, **kw):
    return complete_bundle(archive, needed=("training",), checksum_db=archive.parents[1] / "checksums.tsv",
                           listing=server.url("files.json"), access=server.url("datafile/{id}"), **kw)


def test_manifest_names_what_was_left_out(bundle):
    manifest = read_manifest(bundle[0] / "MANIFEST.TXT")
    assert manifest.left_out == ("FLAIR.nii.gz", "FLAIR.nii.gz") and len(manifest.included) == len(FILES) - 2


def test_left_out_files_are_fetched_one_by_one_then_arranged(bundle):
    archive, served = bundle
    needed = LEFT_OUT[0]
    with FileServer(served, interrupt=(f"datafile/{IDS[needed]}",)) as server:
        with pytest.raises(InputError, match="interrupted.*resume"):  # the transfer breaks half-way
            _complete(archive, server)
        assert (archive / (needed + ".part")).exists() and not (archive / needed).exists()
        fetched = _complete(archive, server)  # the rule's retry: resumed with Range
        requests = dict(server.requests)
    assert fetched == [archive / needed] and (archive / needed).read_bytes() == FILES[needed]
    assert requests == {"files.json": 2, f"datafile/{IDS[needed]}": 2}  # the test/ file is not fetched
    db = read_checksums(archive.parents[1] / "checksums.tsv")
    assert db == {f"WMH/_archive/{needed}": sha256sum(archive / needed)}
    root = archive.parent
    assert arrange(archive, root) == 2
    assert sorted(p.relative_to(root).as_posix() for p in root.glob("*/*/wmh.nii.gz")) == [
        "GE3T/100/wmh.nii.gz", "Utrecht/0/wmh.nii.gz"]
    assert (archive / "test" / "Amsterdam" / "GE1T5" / "137").is_dir()  # test/ stays unless asked for
    assert (archive / "additional_annotations" / "o3" / "Utrecht" / "0" / "wmh.nii.gz").exists()
    assert arrange(archive, root) == 0  # a rerun: already arranged


def test_a_corrupted_file_is_caught_by_the_listing_checksum(bundle):
    archive, served = bundle
    needed = LEFT_OUT[0]
    with FileServer(served, corrupt=(f"datafile/{IDS[needed]}",)) as server:
        with pytest.raises(InputError, match="md5 .* differs from the value pinned in the file listing"):
            _complete(archive, server)
        assert not (archive / needed).exists()
        _complete(archive, server)
    assert (archive / needed).read_bytes() == FILES[needed]


def test_without_a_listing_the_run_stops_with_one_line_and_nothing_arranged(bundle):
    archive, _ = bundle
    with pytest.raises(InputError) as err:
        complete_bundle(archive, needed=("training",), checksum_db=archive / "db.tsv", listing=None, access=None,
                        page="https://doi.org/10.34894/AECRSD")
    message = str(err.value)
    assert "\n" not in message and "left out 2 file(s) (FLAIR.nii.gz)" in message
    assert "https://doi.org/10.34894/AECRSD" in message
    root = archive.parent
    with pytest.raises(InputError, match=r"1 file\(s\) of the WMH subjects are missing \(training/Amsterdam/GE3T/100/"
                                         r"pre/FLAIR.nii.gz\).*nothing was arranged"):
        arrange(archive, root)
    assert not list(root.glob("*/*/wmh.nii.gz"))  # not even the complete Utrecht subject moved


def test_the_test_set_is_arranged_when_asked_for(bundle):
    archive, served = bundle
    with FileServer(served) as server:
        complete_bundle(archive, needed=("training", "test"), checksum_db=archive.parents[1] / "checksums.tsv",
                        listing=server.url("files.json"), access=server.url("datafile/{id}"))
    assert arrange(archive, archive.parent, ("training", "test")) == 3
    assert (archive.parent / "GE1T5" / "137" / "pre" / "FLAIR.nii.gz").read_bytes() == b"t-flair"


def test_a_subject_whose_reference_mask_was_left_out_is_not_skipped(bundle):
    archive, _ = bundle
    (archive / "training/Amsterdam/GE3T/100/pre/FLAIR.nii.gz").write_bytes(b"arrived")
    (archive / "training/Utrecht/0/wmh.nii.gz").unlink()  # its subject folder has no wmh.nii.gz now
    with pytest.raises(InputError, match=r"\(training/Utrecht/0/wmh.nii.gz\).*nothing was arranged"):
        arrange(archive, archive.parent)
    assert not list(archive.parent.glob("*/*/pre"))


def test_files_put_in_place_by_hand_are_not_fetched_again(bundle):
    archive, served = bundle
    for path in LEFT_OUT:
        (archive / path).write_bytes(FILES[path])
    with FileServer(served) as server:
        assert _complete(archive, server) == []
        assert dict(server.requests) == {"files.json": 1}
