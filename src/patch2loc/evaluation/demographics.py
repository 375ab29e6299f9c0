"""IXI's demographics (IXI.xls) and the site in every IXI subject id: the groups of the bias table.

IXI publishes one spreadsheet, IXI.xls (Excel 97-2003), whose first sheet has the columns
IXI_ID, SEX_ID (1 = male, 2 = female), HEIGHT, WEIGHT, ETHNIC_ID, MARITAL_ID, OCCUPATION_ID,
QUALIFICATION_ID, DOB, DATE_AVAILABLE, STUDY_DATE, AGE (years, with decimals). The reader takes
that file as IXI serves it (.xls, read by pandas with the calamine engine: pandas 3 deprecates its
xlrd engine) or a csv with the same columns (a spreadsheet program's export; the demo writes one).
Only IXI_ID, SEX_ID and AGE are used. A subject listed twice with different sex or age, or not
listed, is in the group "unknown" for what is not known.

The site is the middle of the subject id (IXI002-Guys-0828, IXI014-HH-1236): Guy's Hospital
(Philips 1.5 T), Hammersmith Hospital (HH, Philips 3 T) or the Institute of Psychiatry (IOP, GE
1.5 T), as IXI's page describes them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

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


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in (".xls", ".csv"):
        raise InputError(
            f"{path}: demographics must be IXI's IXI.xls or a .csv with its columns ({', '.join(COLUMNS)})."
        )
    try:
        if suffix == ".xls":
            return pd.read_excel(path, sheet_name=0, engine="calamine")
        return pd.read_csv(path)
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


def read_ixi_demographics(path: str | os.PathLike) -> pd.DataFrame:
    """One row per IXI_ID: ixi_id (int), sex ('M', 'F' or 'unknown'), age (years; NaN unknown)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{path}: IXI's demographics file not found. Download it (rule download, "
            "config/datasets.yaml IXI/IXI.xls) or put IXI.xls there."
        )
    table = _read_table(path)
    table.columns = [str(c).strip().upper() for c in table.columns]
    missing = [c for c in USED if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; IXI's layout is {', '.join(COLUMNS)}.")
    ids = pd.to_numeric(table["IXI_ID"], errors="coerce")
    table = pd.DataFrame(
        {
            "ixi_id": ids,
            "sex": pd.to_numeric(table["SEX_ID"], errors="coerce").map(SEXES),
            "age": pd.to_numeric(table["AGE"], errors="coerce"),
        }
    )[ids.notna()]
    table["ixi_id"] = table["ixi_id"].astype(int)

    def one(values: pd.Series, missing):  # a value listed twice differently is not known
        values = values.dropna().unique()
        return values[0] if len(values) == 1 else missing

    rows = [
        {"ixi_id": i, "sex": one(g["sex"], UNKNOWN), "age": one(g["age"].round(2), np.nan)}
        for i, g in table.groupby("ixi_id", sort=True)
    ]
    return pd.DataFrame(rows, columns=["ixi_id", "sex", "age"])


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
