"""Downloads: resume with Range, restart when Range is ignored, checksums, extraction."""

from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import subprocess
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from patch2loc.data.download import GIT_BLOB, fetch, pinned, read_checksums, sha256sum
from patch2loc.data.unpack import extract
from patch2loc.errors import InputError

REPO = Path(__file__).resolve().parents[2]

PAYLOAD = bytes(range(256)) * 400  # 100 kB, not a repetition of the first bytes at any offset < 256


class _Handler(http.server.BaseHTTPRequestHandler):
    honour_range = True
    seen_ranges: list = []

    def do_GET(self):  # noqa: N802 (http.server API)
        rng = self.headers.get("Range")
        type(self).seen_ranges.append(rng)
        if rng and self.honour_range:
            start = int(rng.split("=")[1].rstrip("-"))
            body = PAYLOAD[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            body = PAYLOAD
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(params=[True, False], ids=["range", "no-range"])
def server(request):
    handler = type("H", (_Handler,), {"honour_range": request.param, "seen_ranges": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.timeout = 5
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/file.bin", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_resume_after_interruption(tmp_path, server):
    url, handler = server
    dest, db = tmp_path / "raw" / "file.bin", tmp_path / "raw" / "checksums.tsv"
    dest.parent.mkdir()
    # An interrupted earlier run left the first 30 kB.
    (dest.parent / "file.bin.part").write_bytes(PAYLOAD[:30000])
    fetch(url, dest, db)
    assert dest.read_bytes() == PAYLOAD  # neither truncated nor duplicated
    assert handler.seen_ranges == ["bytes=30000-"]
    assert not (dest.parent / "file.bin.part").exists()
    assert read_checksums(db) == {"file.bin": hashlib.sha256(PAYLOAD).hexdigest()}


def test_checksum_recorded_then_verified(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    dest, db = tmp_path / "raw" / "a.bin", tmp_path / "raw" / "checksums.tsv"
    fetch(src.as_uri(), dest, db)
    assert read_checksums(db)["a.bin"] == hashlib.sha256(PAYLOAD).hexdigest()
    fetch(src.as_uri(), dest, db)  # second call: verified, nothing re-recorded
    assert len(read_checksums(db)) == 1
    assert db.read_text().count("a.bin") == 1
    dest.write_bytes(PAYLOAD[:-1] + b"x")  # corrupted afterwards
    with pytest.raises(InputError, match="delete .*a.bin.* download it again"):
        fetch(src.as_uri(), dest, db)


def test_missing_url_is_input_error(tmp_path):
    with pytest.raises(InputError, match="download failed"):
        fetch((tmp_path / "nope.bin").as_uri(), tmp_path / "x.bin", tmp_path / "db.tsv")
    assert not (tmp_path / "x.bin").exists()


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extract_tar_and_zip_with_marker(tmp_path):
    tar = tmp_path / "IXI-T1.tar.gz"
    tar.write_bytes(_tar_bytes({"IXI002-Guys-0828-T1.nii.gz": b"abc"}))
    out = tmp_path / "IXI-T1"
    marker = extract(tar, out)
    assert marker.exists() and (out / "IXI002-Guys-0828-T1.nii.gz").read_bytes() == b"abc"
    (out / "IXI002-Guys-0828-T1.nii.gz").unlink()
    extract(tar, out)  # marker present: nothing redone
    assert not (out / "IXI002-Guys-0828-T1.nii.gz").exists()

    zpath = tmp_path / "a.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("patient01/T2W.nii.gz", b"xyz")
    extract(zpath, tmp_path / "MSLUB")
    assert (tmp_path / "MSLUB" / "patient01" / "T2W.nii.gz").read_bytes() == b"xyz"


def test_extract_refuses_bad_archives(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(_tar_bytes({"../escape.txt": b"x"}))
    with pytest.raises(InputError):
        extract(evil, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out" / ".extracted-evil.tar.gz").exists()

    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(_tar_bytes({"a.bin": PAYLOAD})[:500])
    with pytest.raises(InputError, match="download it again"):
        extract(truncated, tmp_path / "out2")
    assert not (tmp_path / "out2" / ".extracted-cut.tar.gz").exists()


def test_a_published_md5_is_checked_on_the_first_download(tmp_path):
    src = tmp_path / "IXI-T1.tar"
    src.write_bytes(PAYLOAD)
    good = hashlib.md5(PAYLOAD).hexdigest()
    assert pinned({"sha256": None, "md5": good}) == f"md5:{good}"
    assert pinned({"sha256": "ab" * 32, "md5": good}) == "ab" * 32 and pinned({"sha256": None}) is None
    dest, db = tmp_path / "raw" / "IXI-T1.tar", tmp_path / "raw" / "checksums.tsv"
    with pytest.raises(InputError, match="md5 .* differs from the value pinned in config/datasets.yaml"):
        fetch(src.as_uri(), dest, db, expected=pinned({"md5": "0" * 32}))
    assert not dest.exists() and not db.exists()  # the bad transfer is neither kept nor recorded
    fetch(src.as_uri(), dest, db, expected=pinned({"md5": good}))
    assert read_checksums(db) == {"IXI-T1.tar": hashlib.sha256(PAYLOAD).hexdigest()}


def test_sources_file_pins_the_published_checksums():
    """IXI's tarballs carry the MD5s TorchIO's IXI dataset lists; every pinned value is hex of its
    algorithm's length; WMH is fetched per file (listing + access, checked by its SHA-1), not as a
    bundle."""
    sources = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())
    ixi = {f["dest"]: f.get("md5") for f in sources["IXI"]["files"]}
    assert ixi["IXI/IXI-T1.tar"] == "34901a0593b41dd19c1a1f746eac2d58"
    assert ixi["IXI/IXI-T2.tar"] == "e3140d78730ecdd32ba92da48c0a9aaa"
    lengths = {"md5": 32, "sha256": 64}
    for dataset, entry in sources.items():
        for f in [entry, *entry.get("files", []), *entry.get("file_template", [])]:
            for algorithm, length in lengths.items():
                value = f.get(algorithm)
                assert value is None or (len(value) == length and int(value, 16) >= 0), (dataset, f)
    # MSLUB's mirror: every patient's three files pinned by their git blob ids.
    for f in sources["MSLUB"]["file_template"]:
        assert sorted(f["gitblob"]) == [f"patient{i:02d}" for i in range(1, 31)], f["dest"]
        assert all(len(v) == 40 and int(v, 16) >= 0 for v in f["gitblob"].values())
    assert "files" not in sources["WMH"] and {"listing", "access"} <= set(sources["WMH"])


def test_a_git_blob_id_is_git_s_own(tmp_path):
    """`gitblob:` checks a file of a git mirror against the id its tree lists (what `git
    hash-object` prints), so a mirror's files are pinned without a published checksum."""
    path = tmp_path / "consensus_gt.nii.gz"
    path.write_bytes(PAYLOAD)
    assert sha256sum(path, GIT_BLOB) == hashlib.sha1(b"blob %d\0" % len(PAYLOAD) + PAYLOAD).hexdigest()
    if shutil.which("git"):
        out = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True)
        assert sha256sum(path, GIT_BLOB) == out.stdout.strip()
    dest, db = tmp_path / "raw" / "x.nii.gz", tmp_path / "raw" / "checksums.tsv"
    with pytest.raises(InputError, match="gitblob .* differs"):
        fetch(path.as_uri(), dest, db, expected=pinned({"gitblob": "0" * 40}))
    fetch(path.as_uri(), dest, db, expected=pinned({"gitblob": sha256sum(path, GIT_BLOB)}))
