"""`patch2loc predict --method DDPM|pDDPM|cDDPM` and `export --method ...`: the diffusion models
are applied like the DAE (checkpoints, a run's folds, a bundle), through the same glue.

Untrained tiny models (width 8, one block; their zero-initialised last layer given random weights
so the maps are not all zero) with fixed seeds: what is tested is the path the maps take and that
the same model gives the same bytes everywhere, not their quality. The run is test_bundle's.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from tests.helpers.fake_chain import fake_prepare
from tests.helpers.safety import make_case, predict_argv
from tests.helpers.bundle import make_run

from patch2loc import cli
from patch2loc.run.layout import RunLayout
from patch2loc.methods.diffusion.score import anomaly_map, load_model
from patch2loc.scoring import postprocess
from tests.helpers.checkpoints import SETTINGS, diffusion_checkpoint


@pytest.fixture(scope="module", params=list(SETTINGS))
def built(request, tmp_path_factory):
    method = request.param
    base = tmp_path_factory.mktemp(method)
    c = make_case(base / "in")
    run = make_run(base / "wf", c)
    layout = RunLayout(run)
    for k in (0, 1):
        diffusion_checkpoint(Path(layout.checkpoint("T1", k, method)), method, seed=k)
        Path(layout.threshold(method, "T1", f"fold{k}")).parent.mkdir(parents=True)
        Path(layout.threshold(method, "T1", f"fold{k}")).write_text(json.dumps({"threshold": 0.1 * (k + 1)}))
    bundle = base / f"{method}.zip"
    assert cli.main(["export", str(run), "--modality", "T1", "--method", method, "--out", str(bundle), "--quiet"]) == 0
    return method, c, run, bundle


def argv(c: dict, out: Path, *extra: str) -> list[str]:
    return predict_argv(c, out, *extra, ckpt=False)


def test_predict_and_bundle_give_the_diffusion_models_mean_map(built, tmp_path, monkeypatch):
    method, c, run, bundle = built
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", fake_prepare)
    folds = [Path(RunLayout(run).checkpoint("T1", k, method)) for k in (0, 1)]
    args = ["--method", method, "--checkpoint", str(folds[0]), "--checkpoint", str(folds[1]), "--median-size", "3"]
    assert cli.main(argv(c, tmp_path / "c" / "h.nii.gz", *args)) == 0
    image = nib.load(c["image"]).get_fdata(dtype=np.float32)
    mask = np.asarray(nib.load(c["mask"]).dataobj) > 0
    maps = [anomaly_map(load_model(p, "cpu", method)[0], image, mask) for p in folds]
    expected = postprocess(np.mean(np.stack(maps).astype(np.float64), axis=0).astype(np.float32), mask, 3)
    heat = np.asarray(nib.load(tmp_path / "c" / "h.nii.gz").dataobj)
    np.testing.assert_array_equal(heat, expected)
    assert np.count_nonzero(heat) > 0
    assert json.loads((tmp_path / "c" / "h_summary.json").read_text())["method"] == method
    # the bundle and the run's folds: the same bytes
    assert cli.main(argv(c, tmp_path / "m" / "x.nii.gz", "--model", str(bundle))) == 0
    assert (
        cli.main(argv(c, tmp_path / "r" / "x.nii.gz", "--from-run", str(run), "--modality", "T1", "--method", method))
        == 0
    )
    assert (tmp_path / "m" / "x.nii.gz").read_bytes() == (tmp_path / "r" / "x.nii.gz").read_bytes()


def test_a_diffusion_checkpoint_is_refused_as_another_method(built, tmp_path, capsys):
    method, c, run, _ = built
    ckpt = RunLayout(run).checkpoint("T1", 0, method)
    assert cli.main(argv(c, tmp_path / "o" / "h.nii.gz", "--method", "DAE", "--checkpoint", ckpt)) == 2
    assert f"a {method} checkpoint, not a DAE one" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
