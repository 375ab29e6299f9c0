"""Shared by the bundle tests: a finished run as the workflow leaves it, and bundles rewritten."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import torch
import yaml
from tests.helpers.safety import SHAPE, predict_argv

from patch2loc.run.layout import RunLayout

THRESHOLDS = {0: 3.5, 1: 4.5}


def make_run(base: Path, c: dict, atlas: tuple[Path, Path] | None = None) -> Path:
    """A finished run as the workflow leaves it, through patch2loc.run.layout: config, landmarks, the
    recorded atlas (the case's image and mask, or `atlas`), two folds' best.pt and thresholds,
    versions.txt."""
    layout = RunLayout(base / "results" / "r")
    cfg = {
        "run_name": "r",
        "folds": [0, 1],
        "preprocess": {"spacing": [1.0, 1.0, 1.0], "target_shape": list(SHAPE)},
        "normalize": {"percentile": 98.0},
        "heatmap": {"median_size": 3, "stride": 1, "centres": "dilated"},
        "atlas": {"image": "data/atlas.nii.gz", "mask": "data/mask.nii.gz"},
    }
    Path(layout.landmarks("T1")).parent.mkdir(parents=True)
    Path(layout.config).write_text(yaml.safe_dump(cfg))
    Path(layout.versions).write_text("patch2loc: test\n")
    np.save(layout.landmarks("T1"), np.vstack([np.linspace(1, 100, 11), [1, *range(10, 100, 10), 99]]))
    Path(layout.atlas_image).parent.mkdir()
    shutil.copy(atlas[0] if atlas else c["image"], layout.atlas_image)
    shutil.copy(atlas[1] if atlas else c["mask"], layout.atlas_mask)
    for k, thr in THRESHOLDS.items():
        Path(layout.model_dir("Patch2Loc", "T1", k)).mkdir(parents=True)
        ckpt = torch.load(c["ckpt"], weights_only=True)  # + what only resuming needs: not exported
        torch.save(
            {**ckpt, "optimizer": {"state": {0: {"exp_avg": torch.ones(3)}}}, "loss_rows": [[1, 2.0]]},
            layout.checkpoint("T1", k),
        )
        Path(layout.threshold("Patch2Loc", "T1", f"fold{k}")).parent.mkdir(parents=True)
        Path(layout.threshold("Patch2Loc", "T1", f"fold{k}")).write_text(json.dumps({"threshold": thr}))
    return Path(layout.root)


def model_argv(c, bundle, out, *extra):
    """predict --model: the shared argv (safety.predict_argv) with the bundle for the checkpoint."""
    return predict_argv(c, out, *extra, model=bundle)


def rewrite(bundle: Path, change, rehash: bool = False) -> None:
    """Rewrite the zip with change({name: bytes}) applied; rehash: a manifest that matches the change
    (the hostile content must then be caught by its own reader)."""
    with zipfile.ZipFile(bundle) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    extra = change(members)
    extra = extra if isinstance(extra, list) else []
    if rehash:
        manifest = json.loads(members["manifest.json"])
        manifest["members"] = {
            n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for n, d in members.items()
            if n != "manifest.json"
        }
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(bundle, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for info, data in extra:
            zf.writestr(info, data)
