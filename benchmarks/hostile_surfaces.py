"""Hostile inputs on the surfaces beyond hostile_round4.py's: models of several contrasts (predict,
export, bundles), the BIDS App's pairing of contrasts, evaluation inputs (--seg, native-space labels),
the cross-fitted tuning's files (merge_score_shards), the anatomy and test-data caches, the settings of
the newer methods (schema, AE/VAE/DAE), and what hostile_round4.py left out (BIDS filters, export's settings and
file sizes, the bias table's inputs, the SRI24 archive's memory).

The machinery is benchmarks/hostile_round4.py's (each case in a child process through its real entry
point, judged on exit status, stderr lines, peak RSS, files written, what a refusal left in out/, inputs
changed; its docstring has the rules), with two additions: a case may run a workflow rule's script as
Snakemake does (a fresh interpreter with a `snakemake` object: tests/helpers/scripts.py), its log kept
in out/job.log; and a case may `check` what a run that should succeed produced (a number that would be
silently wrong: a Dice above 1, a lesion that vanished). Every case of a surface comes with its control.
The cases: hostile_surfaces_cases.py (models, BIDS, export), hostile_surfaces_data_cases.py (labels,
tuning) and hostile_surfaces_cache_cases.py (caches, settings, the bias table, the atlas); crafted files
and entry points: hostile_surfaces_files.py. The fixture (hostile_surfaces_fixture.py) is
hostile_round4_fixture.py's, with a T1T2 bundle of its run added.

    PYTHONPATH=src python benchmarks/hostile_surfaces.py [--work /tmp/p2l_surfaces] [--cases PATTERN]
        [--out table.md] [--timeout 180]
"""

from __future__ import annotations

import sys
from pathlib import Path

from hostile_round4 import battery_parser, run_battery
from hostile_round4_fixture import Case
from hostile_surfaces_fixture import REPO, SurfaceFixture


def _checked(row: dict, case: Case, work: Path) -> None:
    """A run that exited as expected is also held to its case's check of its outputs."""
    check = getattr(case, "check", None)
    if check is None or row.get("verdict") != "PASS":
        return
    problem = check(work / "cases" / case.name)
    if problem:
        row["verdict"], row["note"] = "FAIL", problem


def main() -> int:
    args = battery_parser(__doc__.splitlines()[0], "/tmp/p2l_surfaces", 180.0).parse_args()
    sys.path[:0] = [str(REPO / "src"), str(REPO), str(REPO / "benchmarks")]
    from hostile_surfaces_cache_cases import CASES as CACHES
    from hostile_surfaces_cases import CASES as MODELS
    from hostile_surfaces_data_cases import CASES as DATA

    return run_battery([*MODELS, *DATA, *CACHES], SurfaceFixture, args, after=_checked)


if __name__ == "__main__":
    sys.exit(main())
