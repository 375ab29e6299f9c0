"""The hostile-input tests of `patch2loc predict` and `patch2loc train`: how a case is written, and
the fixture the cases share.

A case is `@CASES.case(item, name)` on a function of a `Kit` (tests/helpers/hostile_kit.py): it
builds its inputs under `kit.dir/in`, runs the CLI with `kit.run`, and judges with `kit.refused` /
`kit.succeeded` / `kit.find`; `CASES.refusal(...)` writes the common one (a setup, a call, one line
naming the file and the fix, exit 2, nothing left). The item labels the case's group ("9" = the first
safety battery, "20:4" = case 4 of the second, "20:L" = the second's LOW list, "ok" = a clean
reference). Inputs are tiny and self-made: a finished run built like tests/helpers/safety.finished_run,
a preprocessed 16 x 16 x 4 case, train lists. The fixture is built once per session (about a minute).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile_files import header_only_nifti, nifti, nifti_bomb, zip_bomb_checkpoint
from tests.helpers.hostile_kit import REPO, Kit, assert_clean, run_kit_case
from tests.helpers.safety import train_argv

TEMP_MARK = ".p2l-tmp-"
REPO_ENV = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONUTF8": "1"}


class Cases(list):
    """One test module's cases, (item, name, function of a Kit), in the order they were written."""

    def case(self, item: str, name: str):
        def register(fn):
            self.append((item, name, fn))
            return fn

        return register

    def refusal(self, item: str, name: str, needle: str, argv, setup=None, out=None) -> None:
        """A case that must be refused: `setup(k)` builds inputs, `argv(k)` is the call."""

        def run(k: Kit) -> None:
            if setup is not None:
                setup(k)
            k.refused(k.run(argv(k)), needle, out=out(k) if out else None)
            if (k.dir / "witness").exists():  # see witness_pickle
                k.find("HIGH", "a pickle ran code while it was read (its witness file exists)")

        self.append((item, name, run))

    def resume_refusal(self, item: str, name: str, needle: str, setup) -> None:
        """train into a run folder whose resume state `setup(k)` spoilt: refused, nothing written."""
        self.refusal(item, name, needle, lambda k: train(k, out=inp(k, "run")), setup=setup, out=NONE)

    def params(self) -> list:
        return [pytest.param(fn, id=name) for _, name, fn in self]


class CliBattery:
    """The session's shared fixture and the results cases compare against (`shared`)."""

    def __init__(self, work: Path):
        self.work = work
        self.fix = build_fixture(work / "fixture")
        self.shared: dict = {}

    def check(self, name: str, fn) -> None:
        assert_clean(run_kit_case(name, fn, self.fix, self.shared, self.work))


# --------------------------------------------------------------------------- fixture


def build_fixture(root: Path) -> dict:
    """Built once (about a minute) and reused: a finished run with one T1 fold and its threshold,
    the raw scan it has not seen, a preprocessed case, train lists, and the bombs."""
    marker = root / "fixture.json"
    if marker.exists():
        return _paths(json.loads(marker.read_text()))
    import torch
    from tests.helpers.checkpoints import NORMALISED, as_written
    from tests.helpers.safety import finished_run, make_case

    from patch2loc.methods.patch2loc.model import Patch2LocNet

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    run, scan = finished_run(root)
    fold = run / "models" / "T1" / "fold0"
    fold.mkdir(parents=True)
    torch.manual_seed(0)
    weights = {"model": Patch2LocNet(4).eval().state_dict(), "patch_size": 4, "config": {"intensity_range": NORMALISED}}
    torch.save(as_written(weights, grid=(32, 32, 20)), fold / "best.pt")  # the run's grid and normalised scale
    scores = run / "scores" / "Patch2Loc" / "T1" / "fold0" / "IXI"
    scores.mkdir(parents=True)
    (scores / "threshold.json").write_text(json.dumps({"threshold": 4.0}))
    c = make_case(root / "case")
    lists = root / "lists"
    rng = np.random.default_rng(0)
    x, y, _ = np.meshgrid(*[np.linspace(-1, 1, s) for s in (24, 24, 6)], indexing="ij")
    brain = (x**2 + y**2 < 0.8).astype(np.uint8)
    for i in range(3):
        nifti(lists / f"sub{i}" / "image.nii.gz", (rng.random(brain.shape) + x + 2 * y).astype(np.float32) * brain)
        nifti(lists / f"sub{i}" / "mask.nii.gz", brain)
    (lists / "train.csv").write_text(
        "image,mask\nsub0/image.nii.gz,sub0/mask.nii.gz\nsub1/image.nii.gz,sub1/mask.nii.gz\n"
    )
    (lists / "val.csv").write_text("image,mask\nsub2/image.nii.gz,sub2/mask.nii.gz\n")
    bombs = root / "bombs"
    bombs.mkdir()
    nifti_bomb(bombs / "bomb.nii.gz", (1024, 1024, 512))
    header_only_nifti(bombs / "header_only.nii.gz", (1024, 1024, 512))
    zip_bomb_checkpoint(bombs / "bomb.pt", 300_000_000)
    paths = {
        "root": root,
        "run": run,
        "raw": scan.image,
        "raw_mask": scan.mask,
        "ckpt": fold / "best.pt",
        "image": c["image"],
        "mask": c["mask"],
        "case_ckpt": c["ckpt"],
        "affine": c["affine"].tolist(),
        "lists": lists,
        "bombs": bombs,
    }
    marker.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in paths.items()}))
    return _paths(json.loads(marker.read_text()))


