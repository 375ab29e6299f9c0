"""WMH from DataverseNL, file by file: only the files the splits use (wmh.nii.gz, pre/T1.nii.gz) are
fetched through the per-file API, resumed after an interruption and checked against the listing's
SHA-1; folder names with spaces and dots; other observers' annotations never taken for a subject."""

from __future__ import annotations

import hashlib
import json

import pytest

from patch2loc.data.dataverse import parse_listing
from patch2loc.data.download import read_checksums, sha256sum
from patch2loc.data.layouts import list_subjects, raw_paths
from patch2loc.data.wmh import fetch_subjects, needed_files, site_name, subject_files
from patch2loc.errors import InputError
from rehearsals.real.server import FileServer

SUBJECT = ("wmh.nii.gz", "pre/T1.nii.gz", "pre/FLAIR.nii.gz", "orig/3DT1.nii.gz", "orig/FLAIR.nii.gz")
FOLDERS = {
    "training": ("Utrecht/0", "Amsterdam/GE3T/100", "Singapore/50"),
    "test": ("Amsterdam/Philips_VU .PETMR_01./160", "Amsterdam/GE1T5/150"),
}
FILES = {
    f"{split}/{folder}/{name}": f"{split}/{folder}/{name}".encode() * (50 if name.startswith("pre") else 3)
    for split, folders in FOLDERS.items()
    for folder in folders
    for name in SUBJECT
}
FILES.update(
    {  # the real names: observers' masks as result.nii.gz, and the worst case, one named like ours
        "additional_annotations/observer_o3/training/Utrecht/0/result.nii.gz": b"o3",
        "additional_annotations/observer_o4/training/Amsterdam/GE3T/100/result.nii.gz": b"o4",
        "additional_annotations/observer_o3/training/Singapore/50/wmh.nii.gz": b"o3-as-wmh",
        "readme.pdf": b"%PDF-1.4",
    }
)
IDS = {path: 9000 + i for i, path in enumerate(FILES)}
SPLIT_SUBJECTS = ["Utrecht_0", "GE3T_100"]  # Singapore_50 and the test set are not in this split


def _listing(files=FILES, checksum=lambda d: {"type": "SHA-1", "value": hashlib.sha1(d).hexdigest()}):
    return {
        "status": "OK",
        "data": [
            {
                "label": p.rsplit("/", 1)[-1],
                "directoryLabel": p.rsplit("/", 1)[0] if "/" in p else None,
                "dataFile": {
                    "id": IDS[p],
                    "filename": p.rsplit("/", 1)[-1],
                    "filesize": len(d),
                    "checksum": checksum(d),
                },
            }
            for p, d in files.items()
        ],
    }


@pytest.fixture
def served(tmp_path):
    """The dataset's side: listing and per-file access, as DataverseNL serves them."""
    root = tmp_path / "served"
    (root / "datafile").mkdir(parents=True)
    for path, data in FILES.items():
        (root / "datafile" / str(IDS[path])).write_bytes(data)
    (root / "files.json").write_text(json.dumps(_listing()))
    return root


def _fetch(tmp_path, server, subjects=SPLIT_SUBJECTS, splits=("training",)):
    return fetch_subjects(
        subjects,
        tmp_path / "raw" / "WMH",
        splits=splits,
        listing=server.url("files.json"),
        access=server.url("datafile/{id}"),
        checksum_db=tmp_path / "raw" / "checksums.tsv",
    )


def _served_name(path):
    return f"datafile/{IDS[path]}"


def test_site_names_are_plain_path_components():
    assert site_name("Philips_VU .PETMR_01.") == "Philips_VU_PETMR_01"
    assert [site_name(s) for s in ("GE3T", "Utrecht", "GE1T5")] == ["GE3T", "Utrecht", "GE1T5"]
    assert needed_files() == ("wmh.nii.gz", "pre/T1.nii.gz")


