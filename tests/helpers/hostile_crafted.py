"""Crafted files for the hostile tests of the data rules (tests/data/test_battery_data_files.py): spreadsheets, a zip, a trickling server.

The .xls files are a real one written by xlwt (an OLE2 compound file, as IXI serves IXI.xls) with
its structure edited: the compound-file layout (512-byte sectors, a FAT of 32-bit next-sector
numbers, 128-byte directory entries with the stream's first sector at 0x74 and its size at 0x78)
is [MS-CFB] sections 2.2, 2.3 and 2.6.
"""

from __future__ import annotations

import hashlib
import http.server
import struct
import threading
import time
import zipfile
from pathlib import Path

SECTOR = 512
END_OF_CHAIN = 0xFFFFFFFE

NESTED = "[" * 100_000 + "]" * 100_000  # JSON nested past json's recursion limit


def real_xls(folder: Path, pad: int = 0) -> Path:
    """IXI.xls with two subjects; `pad`: the file made that long with a hole (sparse) at its end."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Table")
    for col, name in enumerate(("IXI_ID", "SEX_ID", "AGE")):
        sheet.write(0, col, name)
    for row, values in enumerate(((2, 1, 35.8), (12, 2, 38.8)), 1):
        for col, v in enumerate(values):
            sheet.write(row, col, v)
    for extra in range(2, 200):  # past 4096 bytes: the Workbook stream lives in the FAT, not the mini stream
        sheet.write(extra + 1, 3, "x" * 20)
    path = folder / "IXI.xls"
    book.save(str(path))
    if pad:
        with open(path, "r+b") as f:
            f.truncate(pad)
    return path


def _cfb(data: bytearray):
    """(FAT as a list, directory entries as (offset, name, start, size)) of a compound file."""
    n_fat = struct.unpack_from("<I", data, 0x2C)[0]
    difat = struct.unpack_from("<109I", data, 0x4C)[:n_fat]
    fat = []
    for s in difat:
        fat += struct.unpack_from(f"<{SECTOR // 4}I", data, SECTOR * (s + 1))
    entries, sector = [], struct.unpack_from("<I", data, 0x30)[0]
    while sector != END_OF_CHAIN:
        base = SECTOR * (sector + 1)
        for i in range(SECTOR // 128):
            off = base + 128 * i
            length = struct.unpack_from("<H", data, off + 0x40)[0]
            name = data[off : off + max(length - 2, 0)].decode("utf-16-le")
            entries.append((off, name, *struct.unpack_from("<II", data, off + 0x74)))
        sector = fat[sector]
    return fat, difat, entries


def _workbook(data: bytearray):
    fat, difat, entries = _cfb(data)
    return fat, difat, next(e for e in entries if e[1] == "Workbook")


def circular_xls(folder: Path) -> Path:
    """IXI.xls whose Workbook stream's sector chain loops: its first sector points to itself, so a
    reader that follows the chain (rather than counting up to the declared size) never ends."""
    path = real_xls(folder)
    data = bytearray(path.read_bytes())
    fat, difat, (_, _, start, _) = _workbook(data)
    per = SECTOR // 4  # FAT entry `start` sits in FAT sector difat[start // per]
    struct.pack_into("<I", data, SECTOR * (difat[start // per] + 1) + 4 * (start % per), start)
    path.write_bytes(bytes(data))
    return path


def declared_size_xls(folder: Path) -> Path:
    """IXI.xls whose directory says the Workbook stream holds 4 GB (the file is a few kB)."""
    path = real_xls(folder)
    data = bytearray(path.read_bytes())
    _, _, (off, _, _, _) = _workbook(data)
    struct.pack_into("<I", data, off + 0x78, 0xFFFFFF00)
    path.write_bytes(bytes(data))
    return path


def huge_zip(path: Path, member: str, declared: int) -> Path:
    """A zip whose one member declares `declared` bytes (local header and central directory) but
    holds a few bytes of DEFLATE data."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, b"\0" * 4096)
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, declared)  # uncompressed size
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))
    return path


def checksum_source(folder: Path) -> tuple[Path, str]:
    """A file and its sha256."""
    path = folder / "data.bin"
    path.write_bytes(b"patch2loc round 4\n" * 64)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


class _Trickle(http.server.BaseHTTPRequestHandler):
    seconds = 150.0

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(50 << 20))
        self.end_headers()
        end = time.monotonic() + self.seconds  # bounded: the server stops sending by itself
        try:
            while time.monotonic() < end:
                self.wfile.write(b"\0")  # one byte a second: never idle long enough for a socket timeout
                self.wfile.flush()
                time.sleep(1.0)
        except OSError:  # the client went away
            pass

    def log_message(self, *args):
        pass


def trickle_server(seconds: float = 150.0) -> str:
    """A loopback HTTP server (one thread per request, daemon) that sends one byte a second of a
    file it says is 50 MB long; returns its URL."""
    _Trickle.seconds = seconds
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/sri24_spm8.zip"
