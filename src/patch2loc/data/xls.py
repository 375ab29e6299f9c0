"""An Excel 97-2003 file (IXI.xls) checked as a container before a spreadsheet library reads it.

Such a file is an OLE2 compound file (Microsoft's [MS-CFB]): a header, a sector allocation table
(FAT) chaining the sectors of each stream, a directory naming the streams and their sizes. The
sheet is the BIFF record stream `Workbook` ([MS-XLS]). A reader that follows a chain looping back
on itself, or trusts a declared size larger than the chain holds, reads something other than what
was written; calamine (pandas' engine) read both as if fine. Here every chain is followed with a
step limit and cycle check, every declared size must fit its chain, and the BIFF records of the
workbook are walked to bound the rows and cells a sheet spans (a dense sheet is built from them:
two cells at A1 and IV65536 make 16.7 million) before any sheet is built.
"""

from __future__ import annotations

import struct

from patch2loc.errors import InputError

SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")
END, FREE = 0xFFFFFFFE, 0xFFFFFFFF
MAX_REGULAR = 0xFFFFFFFA
STREAM, ROOT = 2, 5
WORKBOOK = ("workbook", "book")
BOF, EOF = (0x0009, 0x0209, 0x0409, 0x0809), 0x000A
CELLS = {0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0201, 0x0203, 0x0204, 0x0205, 0x0206, 0x027E}
CELLS |= {0x00BD, 0x00BE, 0x00D6, 0x00FD, 0x0406}  # MULRK, MULBLANK (first..last column), RSTRING, LABELSST, FORMULA
MULTI = (0x00BD, 0x00BE)


def _bad(path, what: str) -> InputError:
    return InputError(
        f"{path}: {what}; the file is damaged or not what IXI serves. Delete it and download IXI.xls "
        "again (config/datasets.yaml, IXI), or export the sheet as a .csv with the same columns."
    )


