"""Downloads against the loopback rehearsal server: resume, checksum mismatch, parallel jobs."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import urllib.request

import pytest

import patch2loc.data.download as download
from patch2loc.data.download import fetch, read_checksums
from patch2loc.errors import InputError
from rehearsals.real.server import FileServer

PAYLOAD = bytes(range(256)) * 2000  # 512 kB: several chunks, cut in the middle when interrupted


@pytest.fixture()
def served(tmp_path):
    root = tmp_path / "served"
    (root / "IXI").mkdir(parents=True)
    for name in ("IXI/a.tar", "IXI/b.tar", "c.zip"):
        (root / name).write_bytes(name.encode() + PAYLOAD)
    return root


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_interrupted_transfer_resumes_with_range(tmp_path, served):
    dest, db = tmp_path / "raw" / "IXI" / "a.tar", tmp_path / "raw" / "checksums.tsv"
    with FileServer(served, interrupt={"IXI/a.tar"}) as srv:
        with pytest.raises(InputError, match="interrupted.*resume"):
            fetch(srv.url("IXI/a.tar"), dest, db)
        part = dest.with_name("a.tar.part")
        assert not dest.exists() and 0 < part.stat().st_size < len(PAYLOAD)
        fetch(srv.url("IXI/a.tar"), dest, db)  # the retry asks for the rest only
        assert srv.requests["IXI/a.tar"] == 2
    want = (served / "IXI/a.tar").read_bytes()
    assert dest.read_bytes() == want and not part.exists()
    assert read_checksums(db) == {"IXI/a.tar": _sha(want)}


def test_corrupted_transfer_is_caught_by_its_pinned_checksum(tmp_path, served):
    dest, db = tmp_path / "raw" / "c.zip", tmp_path / "raw" / "checksums.tsv"
    good = _sha((served / "c.zip").read_bytes())
    with FileServer(served, corrupt={"c.zip"}) as srv:
        with pytest.raises(InputError, match="sha256 .* differs from the value pinned"):
            fetch(srv.url("c.zip"), dest, db, expected=good)
        assert not dest.exists() and read_checksums(db) == {}  # nothing corrupt kept or recorded
        fetch(srv.url("c.zip"), dest, db, expected=good)  # second transfer is intact
    assert read_checksums(db) == {"c.zip": good}


def test_two_concurrent_downloads_keep_both_checksums(tmp_path, served, monkeypatch):
    db = tmp_path / "raw" / "checksums.tsv"
    real_output = download.atomic_output

    @contextlib.contextmanager
    def slow_output(path):  # widen the read-modify-write window so an unlocked db loses an entry
        time.sleep(0.3)
        with real_output(path) as tmp:
            yield tmp

    monkeypatch.setattr(download, "atomic_output", slow_output)
    errors = []
    with FileServer(served) as srv:

        def job(name):
            try:
                fetch(srv.url(name), tmp_path / "raw" / name, db)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=job, args=(n,)) for n in ("IXI/a.tar", "IXI/b.tar")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert not errors
    assert read_checksums(db) == {n: _sha((served / n).read_bytes()) for n in ("IXI/a.tar", "IXI/b.tar")}


def test_server_is_loopback_only_and_stops_by_itself(served):
    srv = FileServer(served, lifetime=1.0).start()
    try:
        assert srv._server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(srv.url("c.zip"), timeout=5) as r:
            assert r.read() == (served / "c.zip").read_bytes()
        time.sleep(2.0)
        assert not srv.running  # lifetime cap reached without stop()
    finally:
        srv.stop()
    capped = FileServer(served, max_requests=1).start()
    try:
        urllib.request.urlopen(capped.url("c.zip"), timeout=5).read()
        capped._thread.join(timeout=3)
        assert not capped.running  # request cap reached
    finally:
        capped.stop()
