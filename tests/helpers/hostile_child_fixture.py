"""The fixture the hostile entry-point tests share (tests/helpers/hostile_child.py), built once a
session, lazily:
the demo BIDS dataset at 6 mm (patch2loc.bids.demo) and bundles exported from
tests/helpers/safety.finished_run (a 6 mm MNI atlas, whose real chain registers a 6 mm scan in
seconds) with two untrained tiny folds: Patch2Loc (for the BIDS App, T1w scans) and DDPM, pDDPM
(tests/predict/test_predict_diffusion.py's models); and `Case`, the record each case is, with `call`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from patch2loc.registry import DEFAULT_METHOD

RUNNER = Path(__file__).with_name("entry_call.py")  # runs a library function as an entry point


@dataclass
class Case:
    name: str
    surface: str
    build: object  # build(fix, folder) -> argv after the interpreter (["-m", "patch2loc.cli", ...])
    expect: int = 2
    needle: str = ""  # a refusal's line must match this regular expression (case-insensitive)
    allow_out: tuple = ()  # names a refusal may leave in out/ (a download's .part)
    timeout: float | None = None
    env: dict = field(default_factory=dict)
    like: str = ""  # exit 0 as this control, in about its time and memory (a file the entry point never reads)


def call(function: str, **kwargs) -> list[str]:
    """argv running `module:function(**kwargs)` as an entry point (tests/helpers/entry_call.py)."""
    return [str(RUNNER.resolve()), "--call", function, json.dumps(kwargs)]


class Fixture:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    @cached_property
    def bids(self) -> tuple[Path, Path]:
        """(the demo BIDS dataset at 6 mm, a T1 bundle of the run whose chain works on it)."""
        from tests.helpers.bids import SPACING

        from patch2loc.bids.demo import write_demo_bids

        data = self.root / "bids"
        if not (data / "dataset_description.json").exists():
            write_demo_bids(data, spacing=SPACING)
        return data, self.bundle(DEFAULT_METHOD)

    @cached_property
    def run(self) -> tuple[Path, object]:
        """tests/helpers/safety.finished_run (a 6 mm MNI atlas, 32 x 32 x 20, two preprocessed
        scans' landmarks) and its third raw scan, with what export reads besides; built once."""
        from types import SimpleNamespace

        import yaml
        from tests.helpers.safety import finished_run

        record = self.root / "wf" / "scan.json"
        if record.exists():
            saved = json.loads(record.read_text())
            return Path(saved["run"]), SimpleNamespace(image=Path(saved["image"]), mask=Path(saved["mask"]))
        shutil.rmtree(self.root / "wf", ignore_errors=True)
        run, scan = finished_run(self.root / "wf")
        cfg = yaml.safe_load((run / "config.resolved.yaml").read_text())
        cfg.update(run_name="r", folds=[0, 1])
        cfg["heatmap"].update(stride=1, centres="dilated")
        (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
        (run / "versions.txt").write_text("patch2loc: benchmark\n")
        record.write_text(json.dumps({"run": str(run), "image": str(scan.image), "mask": str(scan.mask)}))
        return run, scan

    @cached_property
    def trained_range(self) -> dict:
        """The in-brain intensity range of the run's two normalised scans (what training records)."""
        import nibabel as nib
        import numpy as np

        from patch2loc.checks.intensities import training_range
        from patch2loc.preprocessing.normalize import normalize_scan

        run, _ = self.run
        images, masks = [], []
        for pre in sorted((self.root / "wf" / "pre").iterdir()):
            out = normalize_scan(pre / "uncropped.nii.gz", pre / "uncropped_mask.nii.gz", run / "landmarks" / "T1.npy",
                                 self.root / "norm" / f"{pre.name}.nii.gz", target_shape=(32, 32, 20))  # fmt: skip
            images.append(np.asarray(nib.load(out).dataobj))
            masks.append(np.asarray(nib.load(pre / "mask.nii.gz").dataobj) > 0)
        return training_range(np.stack(images), np.stack(masks))

    def bundle(self, method: str) -> Path:
        """A bundle of the run with two untrained tiny `method` folds for its grid (Patch2Loc: a
        width-4 patch net, as tests/predict/test_predict_tool; a diffusion model: test_predict_diffusion's)."""
        import torch
        from tests.helpers.checkpoints import as_written, diffusion_checkpoint

        from patch2loc import cli
        from patch2loc.run.checkpoint import save_checkpoint
        from patch2loc.run.layout import RunLayout
        from patch2loc.methods.patch2loc.model import Patch2LocNet

        run, _ = self.run
        bundle = self.root / f"{method}.zip"
        if bundle.exists():
            return bundle
        layout = RunLayout(run)
        for k in (0, 1):
            path = Path(layout.checkpoint("T1", k, method))
            path.parent.mkdir(parents=True, exist_ok=True)
            if method == DEFAULT_METHOD:  # the paper's (a tiny Patch2LocNet); the others are diffusion models
                torch.manual_seed(k)
                ckpt = as_written({"model": Patch2LocNet(4).eval().state_dict(), "patch_size": 4}, method)
            else:
                ckpt = torch.load(diffusion_checkpoint(path, method, seed=k), weights_only=True)
            ckpt["config"].update(volume_shape=[32, 32, 20], intensity_range=self.trained_range)  # the run's
            save_checkpoint(path, ckpt)
            Path(layout.threshold(method, "T1", f"fold{k}")).parent.mkdir(parents=True, exist_ok=True)
            Path(layout.threshold(method, "T1", f"fold{k}")).write_text(json.dumps({"threshold": 0.1}))
        argv = ["export", str(run), "--modality", "T1", "--method", method, "--out", str(bundle), "--quiet"]
        assert cli.main(argv) == 0
        return bundle
