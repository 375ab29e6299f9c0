"""The rehearsal's IXI.xls: IXI's demographics spreadsheet as IXI serves it, an Excel 97-2003 file
whose first sheet has IXI's columns (patch2loc.data.demographics.COLUMNS), dates as dates.

Its rows are the fixture subjects' (patch2loc.synth.ixi_demographics), with what a reader must
cope with in a real sheet: one subject listed twice with two different ages, one not listed at
all, one row without an age and an id that has no scan.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from patch2loc.files.staging import atomic_output
from patch2loc.synth import ixi_demographics


def build_ixi_demographics(served: Path, subjects: list[str], seed: int) -> Path:
    """Write served/IXI/IXI.xls for these IXI subject ids; return its path."""
    import xlwt  # only the rehearsal writes .xls (the pipeline reads it through pandas' calamine engine)

    table = ixi_demographics(subjects, seed)
    if len(table) >= 3:
        table = table.iloc[1:].reset_index(drop=True)  # the first subject is not listed
        twice = table.iloc[[0]].assign(AGE=table.at[0, "AGE"] + 7.5)  # listed twice, two ages
        extra = twice.assign(IXI_ID=999)  # an id without a scan
        table = pd.concat([table, twice, extra], ignore_index=True)
        table.loc[1, "AGE"] = None  # a row without an age
    book = xlwt.Workbook()
    sheet = book.add_sheet("Table")
    date = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for col, name in enumerate(table.columns):
        sheet.write(0, col, name)
    for row, record in enumerate(table.itertuples(index=False), start=1):
        for col, value in enumerate(record):
            if isinstance(value, dt.date):
                sheet.write(row, col, value, date)
            elif not pd.isna(value):  # NaN and None: an empty cell
                sheet.write(row, col, value.item() if hasattr(value, "item") else value)
    path = served / "IXI" / "IXI.xls"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        book.save(str(tmp))
    return path
