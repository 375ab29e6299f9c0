"""The subject lists as the workflow's DAG asks for them: each job's input function reads a list of
`splits_dir` (data/subjects.py). Times those calls with each list's content parsed once against
parsed at every call, side by side in one run, on the shipped paper lists (splits/).

    python benchmarks/bench_subject_lists.py            # 1,500 jobs' worth of calls
    python benchmarks/bench_subject_lists.py --tiny     # 20 (CI: the path, not the speed)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from unittest import mock

from patch2loc.data import subjects

SPLITS = Path(__file__).resolve().parents[1] / "splits"
LESION_SETS = ("BraTS21", "MSLUB", "ATLAS_v2", "WMH")


def one_job() -> int:
    """The lists one job's inputs name: the IXI splits of a fold and every lesion set (a scoring or
    table job's share; the counts keep the work from being optimised away)."""
    n = sum(len(subjects.ixi_subjects(SPLITS, s, m, 0)) for s in ("train", "val") for m in ("T1", "T2"))
    n += len(subjects.ixi_subjects(SPLITS, "test", "T2"))
    return n + sum(len(subjects.lesion_subjects(SPLITS, d)) for d in LESION_SETS)


def seconds(jobs: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    total = sum(one_job() for _ in range(jobs))
    return time.perf_counter() - t0, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1500)
    ap.add_argument("--tiny", action="store_true", help="20 jobs")
    args = ap.parse_args(argv)
    jobs = 20 if args.tiny else args.jobs
    subjects._rows.cache_clear()
    cached, n_cached = seconds(jobs)
    with mock.patch.object(subjects, "_rows", subjects._rows.__wrapped__):  # parsed at every call
        parsed, n_parsed = seconds(jobs)
    assert n_cached == n_parsed, (n_cached, n_parsed)  # the same lists either way
    print(f"{jobs} jobs' subject lists: parsed each call {parsed:.2f} s, parsed once per content {cached:.2f} s")
    print(f"speed-up (parsed each call / once): {parsed / cached:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
