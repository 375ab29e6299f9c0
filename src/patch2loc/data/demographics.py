"""IXI's demographics (IXI.xls) and the site in every IXI subject id: the groups of the bias table.

IXI publishes one spreadsheet, IXI.xls (Excel 97-2003), whose first sheet has the columns
IXI_ID, SEX_ID (1 = male, 2 = female), HEIGHT, WEIGHT, ETHNIC_ID, MARITAL_ID, OCCUPATION_ID,
QUALIFICATION_ID, DOB, DATE_AVAILABLE, STUDY_DATE, AGE (years, with decimals). The reader takes
that file as IXI serves it (.xls, read by pandas with the calamine engine: pandas 3 deprecates its
xlrd engine) or a csv with the same columns (a spreadsheet program's export; the demo writes one).
Only IXI_ID, SEX_ID (IXI's header: 'SEX_ID (1=m, 2=f)'; 0 = not recorded) and AGE are used. A
subject listed twice with different sex or age, or not listed, is in the group "unknown" for what
is not known. The file is bounded before it is parsed (bytes; an .xls's container and the rows and
cells its sheets span, data/xls.py) and every used cell is checked: text where a number belongs, or
a number out of range, is refused in one line naming the file, row and column.

The site is the middle of the subject id (IXI002-Guys-0828, IXI014-HH-1236): Guy's Hospital
(Philips 1.5 T), Hammersmith Hospital (HH, Philips 3 T) or the Institute of Psychiatry (IOP, GE
1.5 T), as IXI's page describes them.
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from patch2loc.data.xls import check_workbook
from patch2loc.errors import InputError

COLUMNS = (
    "IXI_ID",
    "SEX_ID",
    "HEIGHT",
    "WEIGHT",
    "ETHNIC_ID",
    "MARITAL_ID",
    "OCCUPATION_ID",
    "QUALIFICATION_ID",
    "DOB",
    "DATE_AVAILABLE",
    "STUDY_DATE",
    "AGE",
)
USED = ("IXI_ID", "SEX_ID", "AGE")
SITES = ("Guys", "HH", "IOP")
SEXES = {1: "M", 2: "F"}
UNKNOWN = "unknown"
_ID = re.compile(r"IXI(\d{3})-([A-Za-z]+)-\d{4}")


def parse_subject(subject: str) -> tuple[int | None, str]:
    """'IXI002-Guys-0828' -> (2, 'Guys'); the site 'unknown' when it is not one of IXI's three,
    (None, 'unknown') for an id not shaped like IXI's."""
    match = _ID.fullmatch(str(subject))
    if not match:
        return None, UNKNOWN
    return int(match.group(1)), match.group(2) if match.group(2) in SITES else UNKNOWN


MAX_BYTES = 16 << 20  # IXI.xls: one sheet of about 620 rows x 12 columns and four code sheets
MAX_ROWS = 100_000
MAX_CELLS = 2_000_000  # the widest sheet a reader may build (rows x columns it spans)
AGE_RANGE = (0.0, 150.0)


