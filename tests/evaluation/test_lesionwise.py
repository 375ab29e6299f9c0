"""Lesion-wise metrics (patch2loc.evaluation.lesionwise.volume) against cases counted by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from patch2loc.errors import InputError
from patch2loc.evaluation.lesionwise.rule import LesionRule
from patch2loc.evaluation.lesionwise.volume import components, hd95, lesion_metrics


def hand_case():
    """Two lesions, one found, one false-positive blob (the benchmark's case too).

    lesion A: voxels (10,10,10), (11,10,10); lesion B: voxel (30,10,10)
    prediction: (11,10,10), (12,10,10) -- touches A; (10,20,10), (10,21,10) -- touches nothing
    """
    seg = np.zeros((40, 40, 20), bool)
    pred = np.zeros_like(seg)
    seg[10:12, 10, 10] = True
    seg[30, 10, 10] = True
    pred[11:13, 10, 10] = True
    pred[10, 20:22, 10] = True
    return pred, seg


def test_hand_case_counts_equal_the_hand_count():
    pred, seg = hand_case()
    m, rows = lesion_metrics(pred, seg, (1.0, 1.0, 1.0))
    assert (m["lesions"], m["lesions_found"], m["components"], m["fp_components"]) == (2, 1, 2, 1)
    assert m["lesion_recall"] == 0.5 and m["lesion_precision"] == 0.5 and m["lesion_f1"] == 0.5
    assert [(r["voxels"], r["found"]) for r in rows] == [(2, True), (1, False)]


def test_hand_case_hd95_and_avd_equal_the_hand_computation():
    # Every voxel of these thin objects is a boundary voxel. Distances from each predicted voxel to
    # the nearest lesion voxel: 0, 1, 10, 11 -> numpy's 95th percentile 10 + 0.85 * 1 = 10.85;
    # from each lesion voxel to the nearest predicted one: 1, 0, 18 -> 1 + 0.9 * 17 = 16.3.
    # HD95 is the larger: 16.3 mm. AVD: |4 - 3| / 3 = 33.3 %.
    pred, seg = hand_case()
    m, _ = lesion_metrics(pred, seg, (1.0, 1.0, 1.0))
    assert m["hd95_mm"] == pytest.approx(16.3, abs=1e-4)
    assert m["avd_pct"] == pytest.approx(100 / 3)
    # 3 mm voxels: distances times 3, volumes in mL times 27
    m3, rows3 = lesion_metrics(pred, seg, (3.0, 3.0, 3.0))
    assert m3["hd95_mm"] == pytest.approx(3 * 16.3, abs=1e-4)
    assert m3["lesion_ml"] == pytest.approx(3 * 0.027) and m3["predicted_ml"] == pytest.approx(4 * 0.027)
    assert [r["volume_ml"] for r in rows3] == pytest.approx([0.054, 0.027])


def test_a_component_over_two_lesions_finds_both_and_is_no_false_positive():
    # the WMH rule counts overlaps, not one-to-one matches
    seg = np.zeros((20, 20, 20), bool)
    seg[5, 5, 5] = seg[5, 8, 5] = True
    pred = np.zeros_like(seg)
    pred[5, 4:10, 5] = True
    m, _ = lesion_metrics(pred, seg, (1, 1, 1))
    assert (m["lesions"], m["lesions_found"], m["fp_components"], m["lesion_f1"]) == (2, 2, 0, 1.0)


def test_connectivity_and_minimum_size_decide_what_a_lesion_is():
    seg = np.zeros((10, 10, 10), bool)
    seg[2, 2, 2] = seg[3, 3, 3] = True  # corner neighbours: one lesion at 26, two at 6
    seg[7, 7, 5:8] = True  # three voxels in a row
    pred = np.zeros_like(seg)
    assert components(seg, 26)[1] == 2 and components(seg, 6)[1] == 3
    m, rows = lesion_metrics(pred, seg, (1, 1, 1), LesionRule(connectivity=6, min_size_voxels=2))
    assert m["lesions"] == 1 and [r["voxels"] for r in rows] == [3]  # the two single voxels are too small
    assert m["lesion_recall"] == 0 and m["lesion_f1"] == 0 and math.isnan(m["lesion_precision"])
    assert math.isnan(m["hd95_mm"])  # nothing predicted: undefined, as in the challenge
    none, _ = lesion_metrics(pred, np.zeros_like(seg), (1, 1, 1))
    assert math.isnan(none["lesion_recall"]) and math.isnan(none["avd_pct"])


def test_hd95_is_symmetric_and_zero_for_equal_masks():
    pred, seg = hand_case()
    assert hd95(pred, seg, (1, 1, 1)) == pytest.approx(hd95(seg, pred, (1, 1, 1)))
    assert hd95(seg, seg, (2, 2, 2)) == 0


@pytest.mark.parametrize(
    "block, word",
    [
        ({"connectivity": 8}, "connectivity"),
        ({"size_bins_ml": [1, 0.1]}, "size_bins_ml"),
        ({"min_size": 3}, "unknown key"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(block, word):
    with pytest.raises(InputError, match=word):
        LesionRule.from_config(block)
