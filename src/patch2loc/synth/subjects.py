"""Demo subject ids shaped like each dataset's real ones, stable per-subject seeds, and the demo's
IXI demographics (sites in the ids as IXI's, ages and sexes in IXI's spreadsheet columns)."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from patch2loc.data.demographics import COLUMNS as IXI_COLUMNS  # IXI.xls's columns, in its order

IXI_SITES = ("Guys", "HH", "IOP")  # the three IXI hospitals, in every IXI id
# Demo id patterns per dataset (they parse through datasets.raw_paths) and their capacity.
_ID_FORMATS = {
    "IXI": (lambda i: f"IXI{900 + i:03d}-{IXI_SITES[i % 3]}-{1000 + i:04d}", 100),
    "BraTS21": (lambda i: f"BraTS2021_{90000 + i:05d}", 10000),
    "MSLUB": (lambda i: f"patient{i + 1:02d}", 99),
    "ATLAS_v2": (lambda i: f"sub-r099s{i + 1:03d}", 999),
    "WMH": (lambda i: f"Demo_{i + 1:02d}", 99),
}
# The demo's IXI ids (numbers 900-999, above the real ones) had 'Demo' where the site is now: their
# seeds keep that name, so adding the sites changed no demo brain.
_DEMO_IXI = re.compile(r"(IXI9\d\d)-(?:Guys|HH|IOP)-(1\d\d\d)")


def demo_subject_ids(dataset: str, n: int) -> list[str]:
    """`n` deterministic subject ids shaped like the dataset's real ones (e.g. IXI900-Guys-1000)."""
    if dataset not in _ID_FORMATS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(_ID_FORMATS)}")
    fmt, capacity = _ID_FORMATS[dataset]
    if not 0 <= n <= capacity:
        raise ValueError(f"the demo id pattern of {dataset} holds at most {capacity} subjects, asked for {n}")
    return [fmt(i) for i in range(n)]


def subject_seed(seed: int, dataset: str, subject: str) -> int:
    """A stable per-subject seed: adding subjects never changes the existing ones."""
    if dataset == "IXI" and (demo := _DEMO_IXI.fullmatch(subject)):
        subject = f"{demo.group(1)}-Demo-{demo.group(2)}"
    return zlib.crc32(f"{seed}/{dataset}/{subject}".encode())


def demo_age(seed: int) -> float:
    """The demo age (years, 20-86) of the subject whose per-subject seed is `seed`: the draw that
    `ixi_demographics` makes for IXI's AGE column, from the same stream, for any dataset."""
    rng = np.random.default_rng([seed, 1])
    rng.integers(0, 540)  # the study date's draw comes first
    return int(rng.uniform(20.0, 86.0) * 365.25) / 365.25


def ixi_demographics(subjects: list[str], seed: int) -> pd.DataFrame:
    """IXI.xls's rows for demo or fixture subjects: sex, age 20-86 (IXI's range) and the other
    columns filled plausibly, drawn from each subject's own stream (not the scan's: its brain
    does not change). The site is in the id."""
    rows = []
    for subject in subjects:
        match = re.fullmatch(r"IXI(\d{3})-[A-Za-z]+-\d{4}", subject)
        if not match:
            raise ValueError(f"{subject!r} is not an IXI id (IXI###-Site-####)")
        rng = np.random.default_rng([subject_seed(seed, "IXI", subject), 1])
        study = dt.date(2005, 6, 1) + dt.timedelta(days=int(rng.integers(0, 540)))
        age_days = int(rng.uniform(20.0, 86.0) * 365.25)
        rows.append(
            {
                "IXI_ID": int(match.group(1)),
                "SEX_ID": int(rng.integers(1, 3)),
                "HEIGHT": int(rng.integers(150, 196)),
                "WEIGHT": int(rng.integers(50, 101)),
                "ETHNIC_ID": int(rng.integers(1, 6)),
                "MARITAL_ID": int(rng.integers(1, 6)),
                "OCCUPATION_ID": int(rng.integers(1, 9)),
                "QUALIFICATION_ID": int(rng.integers(1, 6)),
                "DOB": study - dt.timedelta(days=age_days),
                "DATE_AVAILABLE": 1,
                "STUDY_DATE": study,
                "AGE": round(age_days / 365.25, 2),
            }
        )
    return pd.DataFrame(rows, columns=list(IXI_COLUMNS))


def write_ixi_demographics_csv(subjects: list[str], seed: int, path: str | Path) -> Path:
    """The demo's IXI.csv: `ixi_demographics` as a csv export of IXI.xls (same columns)."""
    from patch2loc.files.io import write_csv

    write_csv(ixi_demographics(subjects, seed), path)
    return Path(path)