class _Container:
    """The sectors, FAT, mini FAT and directory of one compound file, all checked."""

    def __init__(self, path, data: bytes):
        if len(data) < 512 or data[:8] != SIGNATURE:
            raise _bad(path, "not an Excel 97-2003 (OLE2) file")
        self.path, self.data = path, data
        major, order, shift, mini_shift = struct.unpack_from("<HHHH", data, 26)
        if order != 0xFFFE or (major, shift) not in ((3, 9), (4, 12)) or mini_shift != 6:
            raise _bad(path, "its OLE2 header is not valid")
        self.size = 1 << shift
        self.count = max(0, (len(data) - 1) // self.size)  # sectors after the header
        n_fat, first_dir = struct.unpack_from("<II", data, 44)
        self.cutoff, first_minifat, _, first_difat, n_difat = struct.unpack_from("<IIIII", data, 56)
        self.major = major
        self.fat = self._ints(self._fat_sectors(n_fat, first_difat, n_difat))
        self.entries = self._directory(self._read(self.chain(first_dir, self.fat, "directory")))
        root = next((e for e in self.entries if e[1] == ROOT), None)
        if root is None:
            raise _bad(path, "its OLE2 directory has no root entry")
        self.mini = self._read(self.chain(root[2], self.fat, "mini stream")) if root[3] else b""
        self.minifat = self._ints(self.chain(first_minifat, self.fat, "mini FAT")) if first_minifat != END else []

    def _sector(self, index: int) -> bytes:
        return self.data[(index + 1) * self.size : (index + 2) * self.size]

    def _ints(self, sectors: list[int]) -> list[int]:
        raw = b"".join(self._sector(s) for s in sectors)
        return list(struct.unpack(f"<{len(raw) // 4}I", raw[: len(raw) // 4 * 4]))

    def _read(self, sectors: list[int]) -> bytes:
        return b"".join(self._sector(s) for s in sectors)

    def _fat_sectors(self, n_fat: int, first_difat: int, n_difat: int) -> list[int]:
        if n_fat > self.count or n_difat > self.count:
            raise _bad(self.path, f"its header declares {n_fat:,} FAT sectors, the file holds {self.count:,}")
        listed = list(struct.unpack_from("<109I", self.data, 76))
        here, seen = first_difat, set()
        while here != END and len(listed) < n_fat + 109 and n_difat:
            if here >= self.count or here in seen:
                raise _bad(self.path, "its DIFAT chain leaves the file or loops")
            seen.add(here)
            block = self._ints([here])
            listed += block[:-1]
            here = block[-1]
        sectors = listed[:n_fat]
        if len(sectors) < n_fat or any(s >= self.count for s in sectors):
            raise _bad(self.path, "its FAT sectors lie outside the file")
        return sectors

    def chain(self, start: int, table: list[int], what: str, limit: int | None = None) -> list[int]:
        """The sectors of one chain: each inside the file and the table, none twice (a loop)."""
        limit = min(len(table), self.count if table is self.fat else len(table)) if limit is None else limit
        sectors, here, seen = [], start, set()
        while here != END:
            if here > MAX_REGULAR or here >= limit or here in seen:
                problem = "loops back on itself" if here in seen else "points outside the file"
                raise _bad(self.path, f"the sector chain of its {what} {problem}")
            seen.add(here)
            sectors.append(here)
            here = table[here]
        return sectors

    def _directory(self, raw: bytes) -> list[tuple[str, int, int, int]]:
        entries = []
        for offset in range(0, len(raw) - 127, 128):
            entry = raw[offset : offset + 128]
            length = min(struct.unpack_from("<H", entry, 64)[0], 64)
            name = entry[: max(length - 2, 0)].decode("utf-16-le", "replace")
            kind, start, size = entry[66], *struct.unpack_from("<IQ", entry, 116)
            entries.append((name, kind, start, size & 0xFFFFFFFF if self.major == 3 else size))
        return entries

    def stream(self, name: str, kind: int, start: int, size: int) -> bytes:
        """A stream's bytes; its chain must hold its declared size."""
        if size > len(self.data):
            raise _bad(
                self.path, f"its stream {name!r} declares {size:,} bytes, more than the file's {len(self.data):,}"
            )
        small = kind == STREAM and size < self.cutoff
        if small:
            sectors = self.chain(start, self.minifat, f"stream {name!r}", len(self.mini) // 64) if size else []
            raw, held = b"".join(self.mini[s * 64 : s * 64 + 64] for s in sectors), 64 * len(sectors)
        else:
            sectors = self.chain(start, self.fat, f"stream {name!r}") if size else []
            raw, held = self._read(sectors), self.size * len(sectors)
        if held < size:
            raise _bad(self.path, f"its stream {name!r} declares {size:,} bytes, its sectors hold {held:,}")
        return raw[:size]


def _span(path, stream: bytes, max_rows: int, max_cells: int) -> None:
    """Walk the BIFF records; refuse a sheet spanning more rows or cells than the limits."""
    pos, rows, cols = 0, 0, 0
    while pos + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, pos)
        body = stream[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if kind in BOF or kind == EOF:
            rows = cols = 0
        elif kind in CELLS and len(body) >= 4:
            row, col = struct.unpack_from("<HH", body, 0)
            last = struct.unpack_from("<H", body, len(body) - 2)[0] if kind in MULTI and len(body) >= 6 else col
            rows, cols = max(rows, row + 1), max(cols, col + 1, last + 1)
            if rows > max_rows or rows * cols > max_cells:
                raise _bad(
                    path,
                    f"a sheet spans {rows:,} rows x {cols:,} columns, more than the {max_rows:,} rows or "
                    f"{max_cells:,} cells a demographics sheet may have (IXI's: about 620 x 12)",
                )


def check_workbook(path, data: bytes, *, max_rows: int, max_cells: int) -> None:
    """InputError (one line naming `path`) unless `data` is a sound OLE2 file whose Workbook stream's
    sheets stay within `max_rows` and `max_cells`."""
    box = _Container(path, data)
    streams = [e for e in box.entries if e[1] in (STREAM, ROOT)]
    for entry in streams:  # every chain: a damaged one means a damaged file, whichever stream it is
        box.stream(*entry)
    books = [e for e in streams if e[1] == STREAM and e[0].lower() in WORKBOOK]
    if not books:
        raise _bad(path, "it holds no Workbook stream")
    _span(path, box.stream(*books[0]), max_rows, max_cells)