def _paths(d: dict) -> dict:
    return {k: (np.asarray(v) if k == "affine" else Path(v)) for k, v in d.items()}


# --------------------------------------------------------------------------- argv


# predict's tail in every case: on the CPU, in fp32, one line per refusal
ON_CPU = ("--device", "cpu", "--amp", "none", "--quiet")


def _predict(k, inputs: list, out, extra: tuple) -> list:
    """predict of `inputs` into `out` (default out/h.nii.gz), on the CPU, then `extra`."""
    return ["predict", *inputs, "--out", out or k.dir / "out" / "h.nii.gz", *ON_CPU, *extra]


def pre(k, *extra, out=None, image=None, mask=None, ckpt=None) -> list:
    """predict on the preprocessed case."""
    inputs = ["--checkpoint", ckpt or k.fix["case_ckpt"], "--image", image or k.fix["image"]]
    return _predict(k, [*inputs, "--mask", mask or k.fix["mask"]], out, extra)


def raw(k, *extra, out=None, image=None, mask="given", run=None) -> list:
    """predict --from-run on the raw scan (the run's fold models and threshold)."""
    masks = ["--mask", k.fix["raw_mask"] if mask == "given" else mask] if mask else []
    source = ["--from-run", run or k.fix["run"], "--modality", "T1"]
    return _predict(k, ["--image", image or k.fix["raw"], *masks, *source], out, extra)


def train(k, *extra, out=None, train_list=None, val_list=None) -> list:
    lists = (train_list or k.fix["lists"] / "train.csv", val_list or k.fix["lists"] / "val.csv")
    return train_argv(*lists, out or k.dir / "out", *extra)


def pre_outputs(k, stem="h", lesions=False):
    d = k.dir / "out"
    return [
        d / f"{stem}.nii.gz",
        d / f"{stem}_summary.json",
        d / f"{stem}_components.csv",
        *([d / f"{stem}_lesions.nii.gz"] if lesions else []),
    ]


def raw_outputs(k, stem="h"):
    d = k.dir / "out"
    return [
        *pre_outputs(k, stem, lesions=True),
        d / f"{stem}_native.nii.gz",
        d / f"{stem}_native_lesions.nii.gz",
        d / f"{stem}_preprocessed",
    ]


def case_image(k) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    return np.asarray(nib.load(k.fix["image"]).dataobj).astype(np.float32), k.fix["affine"]


def raw_image(k):
    import nibabel as nib

    img = nib.load(k.fix["raw"])
    return np.asarray(img.dataobj), img.affine


def wait_for(folder: Path, what, timeout: float = 300) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if folder.exists() and any(what(p) for p in folder.iterdir()):
            return True
        time.sleep(0.05)
    return False


def signal_when(folder: Path, what, sig: int, delay: float = 0.5):
    """A `signal_after` for Kit.run: send `sig` once something in `folder` satisfies `what`."""

    def send(proc):
        if wait_for(folder, what):
            time.sleep(delay)
            proc.send_signal(sig)

    return send


def inp(k, name: str) -> Path:
    return k.dir / "in" / name


NONE = lambda k: k.dir / "none"  # noqa: E731  (the refusal writes into an input folder: nothing to look at)


def witness_pickle(k, path: Path, **fields) -> None:
    """A torch.save file whose pickle would create `k.dir/witness` when loaded unsafely."""
    import torch

    class Payload:
        def __reduce__(self):
            return (open, (str(k.dir / "witness"), "w"))

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**fields, "payload": Payload()}, path)
