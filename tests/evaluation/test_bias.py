"""IXI's demographics reader (real .xls layout, csv export) and the bias table, by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from patch2loc.errors import InputError
from patch2loc.data.demographics import (
    COLUMNS,
    age_band,
    parse_subject,
    read_ixi_demographics,
    subject_groups,
)

SUBJECTS = ["IXI101-Guys-1100", "IXI102-HH-1107", "IXI103-IOP-1114", "IXI014-HH-1236"]


def test_the_reader_reads_a_file_in_ixis_real_layout(tmp_path):
    """An Excel 97-2003 file as IXI serves it (the rehearsal's fixture): first sheet, IXI's
    columns, dates as dates; the first subject unlisted, one listed twice with two ages, one row
    without an age, an id without a scan."""
    pytest.importorskip("xlwt")
    from rehearsals.real.demographics import build_ixi_demographics
    from patch2loc.synth import ixi_demographics

    path = build_ixi_demographics(tmp_path, SUBJECTS, seed=11)
    assert path.read_bytes()[:8] == bytes.fromhex("d0cf11e0a1b11ae1")  # an OLE2 (Excel 97-2003) file
    raw = pd.read_excel(path, engine="calamine")
    assert tuple(raw.columns) == COLUMNS
    truth = ixi_demographics(SUBJECTS, seed=11).set_index("IXI_ID")
    table = read_ixi_demographics(path).set_index("ixi_id")
    assert sorted(table.index) == [14, 102, 103, 999]  # 101 is not listed
    assert table.at[102, "sex"] == {1: "M", 2: "F"}[truth.at[102, "SEX_ID"]]
    assert math.isnan(table.at[102, "age"])  # two different ages: unknown
    assert math.isnan(table.at[103, "age"])  # no age given
    assert table.at[14, "age"] == pytest.approx(truth.at[14, "AGE"])
    groups = subject_groups(SUBJECTS, read_ixi_demographics(path), [40, 60]).set_index("subject")
    assert groups.loc["IXI101-Guys-1100"].tolist() == ["Guys", "unknown", "unknown"]
    assert groups.at["IXI014-HH-1236", "site"] == "HH"


def test_a_csv_export_reads_the_same(tmp_path):
    pytest.importorskip("xlwt")
    from rehearsals.real.demographics import build_ixi_demographics

    xls = build_ixi_demographics(tmp_path, SUBJECTS, seed=3)
    csv = tmp_path / "IXI.csv"
    pd.read_excel(xls, engine="calamine").to_csv(csv, index=False)
    pd.testing.assert_frame_equal(read_ixi_demographics(csv), read_ixi_demographics(xls))


@pytest.mark.parametrize(
    "name, text, word",
    [
        ("IXI.csv", "IXI_ID,SEX\n1,2\n", "missing column"),
        ("IXI.xls", "not a spreadsheet", "not an Excel 97-2003"),
        ("IXI.txt", "IXI_ID,SEX_ID,AGE\n", "must be IXI's IXI.xls"),
    ],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path, name, text, word):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=word) as err:
        read_ixi_demographics(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="not found"):
        read_ixi_demographics(tmp_path / "absent.xls")


def test_sites_and_age_bands():
    assert parse_subject("IXI002-Guys-0828") == (2, "Guys") and parse_subject("IXI900-Demo-1000") == (900, "unknown")
    assert parse_subject("sub-01") == (None, "unknown")
    assert [age_band(a, [40, 60]) for a in (20.5, 40.0, 59.99, 60, float("nan"))] == [
        "<40",
        "40-59",
        "40-59",
        ">=60",
        "unknown",
    ]
