"""Hostile inputs on the surfaces added after the round-4 battery: models of several contrasts (predict,
export, bundles), the BIDS App's pairing of contrasts, evaluation inputs (--seg, native-space labels),
the cross-fitted tuning's files (merge_score_shards), the anatomy and test-data caches, the settings of
the newer methods (schema, AE/VAE/DAE), and the round-4 leftovers (BIDS filters, export's settings and
file sizes, the bias table's inputs, the SRI24 archive's memory).

The machinery is benchmarks/hostile_round4.py's (each case in a child process through its real entry
point, judged on exit status, stderr lines, peak RSS, files written, what a refusal left in out/, inputs
changed; its docstring has the rules), with two additions: a case may run a workflow rule's script as
Snakemake does (a fresh interpreter with a `snakemake` object: tests/helpers/scripts.py), its log kept
in out/job.log; and a case may `check` what a run that should succeed produced (a number that would be
silently wrong: a Dice above 1, a lesion that vanished). Every case of a surface comes with its control.
The cases: hostile_surfaces_cases.py (models, BIDS, export), hostile_surfaces_data_cases.py (labels,
tuning) and hostile_surfaces_cache_cases.py (caches, settings, the bias table, the atlas); crafted files
and entry points: hostile_surfaces_files.py. The shared fixture is round 4's, with a T1T2 bundle of its run added.

    PYTHONPATH=src python benchmarks/hostile_surfaces.py [--work /tmp/p2l_surfaces] [--cases PATTERN]
        [--out table.md] [--timeout 180]
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from hostile_round4 import battery_parser, run_battery
from hostile_round4_fixture import Case, Fixture

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Checked(Case):
    check: object = None  # check(folder) -> a problem (str) or None, for a run that exited as expected


class SurfaceFixture(Fixture):
    """Round 4's fixture and a bundle of a model of two contrasts (T1T2) over its run."""

    @cached_property
    def t1t2(self) -> Path:
        """The run copied with `inputs: {T1T2: [T1, T2]}`, T2 landmarks (the T1's: a crafted run), two
        untrained two-channel Patch2Loc folds with their thresholds, exported as t1t2.zip."""
        import torch
        import yaml

        from patch2loc import cli
        from patch2loc.methods.patch2loc.model import Patch2LocNet
        from patch2loc.run.checkpoint import save_checkpoint
        from patch2loc.run.layout import RunLayout

        bundle = self.root / "t1t2.zip"
        if bundle.exists():
            return bundle
        run = self.root / "t1t2_run" / "r"
        shutil.rmtree(run.parent, ignore_errors=True)
        shutil.copytree(self.run[0], run, ignore=shutil.ignore_patterns("models", "scores"))
        cfg = yaml.safe_load((run / "config.resolved.yaml").read_text())
        cfg["inputs"] = {"T1": ["T1"], "T2": ["T2"], "T1T2": ["T1", "T2"]}
        (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
        layout = RunLayout(run)
        shutil.copy(layout.landmarks("T1"), layout.landmarks("T2"))
        for k in (0, 1):
            torch.manual_seed(k)
            path = Path(layout.checkpoint("T1T2", k))
            path.parent.mkdir(parents=True, exist_ok=True)
            config = {"volume_shape": [32, 32, 20], "channels": 2, "modality": "T1T2"}
            config |= {"intensity_range": self.trained_range, "intensity_ranges": [self.trained_range] * 2}
            save_checkpoint(path, {"model": Patch2LocNet(4, channels=2).eval().state_dict(), "patch_size": 4,
                                   "modality": "T1T2", "config": config})  # fmt: skip
            threshold = Path(layout.threshold("Patch2Loc", "T1T2", f"fold{k}"))
            threshold.parent.mkdir(parents=True, exist_ok=True)
            threshold.write_text(json.dumps({"threshold": 0.1}))
        argv = ["export", str(run), "--modality", "T1T2", "--out", str(bundle), "--quiet"]
        assert cli.main(argv) == 0
        return bundle

    @cached_property
    def ddpm_run(self) -> Path:
        """The run with its two DDPM folds (what Fixture.bundle("DDPM") trained into it)."""
        self.bundle("DDPM")
        return self.run[0]


def script_argv(folder: Path, script: str, **fields) -> list[str]:
    """argv running workflow/scripts/`script` as Snakemake does, its log at out/job.log."""
    from tests.helpers.scripts import RUN_SCRIPT

    spec = {"scriptdir": str(REPO / "workflow" / "scripts"), "log": [str(folder / "out" / "job.log")], "threads": 1}
    return ["-c", RUN_SCRIPT, json.dumps({**spec, **fields}), script]


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
