"""The method registry: every line names a module that does what the workflow asks of a method."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from patch2loc.evaluation.scoring import ScoringConfig, score_case
from patch2loc.io import InputError
from patch2loc.methods import METHODS, REGISTRY, get, implementation

REPO = Path(__file__).resolve().parents[1]


def test_registry_lines_point_at_working_modules():
    assert [m.name for m in REGISTRY] == ["Patch2Loc", "DAE", "Thresh"]
    assert len(METHODS) == len(REGISTRY)
    rules = [m.train_rule for m in REGISTRY if m.trains]
    assert rules == ["train_model", "train_dae"] and len(set(rules)) == len(rules)
    for method in REGISTRY:
        module = implementation(method.name)
        assert callable(module.score)
        if method.trains:
            assert callable(module.load) and callable(module.train_from_files)
            assert method.gpu and method.train_minutes > 0
    assert not get("Thresh").trains and not get("Thresh").gpu
    with pytest.raises(InputError, match="unknown method 'VAE'"):
        get("VAE")


def test_paper_config_runs_every_method_with_its_block():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    assert config["methods"] == ["Patch2Loc", "DAE", "Thresh"]
    for method in REGISTRY:
        assert method.config is None or method.config in config, method.name
    assert config["dae"]["width"] == 64 and config["dae"]["noise_std"] == 0.2


def test_every_method_scores_through_the_shared_post_processing():
    rng = np.random.default_rng(0)
    image = rng.random((16, 16, 6)).astype(np.float32)
    mask = np.zeros(image.shape, bool)
    mask[3:13, 3:13, 1:5] = True
    cfg = ScoringConfig(median_size=3, device="cpu")
    thresh = score_case("Thresh", image, mask, cfg)
    from patch2loc.methods.patch2loc.heatmap import postprocess

    np.testing.assert_array_equal(thresh.score, postprocess(image * mask, mask, 3))
    from patch2loc.methods.dae.model import DenoisingUNet

    dae = score_case("DAE", image, mask, cfg, DenoisingUNet(width=4).eval())
    assert dae.score.shape == image.shape and np.all(dae.score[~mask] == 0)
    np.testing.assert_array_equal(dae.score, postprocess(dae.raw["score"], mask, 3))
    assert set(dae.raw) == {"score"}