def _bounded_bytes(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InputError(
            f"{path}: {size:,} bytes, more than the {MAX_BYTES:,} IXI's demographics ever hold; nothing was "
            "read. Delete it and download IXI.xls again (config/datasets.yaml, IXI)."
        )
    return path.read_bytes()


def _parse(path: Path, data: bytes, suffix: str) -> pd.DataFrame:
    """The first sheet (.xls, checked as a container first: data/xls.py) or the csv, as text and
    numbers, at most MAX_ROWS rows (a csv: only the columns used are kept)."""
    if suffix == ".xls":
        check_workbook(path, data, max_rows=MAX_ROWS, max_cells=MAX_CELLS)
        return pd.read_excel(io.BytesIO(data), sheet_name=0, engine="calamine")
    table = pd.read_csv(
        io.BytesIO(data), dtype=str, keep_default_na=False, nrows=MAX_ROWS + 1, usecols=lambda c: _column(c) in USED
    )
    if len(table) > MAX_ROWS:
        raise InputError(f"{path}: more than {MAX_ROWS:,} rows (IXI's has about 620); nothing was used.")
    return table


def _column(name) -> str:
    """IXI's own header of SEX_ID reads 'SEX_ID (1=m, 2=f)' (as Clinica reads IXI.xls:
    aramis-lab/clinica, clinica/converters/ixi_to_bids/_utils.py, _rename_clinical_data_to_bids)."""
    name = str(name).strip().upper()
    return "SEX_ID" if name.startswith("SEX_ID") else name


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in (".xls", ".csv"):
        raise InputError(
            f"{path}: demographics must be IXI's IXI.xls or a .csv with its columns ({', '.join(COLUMNS)})."
        )
    data = _bounded_bytes(path)
    try:
        return _parse(path, data, suffix)
    except InputError:
        raise
    except ImportError as err:
        raise InputError(
            f"{path}: reading .xls needs the package python-calamine ({err}); pip install "
            "python-calamine, or export the sheet as IXI.csv with the same columns."
        ) from err
    except Exception as err:  # calamine and pandas raise several types for a broken file
        raise InputError(
            f"{path}: cannot be read as IXI's demographics spreadsheet ({err}). Delete it "
            "and download IXI.xls again (config/datasets.yaml, IXI)."
        ) from err


def _number(value, path: Path, row: int, column: str) -> float:
    """A cell as a number (NaN when empty); text that is not a number is refused, naming the cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return math.nan
    if isinstance(value, str):
        if value.strip().lower() in ("", "na", "nan", "n/a", "none", "null"):  # a csv's ways to say empty
            return math.nan
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    else:
        number = float(value) if isinstance(value, (int, float, np.integer, np.floating)) else None
    if isinstance(value, (bool, np.bool_)) or number is None or not math.isfinite(number):
        raise InputError(
            f"{path}: row {row}, column {column}: {str(value)[:40]!r} is not a number; fix the cell "
            "(or leave it empty when unknown) or download IXI.xls again."
        )
    return number


def _checked(path: Path, table: pd.DataFrame) -> pd.DataFrame:
    """ixi_id, SEX_ID and AGE as numbers, each in its range; InputError naming the row and column.
    0 in SEX_ID means not recorded (IXI's file has such rows), as does an empty cell."""
    rows = []
    for n, (ixi, sex, age) in enumerate(zip(*(table[c] for c in USED)), start=2):  # row 1: the header
        ixi, sex, age = (_number(v, path, n, c) for v, c in zip((ixi, sex, age), USED))
        if math.isnan(ixi):
            continue  # a row without an id (e.g. a note under the table) names no subject
        for column, ok in (
            ("IXI_ID", ixi.is_integer() and 1 <= ixi <= 99_999),
            ("SEX_ID", math.isnan(sex) or sex in (0, 1, 2)),
            ("AGE", math.isnan(age) or AGE_RANGE[0] <= age <= AGE_RANGE[1]),
        ):
            if not ok:
                raise InputError(
                    f"{path}: row {n}, column {column}: {dict(zip(USED, (ixi, sex, age)))[column]:g} is out of "
                    "range (IXI_ID a whole number, SEX_ID 1 = male, 2 = female, AGE in years); fix the cell."
                )
        rows.append((int(ixi), SEXES.get(int(sex)) if not math.isnan(sex) else None, age))
    return pd.DataFrame(rows, columns=["ixi_id", "sex", "age"])


def read_ixi_demographics(path: str | os.PathLike) -> pd.DataFrame:
    """One row per IXI_ID: ixi_id (int), sex ('M', 'F' or 'unknown'), age (years; NaN unknown).
    The file is bounded (MAX_BYTES, MAX_ROWS, MAX_CELLS) before it is parsed and every used cell
    is checked (`_checked`); InputError (one line naming the file, row and column) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{path}: IXI's demographics file not found. Download it (rule download, "
            "config/datasets.yaml IXI/IXI.xls) or put IXI.xls there."
        )
    table = _read_table(path)
    table.columns = [_column(c) for c in table.columns]
    missing = [c for c in USED if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; IXI's layout is {', '.join(COLUMNS)}.")
    table = _checked(path, table.loc[:, ~table.columns.duplicated()])

    # A value listed twice differently is not known (vectorised: 100,000 rows in well under a second).
    groups = table.assign(age=table["age"].round(2)).groupby("ixi_id", sort=True)
    first, distinct = groups[["sex", "age"]].first(), groups[["sex", "age"]].nunique()
    return pd.DataFrame(
        {
            "ixi_id": first.index.astype(int),
            "sex": first["sex"].where(distinct["sex"] == 1, UNKNOWN).to_numpy(dtype=object),
            "age": first["age"].where(distinct["age"] == 1, np.nan).to_numpy(dtype=float),
        }
    )


def age_bands(edges) -> list[str]:
    """Band names, youngest first: ['<40', '40-59', '>=60'] for edges (40, 60)."""
    edges = list(edges)
    return [f"<{edges[0]:g}", *[f"{lo:g}-{hi - 1:g}" for lo, hi in zip(edges, edges[1:])], f">={edges[-1]:g}"]


def age_band(age: float, edges) -> str:
    """The band of an age (years) among `age_bands(edges)`; 'unknown' for NaN."""
    if age is None or pd.isna(age):
        return UNKNOWN
    return age_bands(edges)[int(np.searchsorted(list(edges), age, side="right"))]


def subject_groups(subjects, demographics: pd.DataFrame, age_edges) -> pd.DataFrame:
    """subject -> site, sex, age band (columns subject, site, sex, age_band)."""
    by_id = demographics.set_index("ixi_id")
    rows = []
    for subject in subjects:
        ixi_id, site = parse_subject(subject)
        known = ixi_id is not None and ixi_id in by_id.index
        rows.append(
            {
                "subject": subject,
                "site": site,
                "sex": by_id.at[ixi_id, "sex"] if known else UNKNOWN,
                "age_band": age_band(by_id.at[ixi_id, "age"] if known else np.nan, age_edges),
            }
        )
    return pd.DataFrame(rows, columns=["subject", "site", "sex", "age_band"])
