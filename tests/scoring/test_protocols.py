"""Evaluation protocols (scoring/steps.py, scoring/protocol.py, docs/protocols.md): each step on a
crafted volume, the shared protocol equal to today's map and metrics, the reference columns and table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from patch2loc.scoring.metrics import evaluate_volume
from patch2loc.evaluation.tables.protocol_table import protocol_table
from patch2loc.registry import REGISTRY
from patch2loc.scoring import postprocess
from patch2loc.scoring import protocol as P
from patch2loc.scoring import steps


def test_erode_slices_peels_one_ring_per_iteration_within_each_slice():
    mask = np.zeros((9, 9, 3), bool)
    mask[1:8, 1:8, :] = True  # a 7 x 7 square on every slice
    one = steps.erode_slices(mask, 1)
    assert one[..., 1].sum() == 25 and one[2:7, 2:7, 1].all()
    assert steps.erode_slices(mask, 3)[..., 0].sum() == 1  # only the centre is left
    assert steps.erode_slices(mask, 4).sum() == 0
    # per slice: the top and bottom slices are not eroded away (a 3D erosion would)
    assert one[..., 0].sum() == one[..., 2].sum() == 25
    # the cross, not the full square: a corner pixel of a 3 x 3 block goes, the centre stays
    block = np.zeros((5, 5, 1), bool)
    block[1:4, 1:4] = True
    assert steps.erode_slices(block, 1)[..., 0].sum() == 1


def test_erode_avgpool_keeps_voxels_whose_5x5_window_is_inside():
    mask = np.zeros((12, 12, 2), bool)
    mask[1:11, 1:11, :] = True  # 10 x 10
    out = steps.erode_avgpool(mask)
    # 25 of 25 inside needed (24/25 = 0.96 > 0.95 passes too): one missing corner voxel of the window is allowed
    assert out[3:9, 3:9, 0].all()
    assert not out[1, 1, 0]  # the square's corner: 9 of 25
    assert out[2, 3, 0] == (20 / 25 > 0.95)  # a row off the edge: 20 of 25
    assert out.sum() == 2 * 36


def test_median_2d_acts_within_slices_3d_across_them():
    vol = np.zeros((7, 7, 7), np.float32)
    vol[2:5, 2:5, 3] = 1.0  # a 3 x 3 plate on one slice
    assert steps.median(vol, 3, dims=2)[3, 3, 3] == 1.0  # 9 of 9 in-slice neighbours are 1
    assert steps.median(vol, 3, dims=3)[3, 3, 3] == 0.0  # 9 of 27 in the cube
    assert steps.median(vol, 5, dims=2)[3, 3, 3] == 0.0  # 9 of 25
    assert np.array_equal(steps.median(vol, 1), vol)


def test_component_filter_removes_blobs_of_at_most_n_voxels():
    pred = np.zeros((20, 20, 20), bool)
    pred[1:3, 1:3, 1] = True  # 4 voxels
    pred[5, 5, 5:12] = True  # 7 voxels
    pred[10, 10, 2:10] = True  # 8 voxels
    pred[15, 15, 15] = pred[16, 16, 16] = True  # diagonal pair: one component at 26, two at 6
    out = steps.remove_components(pred, 7)
    assert out.sum() == 8 and out[10, 10, 2:10].all()
    assert steps.remove_components(pred, 1, connectivity=6)[15:17, 15:17, 15:17].sum() == 0
    assert steps.remove_components(pred, 1, connectivity=26)[15:17, 15:17, 15:17].sum() == 2
    assert np.array_equal(steps.remove_components(pred, 0), pred)


def test_clip_rescale_uses_in_mask_percentiles():
    vol = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    mask = np.zeros(vol.shape, bool)
    mask[:5] = True  # values 0..499
    out = steps.clip_rescale(vol, mask, 1, 99)
    lo, hi = np.percentile(np.arange(500), [1, 99])
    assert out.min() == 0.0 and out.max() == 1.0
    assert out[9, 9, 9] == 1.0  # outside the mask, clipped to the in-mask 99th percentile
    assert out[2, 5, 0] == pytest.approx((250 - lo) / (hi - lo))
    with pytest.raises(ValueError):
        steps.clip_rescale(vol, np.zeros(vol.shape, bool))


def test_pooled_auprc_is_one_curve_over_the_set_not_the_mean_of_volumes():
    rng = np.random.default_rng(0)
    scores = [rng.random((6, 6, 6)), rng.random((6, 6, 6)) * 0.5]
    labels = [rng.random((6, 6, 6)) > 0.8, rng.random((6, 6, 6)) > 0.9]
    pooled = steps.auprc_pooled(scores, labels)
    flat_s = np.concatenate([s.ravel() for s in scores])
    flat_y = np.concatenate([y.ravel() for y in labels])
    assert pooled == pytest.approx(average_precision_score(flat_y, flat_s))
    per = steps.auprc_per_volume(scores, labels)
    assert per == pytest.approx([average_precision_score(y.ravel(), s.ravel()) for s, y in zip(scores, labels)])
    assert abs(pooled - per.mean()) > 1e-3  # the two differ on this set


def test_best_dice_over_a_grid_is_pooled_and_strict():
    s = [np.array([0.1, 0.35, 0.6, 0.9]).reshape(2, 2, 1)]
    y = [np.array([0, 0, 1, 1], bool).reshape(2, 2, 1)]
    d, t = steps.best_dice_over(s, y, steps.threshold_grid(10))
    assert (d, t) == (1.0, pytest.approx(0.4))  # first t in 0, 0.1, ... with only 0.6 and 0.9 above it
    d, t = steps.best_dice_over(s, y, np.array([0.6]))
    assert d == pytest.approx(2 / 3)  # "> 0.6": only 0.9


def test_threshold_tuned_on_validation_volumes_is_applied_to_test_volumes():
    val_s = [np.array([0.2, 0.3, 0.7, 0.8]).reshape(2, 2, 1)]
    val_y = [np.array([0, 0, 1, 1], bool).reshape(2, 2, 1)]
    t = steps.tune_threshold(val_s, val_y)
    assert t == pytest.approx(0.7)  # the lowest threshold with Dice 1 on the validation volume
    # on test, 0.75 would be the best threshold; the tuned 0.7 keeps a false positive at 0.72
    test_s = [np.array([0.72, 0.1, 0.9, 0.95]).reshape(2, 2, 1)]
    test_y = [np.array([0, 0, 1, 1], bool).reshape(2, 2, 1)]
    assert steps.dice_at_tuned(test_s, test_y, t) == pytest.approx([2 * 2 / (3 + 2)])
    # the protocol's set step: same threshold, then the component filter
    proto = P.Protocol(source="crafted", region="volume", dice="validation", component_max=0)
    mask = [np.ones((2, 2, 1), bool)]
    assert P.set_dice((val_s, val_y, mask), (test_s, test_y, mask), proto) == pytest.approx([0.8])
    assert np.isnan(P.volume_metrics(test_s[0], test_y[0], mask[0], proto)["dice"])  # not per volume


def test_shared_gives_exactly_todays_map_and_metrics():
    rng = np.random.default_rng(1)
    raw = rng.random((16, 16, 16)).astype(np.float32)
    mask = np.zeros(raw.shape, bool)
    mask[2:14, 2:14, 2:14] = True
    seg = np.zeros(raw.shape, bool)
    seg[5:9, 5:9, 5:9] = True
    raw[seg] += 0.5
    for k in (1, 3, 7):
        shared = P.with_median(P.SHARED, k)
        today = postprocess(raw, mask, k)
        mine = P.final_map(raw, mask, shared)
        assert mine.dtype == today.dtype and mine.tobytes() == today.tobytes()
        m, ref = P.volume_metrics(mine, seg, mask, shared), evaluate_volume(today, seg, mask)
        assert m["auprc"] == ref["auprc"] and m["dice"] == ref["best_dice"] and m["threshold"] == ref["best_threshold"]


def test_reference_map_masks_first_then_filters():
    raw = np.ones((12, 12, 3), np.float32)
    mask = np.zeros(raw.shape, bool)
    mask[2:10, 2:10] = True
    proto = P.Protocol(source="crafted", erosion="slices", erosion_iterations=1, mask_first=True, median_size=3)
    out = P.final_map(raw, mask, proto)  # eroded mask: 3:9 in-plane
    assert out[6, 6, 1] == 1.0 and out[3, 6, 1] == 1.0 and out[2, 6, 1] == 0.0
    # the eroded corner sees 4 of 9 in-plane ones once masked: 0; filtered first, then masked, it stays 1
    assert out[3, 3, 1] == 0.0
    from dataclasses import replace

    assert P.final_map(raw, mask, replace(proto, mask_first=False))[3, 3, 1] == 1.0
    assert P.final_map(raw, mask, P.SHARED)[2, 6, 1] == 1.0  # shared: the mask as it is


def test_every_reference_protocol_is_data_on_its_method_module():
    found = {m.name: P.reference_of(m.name) for m in REGISTRY}
    assert sum(p is not None for p in found.values()) >= 7
    for name, proto in found.items():
        if proto is not None:
            assert isinstance(proto, P.Protocol) and proto.source
    diffusion = [p for p in found.values() if p is not None and p.dice == "validation"]
    assert diffusion and all(p.component_max == 7 and p.median_size == 5 for p in diffusion)


def test_reference_columns_and_the_protocols_table():
    rng = np.random.default_rng(2)
    raw = rng.random((12, 12, 12)).astype(np.float32)
    seg = np.zeros(raw.shape, bool)
    seg[4:8, 4:8, 4:8] = True
    raw[seg] += 1
    mask = np.ones(raw.shape, bool)
    rows = []
    for method in (m.name for m in REGISTRY):
        cols = P.reference_columns(method, raw, seg, mask)
        assert set(cols) == set(P.REFERENCE_COLUMNS)
        if P.reference_of(method) is None:
            assert np.isnan(cols["ref_auprc"]) and cols["ref_source"] == "none"
        elif cols["ref_dice_mode"] == P.NO_VALIDATION:
            assert np.isnan(cols["ref_dice"]) and 0 < cols["ref_auprc"] <= 1
        else:
            assert 0 < cols["ref_dice"] <= 1
        rows.append({"method": method, "modality": "T2", "fold": "0", "dataset": "BraTS21", "subject": "s1"})
        rows[-1].update(auprc=0.5, best_dice=0.4, **cols)
    published = pd.DataFrame(
        [{"method": REGISTRY[0].name, "citation": "x", "dataset": "BraTS21", "modality": "T2"}]
    ).assign(dice_mean=59.5, auprc_mean=55.4)
    table = protocol_table(pd.DataFrame(rows), published)
    assert len(table) == len(REGISTRY) and (table["auprc_shared"] == 50.0).all()
    first = table.set_index("method").loc[REGISTRY[0].name]
    assert first["dice_published"] == 59.5
    noval = table[table["reference_dice"] == P.NO_VALIDATION]
    assert len(noval) and noval["dice_reference"].isna().all()
    none = table[table["reference_source"] == "none"]
    assert none["auprc_reference"].isna().all() and (none["reference_dice"] == "no reference protocol").all()
    assert table["reference_dice"].str.contains("components <= 20 voxels removed").any()  # the DAE's filter
    # a run under the shared protocol: reference columns empty, said why
    shared = protocol_table(pd.DataFrame(rows).drop(columns=list(P.REFERENCE_COLUMNS)), published)
    assert shared["auprc_reference"].isna().all() and (shared["reference_dice"] == "evaluate.protocol: shared").all()


def test_score_lesions_adds_reference_columns_and_leaves_the_shared_ones_alone(tmp_path):
    from dataclasses import replace

    from patch2loc.evaluation.dataset.score_dataset import Collected, Scan, ScoringConfig, score_lesions
    from patch2loc.files.io import save_volume
    from patch2loc.methods.dae.model import DenoisingUNet

    rng, scans = np.random.default_rng(3), []
    for i in range(2):
        seg = np.zeros((16, 16, 6), np.uint8)
        seg[5:9, 5:9, 2:4] = 1
        image = (rng.random(seg.shape) + seg).astype(np.float32)
        mask = np.zeros(seg.shape, np.uint8)
        mask[2:14, 2:14, 1:5] = 1
        arrays = ((image, "image.nii.gz"), (mask, "mask.nii.gz"), (seg, "seg.nii.gz"))
        scans.append(Scan(f"s{i}", *(str(save_volume(a, tmp_path / f"s{i}" / n)) for a, n in arrays)))
    shared = ScoringConfig(median_size=3, keep_heatmaps=0, device="cpu", patch_size=4)
    meta = {"modality": "T2", "fold": "", "dataset": "BraTS21"}
    for method, model in (("Thresh", None), ("DAE", DenoisingUNet(width=4).eval())):
        a = score_lesions(method, scans, shared, {**meta, "method": method}, 0.5, tmp_path / "a", model)[0]
        ref = replace(shared, protocol="reference")
        got = Collected()
        b = score_lesions(method, scans, ref, {**meta, "method": method}, 0.5, tmp_path / "b", model, collected=got)[0]
        pooled = got.pooled
        assert not set(P.REFERENCE_COLUMNS) & set(a.columns)
        pd.testing.assert_frame_equal(a, b[a.columns])  # the shared numbers, unchanged
        has = P.reference_of(method) is not None
        assert b["ref_auprc"].notna().all() == has and (b["ref_source"] != "none").all() == has
        assert len(pooled) == (2 if (b["ref_auprc_mode"] == "pooled").all() else 0)  # one histogram per volume


def test_pooled_auprc_summed_over_shards_equals_one_curve_over_the_set(tmp_path):
    from patch2loc.evaluation.dataset.pooled import merge_pooled, read_pooled, write_pooled

    rng = np.random.default_rng(4)
    scores = [rng.gamma(2.0, size=(8, 8, 8)).astype(np.float32) for _ in range(3)]
    labels = [rng.random((8, 8, 8)) < 0.1 + 0.1 * i for i in range(3)]
    keeps = [rng.random((8, 8, 8)) < 0.9 for _ in range(3)]
    hists = [steps.score_histogram(s, y, k) for s, y, k in zip(scores, labels, keeps)]
    shards = [steps.merge_histograms(hists[:2]), steps.merge_histograms(hists[2:])]
    meta = {"method": "m", "modality": "T2", "fold": "0", "dataset": "BraTS21"}
    paths = [tmp_path / f"{i}.npz" for i in range(2)]
    for path, hist, i in zip(paths, shards, "01"):
        write_pooled(path, hist, {**meta, "shard": i})
    assert merge_pooled(paths, tmp_path / "set.npz") == sum(int(k.sum()) for k in keeps)
    merged, read_meta = read_pooled(tmp_path / "set.npz")
    assert read_meta == meta
    half = [s.astype(np.float16) for s in scores]
    assert steps.auprc_from_histogram(merged) == pytest.approx(steps.auprc_pooled(half, labels, keeps), abs=1e-12)
    assert steps.auprc_from_histogram(merged) == pytest.approx(steps.auprc_pooled(scores, labels, keeps), abs=2e-3)
    assert np.isnan(steps.auprc_from_histogram(steps.empty_histogram()))
    # the protocols table takes the pooled value where there is one
    rows = pd.DataFrame(
        [{**meta, "subject": "s", "auprc": 0.1, "best_dice": 0.1, "ref_auprc": 0.2, "ref_auprc_mode": "pooled"}]
    )
    table = protocol_table(
        rows,
        pd.DataFrame(columns=["method", "modality", "dataset", "citation", "dice_mean", "auprc_mean"]),
        [(merged, meta)],
    )
    assert table.loc[0, "auprc_reference"] == pytest.approx(round(100 * steps.auprc_from_histogram(merged), 2))
    assert table.loc[0, "reference_auprc"].startswith("pooled over the set")


def test_bauers_erosion_is_in_millimetres_on_the_scored_grid():
    """Baur erodes 12 pixels of a 128-pixel slice of a 240 mm field (22.5 mm): 8 voxels of a 3 mm grid and
    12 of a 1.875 mm one, not 12 voxels whatever their size; a protocol without erosion_mm is unchanged."""
    baur = P.reference_of("AE")
    assert baur.erosion_mm == pytest.approx(22.5) and P.reference_of("VAE") == baur
    assert P.at_spacing(baur, 3.0).erosion_iterations == 8
    assert P.at_spacing(baur, 240 / 128).erosion_iterations == 12
    assert P.at_spacing(baur, 100.0).erosion_iterations == 1  # never no erosion at all
    assert P.at_spacing(P.SHARED, 3.0) == P.SHARED
    assert P.in_plane_spacing(np.diag([3.0, 3.0, 5.0, 1.0])) == pytest.approx(3.0)

    mask = np.zeros((40, 40, 8), bool)
    mask[2:38, 2:38] = True
    raw = np.zeros(mask.shape, np.float32)
    seg = np.zeros(mask.shape, bool)
    seg[5:14, 12:28] = True  # 3 to 12 voxels in from the brain's edge
    raw[seg] = 1
    at_1mm = P.reference_columns("AE", raw, seg, mask, spacing_mm=1.0)  # 22 voxels: the whole slice goes
    at_12mm = P.reference_columns("AE", raw, seg, mask, spacing_mm=12.0)  # 2 voxels: the lesion stays
    assert at_12mm["ref_auprc"] > 0.9 and at_1mm["ref_auprc"] < 0.5
