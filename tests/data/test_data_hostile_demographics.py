"""Hostile tables: IXI's demographics (IXI.xls or a csv) and the reference splits csv: bounded
before parsing (bytes; an .xls's OLE2 container, its chains and the cells a sheet spans; rows) and
every used cell checked. Bad content is one line naming the file (row and column), never a silently
wrong table or a bug. The .xls files are written by xlwt (as the rehearsal's) and then damaged."""

from __future__ import annotations

import csv
import struct

import pytest

from patch2loc.data.splits import build_splits
from patch2loc.errors import InputError
from patch2loc.data import demographics
from patch2loc.data.demographics import read_ixi_demographics

xlwt = pytest.importorskip("xlwt")
HEADER = ("IXI_ID", "SEX_ID (1=m, 2=f)", "AGE")  # IXI's own header of the sex column


def _xls(path, rows, header=HEADER, far_cell=None):
    book = xlwt.Workbook()
    sheet = book.add_sheet("Table")
    for col, name in enumerate(header):
        sheet.write(0, col, name)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    if far_cell:
        sheet.write(*far_cell, 1)
    book.save(str(path))
    return path


def _workbook_entry(data: bytes) -> tuple[int, int]:
    """(offset of the Workbook directory entry, its first sector) in an xlwt file."""
    first_dir = struct.unpack_from("<I", data, 48)[0]
    base = 512 + first_dir * 512
    for k in range(4):
        entry = base + 128 * k
        if data[entry : entry + 16] == "Workbook".encode("utf-16-le"):
            return entry, struct.unpack_from("<I", data, entry + 116)[0]
    raise AssertionError("no Workbook entry")


def _fat_offset(data: bytes) -> int:
    return 512 + 512 * struct.unpack_from("<I", data, 76)[0]  # the first FAT sector (DIFAT[0])


def _refused(path, word: str) -> str:
    before = path.read_bytes()
    with pytest.raises(InputError, match=word) as err:
        read_ixi_demographics(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert path.read_bytes() == before  # the input is not changed
    return message


ROWS = [(2, 1, 35.5), (12, 2, 38.25), (13, 0, None), (13, 1, 46.0)]


def test_ixis_own_header_and_zero_as_not_recorded(tmp_path):
    table = read_ixi_demographics(_xls(tmp_path / "IXI.xls", ROWS)).set_index("ixi_id")
    assert table["sex"].to_dict() == {2: "M", 12: "F", 13: "M"}  # 13: a zeroed copy and a full row
    assert table.at[13, "age"] == 46.0


def test_a_workbook_stream_that_loops_back_is_refused(tmp_path):
    """Before: calamine read the looping stream as if fine (exit 0, from whatever it met)."""
    path = _xls(tmp_path / "IXI.xls", ROWS * 100)
    data = bytearray(path.read_bytes())
    _, first = _workbook_entry(data)
    struct.pack_into("<I", data, _fat_offset(data) + 4 * (first + 3), first)  # 4th sector -> the 1st
    path.write_bytes(bytes(data))
    _refused(path, "sector chain of its stream 'Workbook' loops back on itself")


def test_a_workbook_stream_declaring_more_than_its_chain_holds_is_refused(tmp_path):
    path = _xls(tmp_path / "IXI.xls", ROWS)
    data = bytearray(path.read_bytes())
    entry, _ = _workbook_entry(data)
    size = struct.unpack_from("<I", data, entry + 120)[0]
    struct.pack_into("<I", data, entry + 120, size + 4096)  # still within the file's size
    path.write_bytes(bytes(data) + b"\0" * 8192)
    _refused(path, "its sectors hold")
    struct.pack_into("<I", data, entry + 120, 10**9)
    path.write_bytes(bytes(data))
    _refused(path, "declares 1,000,000,000 bytes, more than the file's")


def test_a_sheet_spanning_millions_of_cells_is_refused_before_it_is_built(tmp_path):
    path = _xls(tmp_path / "IXI.xls", ROWS, far_cell=(65535, 255))  # A1..IV65536: 16.7 million cells
    _refused(path, "spans 65,536 rows x 256 columns")


def test_a_huge_file_is_refused_unread(tmp_path):
    path = tmp_path / "IXI.xls"
    with open(path, "wb") as f:
        f.truncate(demographics.MAX_BYTES + 1)  # sparse: nothing is written to disk
    _refused(path, "more than the 16,777,216 IXI's demographics ever hold")


@pytest.mark.parametrize("suffix", [".xls", ".csv"])
@pytest.mark.parametrize(
    "row, word",
    [
        ((14, 1, "forty"), "row 3, column AGE: 'forty' is not a number"),
        ((14, "male", 40.0), "row 3, column SEX_ID: 'male' is not a number"),
        (("IXI014", 1, 40.0), "row 3, column IXI_ID: 'IXI014' is not a number"),
        ((14, 3, 40.0), "row 3, column SEX_ID: 3 is out of range"),
        ((14, 1, -5.0), "row 3, column AGE: -5 is out of range"),
        ((14.5, 1, 40.0), "row 3, column IXI_ID: 14.5 is out of range"),
    ],
)
def test_text_or_out_of_range_where_a_number_belongs(tmp_path, suffix, row, word):
    """Before: text became NaN silently (the subject's group 'unknown'), or the row vanished."""
    rows = [(2, 1, 35.5), row]
    if suffix == ".xls":
        path = _xls(tmp_path / "IXI.xls", rows)
    else:
        path = tmp_path / "IXI.csv"
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([HEADER, *rows])  # the header's comma is quoted
    _refused(path, word)


def test_a_csv_with_more_rows_than_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(demographics, "MAX_ROWS", 10)
    path = tmp_path / "IXI.csv"
    path.write_text("IXI_ID,SEX_ID,AGE\n" + "".join(f"{i},1,30\n" for i in range(1, 12)))
    _refused(path, "more than 10 rows")


def test_a_splits_csv_with_text_in_the_fold_column(tmp_path):
    """Before: astype('Int64') raised a TypeError (a bug in patch2loc)."""
    reference, t2 = tmp_path / "splits_reference.csv", tmp_path / "t2.csv"
    reference.write_text("dataset,subject_id,split,fold\nIXI,IXI002-Guys-0828,train,0\nIXI,IXI012-HH-1211,val,one\n")
    t2.write_text("subject_id\nIXI002-Guys-0828\n")
    with pytest.raises(InputError, match="row 3, column fold: 'one' is not a fold number") as err:
        build_splits(reference, t2, tmp_path / "out")
    assert str(reference) in str(err.value) and not (tmp_path / "out").exists()
