"""Shared by the tests of hostile settings in bundles and checkpoints: small bundles of
the diffusion models and the DAE (test_predict_diffusion's and test_predict_dae's untrained tiny
models, exported by `patch2loc export`), and copies of them whose folds' `config` is changed, with
a manifest that matches (so the settings, not the hashes, must be what refuses them)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import torch
from tests.helpers.bundle import make_run, rewrite
from tests.helpers.safety import make_case
from tests.helpers.checkpoints import dae_checkpoint
from tests.helpers.checkpoints import diffusion_checkpoint

from patch2loc import cli
from patch2loc.run.layout import RunLayout

FOLDS = ("folds/fold0.pt", "folds/fold1.pt")


def exported_bundle(base: Path, method: str) -> tuple[dict, Path]:
    """(the case: image, mask; a two-fold bundle of `method` made from a finished run)."""
    c = make_case(base / "in")
    run = make_run(base / "wf", c)
    layout = RunLayout(run)
    for k in (0, 1):
        path = Path(layout.checkpoint("T1", k, method))
        dae_checkpoint(path, seed=k) if method == "DAE" else diffusion_checkpoint(path, method, seed=k)
        Path(layout.threshold(method, "T1", f"fold{k}")).parent.mkdir(parents=True, exist_ok=True)
        Path(layout.threshold(method, "T1", f"fold{k}")).write_text(json.dumps({"threshold": 0.5}))
    bundle = base / f"{method}.zip"
    argv = ["export", str(run), "--modality", "T1", "--method", method, "--out", str(bundle), "--quiet"]
    assert cli.main(argv) == 0
    return c, bundle


def with_config(bundle: Path, dest: Path, drop: tuple[str, ...] = (), **changes) -> Path:
    """A copy of `bundle` at `dest` whose folds' config has `changes` and lacks `drop` (the
    manifest rehashed)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(bundle, dest)

    def change(members: dict) -> None:
        for name in FOLDS:
            ckpt = torch.load(io.BytesIO(members[name]), weights_only=True)
            ckpt["config"] = {k: v for k, v in {**ckpt["config"], **changes}.items() if k not in drop}
            out = io.BytesIO()
            torch.save(ckpt, out)
            members[name] = out.getvalue()

    rewrite(dest, change, rehash=True)
    return dest


def fold_checkpoint(bundle: Path, dest: Path, **changes) -> Path:
    """The bundle's first fold as a plain checkpoint file (for --checkpoint), config changed."""
    import zipfile

    with zipfile.ZipFile(bundle) as zf:
        ckpt = torch.load(io.BytesIO(zf.read(FOLDS[0])), weights_only=True)
    ckpt["config"] = {**ckpt["config"], **changes}
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, dest)
    return dest
