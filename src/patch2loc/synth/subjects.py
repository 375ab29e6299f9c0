"""Demo subject ids shaped like each dataset's real ones, and stable per-subject seeds."""
from __future__ import annotations

import zlib

# Demo id patterns per dataset (they parse through datasets.raw_paths) and their capacity.
_ID_FORMATS = {
    "IXI": (lambda i: f"IXI{900 + i:03d}-Demo-{1000 + i:04d}", 100),
    "BraTS21": (lambda i: f"BraTS2021_{90000 + i:05d}", 10000),
    "MSLUB": (lambda i: f"patient{i + 1:02d}", 99),
    "ATLAS_v2": (lambda i: f"sub-r099s{i + 1:03d}", 999),
    "WMH": (lambda i: f"Demo_{i + 1:02d}", 99),
}


def demo_subject_ids(dataset: str, n: int) -> list[str]:
    """`n` deterministic subject ids shaped like the dataset's real ones (e.g. IXI900-Demo-1000)."""
    if dataset not in _ID_FORMATS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(_ID_FORMATS)}")
    fmt, capacity = _ID_FORMATS[dataset]
    if not 0 <= n <= capacity:
        raise ValueError(f"the demo id pattern of {dataset} holds at most {capacity} subjects, asked for {n}")
    return [fmt(i) for i in range(n)]


def subject_seed(seed: int, dataset: str, subject: str) -> int:
    """A stable per-subject seed: adding subjects never changes the existing ones."""
    return zlib.crc32(f"{seed}/{dataset}/{subject}".encode())
