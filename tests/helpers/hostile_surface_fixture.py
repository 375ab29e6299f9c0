"""The fixture and case kinds of the hostile tests of the later surfaces: hostile_child_fixture.py's
fixture with a bundle of a model of two contrasts added, cases that check what a successful run produced, and the argv that runs a
workflow rule's script as Snakemake does."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tests.helpers.hostile_child_fixture import Case, Fixture

REPO = Path(__file__).resolve().parents[2]
CLI = ["-m", "patch2loc.cli"]
FILES = "hostile_surface_files"  # the entry points a child runs (entry_call.py's folder is on its path)
JOB = {"allow_out": ("job.log",)}  # a rule's job keeps its log, also when it refuses


@dataclass
class Checked(Case):
    check: object = None  # check(folder) -> a problem (str) or None, for a run that exited as expected


class SurfaceFixture(Fixture):
    """hostile_child_fixture.py's fixture and a bundle of a model of two contrasts (T1T2) over its run."""

    @cached_property
    def t1t2(self) -> Path:
        """The run copied with `inputs: {T1T2: [T1, T2]}`, T2 landmarks (the T1's: a crafted run), two
        untrained two-channel Patch2Loc folds with their thresholds, exported as t1t2.zip."""
        import torch
        import yaml
        from tests.helpers.checkpoints import as_written

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
            config = {
                "channels": 2,
                "intensity_range": self.trained_range,
                "intensity_ranges": [self.trained_range] * 2,
            }
            weights = {"model": Patch2LocNet(4, channels=2).eval().state_dict(), "patch_size": 4, "config": config}
            save_checkpoint(path, as_written(weights, grid=(32, 32, 20), modality="T1T2"))
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