def test_only_the_split_subjects_needed_files_are_fetched_one_by_one(tmp_path, served):
    first = "training/Utrecht/0/wmh.nii.gz"
    with FileServer(served, interrupt=(_served_name(first),)) as server:
        with pytest.raises(InputError, match="interrupted.*resume"):  # the transfer breaks half-way
            _fetch(tmp_path, server)
        root = tmp_path / "raw" / "WMH"
        assert (root / "Utrecht" / "0" / "wmh.nii.gz.part").exists()
        fetched = _fetch(tmp_path, server)  # the rule's retry: resumed with Range
        assert _fetch(tmp_path, server) == []  # a rerun: everything in place, checked, nothing fetched
        requests = dict(server.requests)
    wanted = [f"training/{f}/{n}" for f in ("Utrecht/0", "Amsterdam/GE3T/100") for n in needed_files()]
    assert requests == {"files.json": 3, **{_served_name(p): 1 for p in wanted}, _served_name(first): 2}
    assert fetched == [root / s.replace("_", "/") / n for s in SPLIT_SUBJECTS for n in needed_files()]
    for subject, folder in zip(SPLIT_SUBJECTS, ("Utrecht/0", "Amsterdam/GE3T/100")):
        scan = raw_paths("WMH", tmp_path / "raw", subject, "T1")
        assert scan.image.read_bytes() == FILES[f"training/{folder}/pre/T1.nii.gz"]
        assert scan.seg.read_bytes() == FILES[f"training/{folder}/wmh.nii.gz"]
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == sorted(
        f"{s.replace('_', '/')}/{n}" for s in SPLIT_SUBJECTS for n in needed_files()
    )
    db = read_checksums(tmp_path / "raw" / "checksums.tsv")
    assert db == {
        f"WMH/{s.replace('_', '/')}/{n}": sha256sum(root / s.replace("_", "/") / n)
        for s in SPLIT_SUBJECTS
        for n in needed_files()
    }


def test_a_test_set_folder_with_a_space_and_dots(tmp_path, served):
    with FileServer(served) as server:
        _fetch(tmp_path, server, ["Philips_VU_PETMR_01_160", "Utrecht_0"], ("training", "test"))
    scan = raw_paths("WMH", tmp_path / "raw", "Philips_VU_PETMR_01_160", "T1")
    assert scan.image == tmp_path / "raw" / "WMH" / "Philips_VU_PETMR_01" / "160" / "pre" / "T1.nii.gz"
    assert scan.image.read_bytes() == FILES["test/Amsterdam/Philips_VU .PETMR_01./160/pre/T1.nii.gz"]
    assert list_subjects("WMH", tmp_path / "raw") == ["Philips_VU_PETMR_01_160", "Utrecht_0"]


def test_a_test_set_subject_without_test_set_stops_with_one_line(tmp_path, served):
    with FileServer(served) as server:
        with pytest.raises(InputError) as err:
            _fetch(tmp_path, server, ["Philips_VU_PETMR_01_160"])
        assert set(server.requests) == {"files.json"}  # nothing fetched before the whole plan holds
    message = str(err.value)
    assert "\n" not in message and "Philips_VU_PETMR_01_160" in message and "datasets.WMH.test_set: true" in message


def test_other_observers_annotations_are_never_taken_for_a_subject(tmp_path):
    found = subject_files(parse_listing(_listing()), ("training", "test"))
    assert sorted(found) == ["GE1T5_150", "GE3T_100", "Philips_VU_PETMR_01_160", "Singapore_50", "Utrecht_0"]
    assert found["Singapore_50"]["wmh.nii.gz"].path == "training/Singapore/50/wmh.nii.gz"
    assert all(not f.path.startswith("additional_annotations/") for s in found.values() for f in s.values())
    # The whole dataset unpacked by hand under WMH/ (additional_annotations/ beside the subjects):
    # the reader lists the arranged subjects only.
    raw = tmp_path / "raw"
    for path in FILES:
        (raw / "WMH" / path).parent.mkdir(parents=True, exist_ok=True)
        (raw / "WMH" / path).write_bytes(b"x")
    for subject in ("Utrecht_0", "GE3T_100"):
        for name in needed_files():
            (raw / "WMH" / subject.replace("_", "/") / name).parent.mkdir(parents=True, exist_ok=True)
            (raw / "WMH" / subject.replace("_", "/") / name).write_bytes(b"x")
    assert list_subjects("WMH", raw) == ["GE3T_100", "Utrecht_0"]


