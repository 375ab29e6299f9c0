"""Patch statistics on small constructed volumes where every patch is known in advance."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from patch2loc.evaluation.patches.statistics import (
    classify,
    location_with_both,
    patch_statistics,
    spearman_per_fold,
    spearman_table,
)
from patch2loc.errors import InputError

META = {"dataset": "BraTS21", "modality": "T2", "fold": 0, "subject": "s1"}


def _maps(shape, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(np.float32) for _ in range(3)]


def test_grid_centres_and_fractions_match_a_direct_loop():
    x_size, y_size, z_size, p = 11, 9, 2, 4
    rng = np.random.default_rng(1)
    le, lv, sc = _maps((x_size, y_size, z_size))
    seg = rng.random((x_size, y_size, z_size)) < 0.4
    brain = np.ones((x_size, y_size, z_size), bool)
    brain[6, 2, 1] = False  # this grid centre must be dropped
    brain[0, 0, 0] = False  # not a centre: only changes brain_fraction
    mean = rng.normal(50, 10, (x_size, y_size, z_size, 2)).astype(np.float32)
    logvar = rng.normal(0, 1, (x_size, y_size, z_size, 2)).astype(np.float32)
    df = patch_statistics(le, lv, sc, seg, brain, p, mean=mean, logvar=logvar, meta=META)

    # Independent loop: centres i*P + P//2 inside the slice; zero padding past the border.
    expected = []
    for z in range(z_size):
        for r in range(p // 2, x_size, p):
            for c in range(p // 2, y_size, p):
                if not brain[r, c, z]:
                    continue
                r0, c0 = r - p // 2, c - p // 2
                expected.append(
                    (
                        z,
                        r,
                        c,
                        seg[r0 : r0 + p, c0 : c0 + p, z].sum() / p**2,
                        brain[r0 : r0 + p, c0 : c0 + p, z].sum() / p**2,
                    )
                )
    assert len(expected) == 3 * 2 * 2 - 1  # rows 2, 6, 10 (last one partial); cols 2, 6
    got = df.sort_values(["z", "x", "y"]).reset_index(drop=True)
    exp = pd.DataFrame(expected, columns=["z", "x", "y", "lesion_fraction", "brain_fraction"])
    pd.testing.assert_frame_equal(got[exp.columns], exp, check_dtype=False)
    z, r, c = got["z"].to_numpy(), got["x"].to_numpy(), got["y"].to_numpy()
    np.testing.assert_allclose(got["log_error"], le[r, c, z])
    np.testing.assert_allclose(got["log_variance"], lv[r, c, z])
    np.testing.assert_allclose(got["score"], sc[r, c, z])
    np.testing.assert_allclose(got["mu_y"], mean[r, c, z, 1])
    np.testing.assert_allclose(got["s_x"], logvar[r, c, z, 0])
    np.testing.assert_allclose(got["target_x"], 100 * r / x_size)
    np.testing.assert_allclose(got["target_y"], 100 * c / y_size)
    assert (got["subject"] == "s1").all() and (got["dataset"] == "BraTS21").all()


def test_healthy_scan_without_seg_and_shape_errors():
    le, lv, sc = _maps((8, 8, 1))
    brain = np.ones((8, 8, 1), bool)
    df = patch_statistics(le, lv, sc, None, brain, 4, meta={"dataset": "IXI"})
    assert len(df) == 4 and (df["lesion_fraction"] == 0).all()
    assert "mu_x" not in df.columns
    with pytest.raises(InputError, match="seg"):
        patch_statistics(le, lv, sc, np.zeros((8, 7, 1)), brain, 4, meta={})
    with pytest.raises(InputError, match="mean and logvar"):
        patch_statistics(le, lv, sc, None, brain, 4, mean=np.zeros((8, 8, 1, 2)), meta={})


def test_classify_boundaries():
    assert classify(0.0) == "normal" and classify(0.0999) == "normal"
    assert classify(0.10) == "mixed" and classify(0.5) == "mixed" and classify(0.90) == "mixed"
    assert classify(0.9001) == "abnormal" and classify(1.0) == "abnormal"
    assert list(classify(np.array([0.05, 0.5, 0.95]))) == ["normal", "mixed", "abnormal"]


def _designed_volume(fold_sign: float):
    """20x20 slice, P=4: patch n (row-major) holds k_n = min(n, 16) lesion pixels of 16."""
    p, size = 4, 20
    seg = np.zeros((size, size, 1), bool)
    le = np.zeros((size, size, 1), np.float32)
    lv, sc = le.copy(), le.copy()
    ks = []
    for n in range(25):
        i, j = divmod(n, 5)
        k = min(n, 16)
        block = np.zeros(p * p, bool)
        block[:k] = True
        seg[i * p : (i + 1) * p, j * p : (j + 1) * p, 0] = block.reshape(p, p)
        r, c = i * p + 2, j * p + 2
        sc[r, c, 0] = fold_sign * k  # monotone in k: rho = +-1 on mixed patches
        le[r, c, 0] = -k
        lv[r, c, 0] = (k * 7) % 5  # some non-monotone pattern
        ks.append(k)
    return le, lv, sc, seg, np.ones_like(seg), np.array(ks)


def test_spearman_on_mixed_patches_per_fold_then_mean_std():
    frames, ks = [], None
    for fold, sign in ((0, 1.0), (1, -1.0)):
        le, lv, sc, seg, brain, ks = _designed_volume(sign)
        frames.append(patch_statistics(le, lv, sc, seg, brain, 4, meta={**META, "fold": fold}))
    patches = pd.concat(frames, ignore_index=True)
    frac = ks / 16
    mixed = (frac >= 0.1) & (frac <= 0.9)  # k = 2 .. 14
    assert mixed.sum() == 13
    classes = classify(frames[0]["lesion_fraction"])
    assert (classes == "normal").sum() == 2 and (classes == "abnormal").sum() == 10  # k 0, 1; k 15, 16 (x9)

    per_fold = spearman_per_fold(patches).set_index(["fold", "metric"])
    assert per_fold.loc[(0, "score"), "rho"] == pytest.approx(1.0)
    assert per_fold.loc[(1, "score"), "rho"] == pytest.approx(-1.0)
    assert per_fold.loc[(0, "log_error"), "rho"] == pytest.approx(-1.0)
    expected_lv = spearmanr(frac[mixed], (ks[mixed] * 7) % 5).statistic
    assert per_fold.loc[(0, "log_variance"), "rho"] == pytest.approx(expected_lv)
    assert (per_fold["n"] == 13).all()

    table = spearman_table(patches).set_index("metric")
    assert table.loc["score", "rho_mean"] == pytest.approx(0.0)
    assert table.loc["score", "rho_std"] == pytest.approx(np.sqrt(2.0))  # ddof=1 of (1, -1)
    assert table.loc["log_error", "rho_std"] == pytest.approx(0.0)
    assert table.loc["score", "n_folds"] == 2 and table.loc["score", "n_patches"] == 26
    assert spearman_table(patches, ddof=0).set_index("metric").loc["score", "rho_std"] == pytest.approx(1.0)


def test_spearman_without_fold_has_empty_std():
    le, lv, sc, seg, brain, _ = _designed_volume(1.0)
    patches = patch_statistics(le, lv, sc, seg, brain, 4, meta={"dataset": "WMH"})
    table = spearman_table(patches).set_index("metric")
    assert table.loc["score", "rho_mean"] == pytest.approx(1.0)
    assert np.isnan(table.loc["score", "rho_std"])


def test_location_with_both_prefers_locations_with_both_classes():
    patches = pd.DataFrame(
        {
            "z": [5, 5, 5, 5, 7, 7, 7],
            "x": [1, 1, 1, 1, 2, 2, 2],
            "y": [3, 3, 3, 3, 4, 4, 4],
            "lesion_fraction": [0.0, 0.0, 1.0, 0.95, 0.0, 0.0, 0.0],
        }
    )
    assert location_with_both(patches) == (5, 1, 3)


# ---------------------------------------------------------------- overlapping patches (evaluate.patches.stride)


def test_overlapping_grid_matches_a_direct_loop_and_holds_the_papers_grid():
    x_size, y_size, z_size, p, stride = 13, 11, 2, 4, 2
    rng = np.random.default_rng(3)
    le, lv, sc = _maps((x_size, y_size, z_size))
    seg = rng.random((x_size, y_size, z_size)) < 0.3
    brain = np.ones((x_size, y_size, z_size), bool)
    brain[4, 6, 0] = False  # a centre of the finer grid only: dropped
    df = patch_statistics(le, lv, sc, seg, brain, p, meta=META, stride=stride)
    expected = []
    for z in range(z_size):
        for r in range(p // 2, x_size, stride):  # centres 2, 4, ..., 12 and 2, 4, ..., 10
            for c in range(p // 2, y_size, stride):
                if brain[r, c, z]:
                    r0, c0 = r - p // 2, c - p // 2
                    window = seg[r0 : r0 + p, c0 : c0 + p, z]  # numpy cuts past the border: zero padding
                    on_grid = (r - 2) % p == 0 and (c - 2) % p == 0
                    expected.append((z, r, c, window.sum() / p**2, bool(seg[r, c, z]), on_grid))
    assert len(expected) == 2 * 6 * 5 - 1
    got = df.sort_values(["z", "x", "y"]).reset_index(drop=True)
    exp = pd.DataFrame(expected, columns=["z", "x", "y", "lesion_fraction", "centre_lesion", "paper_grid"])
    pd.testing.assert_frame_equal(got[exp.columns], exp, check_dtype=False)
    # The non-overlapping grid's rows are the stride-free table's, to the last bit.
    plain = patch_statistics(le, lv, sc, seg, brain, p, meta=META).sort_values(["z", "x", "y"]).reset_index(drop=True)
    on_grid = got[got["paper_grid"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(on_grid[plain.columns], plain)


def test_table2_reads_the_papers_grid_whatever_the_stride():
    le, lv, sc, seg, brain, _ = _designed_volume(1.0)
    plain = spearman_per_fold(patch_statistics(le, lv, sc, seg, brain, 4, meta=META))
    fine = spearman_per_fold(patch_statistics(le, lv, sc, seg, brain, 4, meta=META, stride=1))
    pd.testing.assert_frame_equal(plain, fine)
    assert (fine["n"] == 13).all()


def test_patch_classes_paper_and_centre_definitions():
    from patch2loc.evaluation.patches.classes import PatchClasses

    table = pd.DataFrame(
        {
            "lesion_fraction": [0.0, 0.05, 0.05, 0.5, 0.95, 0.95],
            "centre_lesion": [False, False, True, False, True, False],
        }
    )
    paper = PatchClasses.from_config(None)
    assert paper.is_paper and list(paper.of(table)) == ["normal", "normal", "normal", "mixed", "abnormal", "abnormal"]
    demo = PatchClasses.from_config({"stride": 2, "abnormal": "centre", "normal_below": 0.1, "abnormal_above": 0.9})
    # abnormal: a lesion at the centre, whatever the fraction; normal: < 10 % and a normal centre
    assert list(demo.of(table)) == ["normal", "normal", "abnormal", "mixed", "abnormal", "mixed"]
    assert not demo.is_paper and "every 2 pixels" in demo.describe() and "not the paper's" in demo.describe()
    assert paper.label("abnormal") == "abnormal (>90% lesion)" and "centre" in demo.label("abnormal")
    with pytest.raises(InputError, match="abnormal"):
        PatchClasses(abnormal="edge")
    with pytest.raises(InputError, match="centre_lesion"):
        demo.of(table.drop(columns="centre_lesion"))
