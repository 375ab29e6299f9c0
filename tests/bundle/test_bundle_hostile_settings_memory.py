"""The memory bombs of a bundle's settings. `timesteps` 1e8 or 1e9 (the schedule's
tensors), `width` 4096 or `blocks` 5000 (the network) built 4-6 GB before anything was checked;
now the ranges refuse them, and settings within their ranges are held to the memory budget
(PATCH2LOC_MEMORY_BUDGET_MB): the network's weights, counted on torch's meta device, and on the CPU
what scoring a batch of slices holds (networks/rebuild.py, methods/diffusion/bounds.py). Each
refusal runs in a child process whose peak memory is measured (helpers.hostile.refused_in_child):
one line, exit 2, nothing written, the peak of a tiny good input's or less."""

from __future__ import annotations

import pytest
from tests.helpers.bundle import model_argv
from tests.helpers.fake_chain import fake_prepare
from tests.helpers.hostile import refused_in_child
from tests.helpers.safety import refused
from tests.helpers.settings import exported_bundle, with_config

from patch2loc.checks.limits import MEMORY_ENV
from patch2loc.methods.diffusion.bounds import scoring_bytes


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    base = tmp_path_factory.mktemp("bombs")
    return {m: exported_bundle(base / m, m) for m in ("DDPM", "cDDPM", "DAE")}


BOMBS = [
    ("DDPM", {"timesteps": 10**8}, "config.timesteps 100000000 must be a whole number from 2 to 100000"),
    ("DDPM", {"timesteps": 10**9}, "config.timesteps 1000000000 must be a whole number from 2 to 100000"),
    ("DDPM", {"width": 4096}, "config.width 4096 must be a whole number from 1 to 1024"),
    ("DDPM", {"blocks": 5000}, "config.blocks 5000 must be a whole number from 1 to 8"),
    # within every range, but the networks (with the checkpoint's tensors) would need 21, 92 and 237 GiB
    ("DDPM", {"width": 1024, "blocks": 8}, "the network its config describes (config width, mults, blocks"),
    ("cDDPM", {"width": 1024, "mults": [1, 2, 4, 8]}, "the network its config describes"),
    ("DAE", {"width": 1024, "depth": 6}, "the network its config describes (config width, depth) needs about"),
]


@pytest.mark.slow  # child processes: their peak memory is measured
@pytest.mark.parametrize(("method", "changes", "says"), BOMBS, ids=[f"{m}-{c}" for m, c, _ in BOMBS])
def test_a_memory_bomb_is_refused_before_anything_is_built(bundles, tmp_path, method, changes, says):
    c, good = bundles[method]
    bad = with_config(good, tmp_path / "b" / f"{method}.zip", **changes)
    line, _ = refused_in_child(model_argv(c, bad, tmp_path / "out" / "h.nii.gz"), says, tmp_path)
    assert f"{method}.zip:folds/fold0.pt" in line
    if "network" in says:
        assert "more than the memory budget of 4,096 MB; nothing was built" in line and MEMORY_ENV in line


def test_scoring_on_the_cpu_is_held_to_the_budget(bundles, tmp_path, capsys, monkeypatch):
    """A budget below what scoring a batch of slices takes (its libraries' working memory alone:
    192 MB): refused before the network is built, naming the keys the estimate follows."""
    c, good = bundles["DDPM"]
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", fake_prepare)  # scored before: exit 0
    monkeypatch.setenv(MEMORY_ENV, "128")
    line = refused(model_argv(c, good, tmp_path / "out" / "h.nii.gz"), "scoring with it on the CPU", tmp_path, capsys)
    assert "(config volume_shape, rescale, width, mults, blocks) needs about 19" in line
    assert "more than the memory budget of 128 MB" in line


def test_the_scoring_estimate_covers_the_paper_models_measured_peak():
    """The paper's DDPM (width 128, [1, 2, 2], 3 blocks, 2 mm) on 8 slices of 192 x 192 held 691 MB
    on the CPU (docs/diffusion.md, measured 2026-11-25); its estimate is above, and not twice it."""
    paper = {"width": 128, "mults": [1, 2, 2], "blocks": 3, "rescale": 2, "encoder": "resnet50"}
    need = scoring_bytes(paper, (192, 192, 8)) / 2**20
    assert 691 <= need <= 2 * 691