def test_a_corrupted_file_is_caught_by_the_listings_sha1(tmp_path, served):
    needed = "training/Amsterdam/GE3T/100/pre/T1.nii.gz"
    with FileServer(served, corrupt=(_served_name(needed),)) as server:
        with pytest.raises(InputError, match="sha1 .* differs from the value pinned in the file listing"):
            _fetch(tmp_path, server)
        dest = tmp_path / "raw" / "WMH" / "GE3T" / "100" / "pre" / "T1.nii.gz"
        assert not dest.exists()
        _fetch(tmp_path, server)
    assert dest.read_bytes() == FILES[needed]
    dest.write_bytes(b"changed by hand")  # a file in place is checked too
    with FileServer(served) as server, pytest.raises(InputError, match="sha1"):
        _fetch(tmp_path, server)


def test_listing_shapes_and_checksum_types():
    entry = {
        "label": "wmh.nii.gz",
        "directoryLabel": "training/Utrecht/0",
        "dataFile": {"id": 5, "filename": "wmh.nii.gz", "checksum": {"type": "SHA-1", "value": "AB" * 20}},
    }
    for listing in ({"data": [entry]}, {"data": {"files": [entry]}}, {"data": {"latestVersion": {"files": [entry]}}}):
        [f] = parse_listing(listing)
        assert (f.path, f.id, f.checksum) == ("training/Utrecht/0/wmh.nii.gz", 5, "sha1:" + "ab" * 20)
    md5 = {**entry, "dataFile": {"id": 6, "filename": "x", "md5": "cd" * 16}}
    assert parse_listing({"data": [md5]})[0].checksum == "md5:" + "cd" * 16
    odd = {**entry, "dataFile": {"id": 7, "filename": "x", "checksum": {"type": "UNF", "value": "1"}}}
    with pytest.raises(InputError, match="checksum type 'unf'"):
        parse_listing({"data": [odd]})


def test_two_folders_making_one_subject_are_refused():
    files = {"training/Utrecht/0/wmh.nii.gz": b"a", "test/Utrecht/0/wmh.nii.gz": b"b"}
    with pytest.raises(InputError, match="'training/Utrecht/0' and 'test/Utrecht/0'.*subject Utrecht_0"):
        subject_files(
            parse_listing(
                {
                    "data": [
                        {
                            "label": "wmh.nii.gz",
                            "directoryLabel": p.rsplit("/", 1)[0],
                            "dataFile": {"id": i, "filename": "wmh.nii.gz"},
                        }
                        for i, p in enumerate(files)
                    ]
                }
            ),
            ("training", "test"),
        )


def test_without_a_listing_files_placed_by_hand_are_used_and_missing_ones_named(tmp_path):
    root, db = tmp_path / "raw" / "WMH", tmp_path / "raw" / "checksums.tsv"
    with pytest.raises(InputError) as err:
        fetch_subjects(
            ["Utrecht_0"],
            root,
            splits=("training",),
            listing=None,
            access=None,
            checksum_db=db,
            page="https://doi.org/10.34894/AECRSD",
        )
    assert "\n" not in str(err.value) and "https://doi.org/10.34894/AECRSD" in str(err.value)
    for name in needed_files():
        (root / "Utrecht" / "0" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "Utrecht" / "0" / name).write_bytes(name.encode())
    assert fetch_subjects(["Utrecht_0"], root, splits=("training",), listing=None, access=None, checksum_db=db) == []
    assert set(read_checksums(db)) == {f"WMH/Utrecht/0/{n}" for n in needed_files()}
