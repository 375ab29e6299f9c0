"""The method registry: every line names a module that does what the workflow asks of a method."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from patch2loc.evaluation.dataset.score_dataset import ScoringConfig, score_case
from patch2loc.errors import InputError
from patch2loc.registry import METHODS, REGISTRY, get, implementation

REPO = Path(__file__).resolve().parents[2]


def test_registry_lines_point_at_working_modules():
    assert [m.name for m in REGISTRY] == [
        *("Patch2Loc", "DAE", "Thresh", "DDPM", "pDDPM", "cDDPM", "AE", "VAE"),
        *("RA", "RA-noLPIPS", "PHANES", "PHANES-noPretrained", "FAE", "FAE-random"),
    ]
    assert len(METHODS) == len(REGISTRY)
    rules = [m.train_rule for m in REGISTRY if m.trains]
    assert rules == [
        "train_model",
        "train_dae",
        "train_ddpm",
        "train_pddpm",
        "train_cddpm",
        "train_ae",
        "train_vae",
        "train_ra",
        "train_ra_nolpips",
        "train_phanes",
        "train_phanes_nopretrained",
        "train_fae",
        "train_fae_random",
    ]
    assert len(set(rules)) == len(rules)
    assert [m.pretrain.rule for m in REGISTRY if m.pretrain] == ["pretrain_cddpm"]
    for method in REGISTRY:
        module = implementation(method.name)
        assert callable(module.score)
        if method.trains:
            assert callable(module.load) and callable(module.train_from_files)
            assert dataclasses.is_dataclass(module.Settings)  # patch2loc train --method reads its fields
            assert method.gpu and method.train_minutes > 0
    assert not get("Thresh").trains and not get("Thresh").gpu
    with pytest.raises(InputError, match="unknown method 'SVAE'"):
        get("SVAE")


def test_paper_config_runs_every_method_with_its_block():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    assert config["methods"] == [
        *("Patch2Loc", "DAE", "Thresh", "DDPM", "pDDPM", "cDDPM", "AE", "VAE"),
        *("RA", "PHANES", "FAE"),
    ]
    for method in REGISTRY:
        assert method.config is None or method.config in config, method.name
    from patch2loc.run.blocks import filled

    assert filled(config)["dae"]["width"] == 64 and filled(config)["dae"]["noise_std"] == 0.2  # the code's


def test_every_method_scores_through_the_shared_post_processing():
    rng = np.random.default_rng(0)
    image = rng.random((16, 16, 6)).astype(np.float32)
    mask = np.zeros(image.shape, bool)
    mask[3:13, 3:13, 1:5] = True
    cfg = ScoringConfig(median_size=3, device="cpu")
    thresh = score_case("Thresh", image, mask, cfg)
    from patch2loc.scoring import postprocess

    np.testing.assert_array_equal(thresh.score, postprocess(image * mask, mask, 3))
    from patch2loc.methods.dae.model import DenoisingUNet

    dae = score_case("DAE", image, mask, cfg, DenoisingUNet(width=4).eval())
    assert dae.score.shape == image.shape and np.all(dae.score[~mask] == 0)
    np.testing.assert_array_equal(dae.score, postprocess(dae.raw["score"], mask, 3))
    assert set(dae.raw) == {"score"}


def test_a_dataset_scored_with_any_method_keeps_heatmaps_and_thresholds(tmp_path):
    from patch2loc.evaluation.dataset.score_dataset import score_healthy, score_lesions
    from patch2loc.methods.dae.model import DenoisingUNet
    from tests.helpers.scored_scans import saved_scans

    scans = saved_scans(tmp_path, ["s0", "s1", "s2"], seed=1)
    cfg = ScoringConfig(median_size=3, keep_heatmaps=2, device="cpu", patch_size=4)
    for method, model in (("Thresh", None), ("DAE", DenoisingUNet(width=4).eval())):
        meta = {"method": method, "modality": "T2", "fold": "", "dataset": "IXI"}
        threshold, rows = score_healthy(method, scans, cfg, meta, tmp_path / method / "IXI", model)
        assert np.isfinite(threshold) and len(rows) == 3 and rows["fpr_unsup"].between(0, 1).all()
        assert sorted(p.name for p in (tmp_path / method / "IXI").iterdir()) == ["s0.nii.gz", "s1.nii.gz"]
        metrics, lesions, patches = score_lesions(
            method,
            scans[1:],
            cfg,
            {**meta, "dataset": "BraTS21"},
            threshold,
            tmp_path / method / "BraTS21",
            model,
            first_index=1,
        )
        assert lesions["subject"].tolist() == ["s1", "s2"] and lesions["voxels"].tolist() == [32, 32]
        assert (metrics["lesions"] == 1).all() and metrics["lesion_recall"].isin([0, 1]).all()
        assert metrics["subject"].tolist() == ["s1", "s2"] and metrics["auprc"].between(0, 1).all()
        assert sorted(p.name for p in (tmp_path / method / "BraTS21").iterdir()) == ["s1.nii.gz"]  # i=1 < 2 kept
        assert patches["score"].notna().all() and patches["log_error"].isna().all()  # no log-error: NaN
