"""Hostile downloads: only verifiable checksum types, refused before the transfer; hex
compared without case; a checksum db with non-UTF-8 bytes is one line; a server that trickles a
byte now and then is cut off at the overall deadline, what arrived is kept in .part and resumed.

Every server is the bounded loopback FileServer (127.0.0.1 only, a request and lifetime cap)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
import yaml

from patch2loc.data.download import fetch, read_checksums, times_from_config
from patch2loc.errors import InputError
from rehearsals.real.server import FileServer

PAYLOAD = bytes(range(256)) * 64  # 16 kB
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    (root / "file.bin").write_bytes(PAYLOAD)
    return root


def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize(
    "expected, word",
    [
        ("shake_128:" + "ab" * 16, "'shake_128' cannot be verified"),  # no fixed-size digest
        ("crc32:1c291ca3", "'crc32' cannot be verified"),  # not a hashlib algorithm
        ("md5:" + "ab" * 15, "is not 32 hex digits"),  # too short to be an md5
        ("sha256:" + "zz" * 32, "is not 64 hex digits"),
    ],
)
def test_an_unverifiable_checksum_is_refused_before_the_download(tmp_path, served, expected, word):
    dest = tmp_path / "raw" / "file.bin"
    with FileServer(served, max_requests=5, lifetime=60) as server:
        with pytest.raises(InputError, match=word) as err:
            fetch(server.url("file.bin"), dest, tmp_path / "raw" / "checksums.tsv", expected=expected)
        assert server.requests["file.bin"] == 0  # nothing was fetched
    assert "config/datasets.yaml" in _one_line(err)
    assert not (tmp_path / "raw").exists()  # no file, no .part, no db: nothing kept unverified


def test_an_upper_case_checksum_is_the_same_checksum(tmp_path, served):
    """The pinned value and the db's hex are compared without case (before: a false alarm)."""
    db = tmp_path / "raw" / "checksums.tsv"
    with FileServer(served, max_requests=5, lifetime=60) as server:
        md5 = hashlib.md5(PAYLOAD).hexdigest().upper()
        dest = fetch(server.url("file.bin"), tmp_path / "raw" / "file.bin", db, expected=f"MD5:{md5}")
    line = db.read_text().splitlines()[-1].split("\t")
    db.write_text(f"# name\tsha256\turl\n{line[0]}\t{line[1].upper()}\t{line[2]}\n")  # a hand-edited db
    assert fetch("http://127.0.0.1:9/unused", dest, db) == dest  # verified against the db, no request
    assert read_checksums(db)[line[0]] == hashlib.sha256(PAYLOAD).hexdigest()


def test_a_checksum_db_with_bytes_that_are_not_utf8_is_one_line(tmp_path):
    db = tmp_path / "checksums.tsv"
    db.write_bytes(b"# name\tsha256\turl\nIXI/IXI.xls\t" + b"a" * 64 + b"\turl\n\xff\xfe broken\n")
    with pytest.raises(InputError, match="line 3 is not UTF-8") as err:
        read_checksums(db)
    assert str(db) in _one_line(err)


def test_a_trickling_server_is_cut_off_at_the_deadline_and_the_part_is_resumed(tmp_path, served):
    """One byte every 0.2 s never trips the per-read timeout (60 s); the deadline (1.5 s) does.
    What arrived stays in .part, and the next call asks for the rest with Range."""
    dest, db = tmp_path / "raw" / "file.bin", tmp_path / "raw" / "checksums.tsv"
    part = dest.with_name("file.bin.part")
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    with FileServer(served, trickle=("file.bin",), trickle_s=0.2, max_requests=5, lifetime=60) as server:
        start = time.monotonic()
        with pytest.raises(InputError, match=r"did not finish within 1.5 s \(config download.deadline_s\)") as err:
            fetch(server.url("file.bin"), dest, db, timeout=60, deadline=1.5, expected=sha)
        took = time.monotonic() - start
    assert took < 20, f"the deadline let the trickle run {took:.1f} s"  # without it: 16 kB at 5 B/s, nearly an hour
    assert str(part) in _one_line(err) and "resumes" in str(err.value)
    kept = part.read_bytes()
    assert 0 < len(kept) < len(PAYLOAD) and PAYLOAD.startswith(kept) and not dest.exists()
    with FileServer(served, max_requests=5, lifetime=60) as server:  # a normal link: the rest
        assert fetch(server.url("file.bin"), dest, db, expected=sha).read_bytes() == PAYLOAD
    assert not part.exists()


def test_the_deadline_and_timeout_come_from_the_config():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert times_from_config(config["download"]) == {"timeout": 60.0, "deadline": 7200.0}
    assert times_from_config(None) == {"timeout": 60.0, "deadline": 7200.0}
    # the schema holds no copy of these defaults (tests/static/test_one_default.py)
