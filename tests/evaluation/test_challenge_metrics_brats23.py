"""BraTS 2023 lesion-wise metrics (src/patch2loc/evaluation/challenges/brats23.py) on crafted cases,
each value worked out by hand from rachitsaluja/BraTS-2023-Metrics metrics.py (BraTS-GLI: dilation
3, lesions <= 50 mm^3 dropped, 374 mm per missed or spurious lesion; lines in the module)."""

import numpy as np
import pytest

from patch2loc.evaluation.challenges import challenge_metrics, label_columns, label_metrics
from patch2loc.evaluation.challenges.surfaces import robust_hausdorff

SHAPE = (30, 30, 20)
ISO = (1.0, 1.0, 1.0)
ANISO = (1.0, 1.0, 3.0)


def empty():
    return np.zeros(SHAPE, bool)


def brats(pred, truth, spacing=ISO):
    return challenge_metrics("brats23", pred, truth, spacing)


def cube(mask, x, y=10, z=5, size=4):
    mask[x : x + size, y : y + size, z : z + size] = True


def cubes(truth_x: tuple, pred_x: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(truth, pred) of 4-voxel cubes at these x (y 10, z 5)."""
    truth, pred = empty(), empty()
    for mask, xs in ((truth, truth_x), (pred, pred_x)):
        for x in xs:
            cube(mask, x)
    return truth, pred


def test_near_miss_is_matched_by_dilation_and_scored_by_surface_distance():
    # truth: 4x4x4 cube at x 10..13; pred: the same cube at x 16..19 (2 voxels of gap). The truth
    # dilated 3 times reaches x 16, so the pred component is the lesion's match (tp, not fp).
    truth, pred = cubes((10,), (16,))
    values = brats(pred, truth, ANISO)
    # No overlap: lesion Dice 0. Surfaces lie on the voxel-corner grid: truth x 10..14, pred x 16..20.
    # Each truth surface point's nearest pred surface point is on the pred face x = 16 (same y, z):
    # distance 16 - x in mm (x spacing 1): 2, 3, 4, 5, 6. The farthest group, the face x = 10 at
    # 6 mm, holds more than 5 % of the area (its 9 inner points alone carry 9 of the cube's at most
    # 96 mm^2), so the area-weighted 95th percentile is 6; the same from pred to truth.
    # Lesion-wise: one lesion, no fp: Dice 0 / 1 = 0, HD95 6 / 1 = 6 mm.
    assert (values["brats_tp"], values["brats_fp"], values["brats_fn"]) == (1, 0, 0)
    assert values["brats_lesion_dice"] == 0.0
    assert values["brats_lesion_hd95_mm"] == pytest.approx(6.0)
    assert values["brats_hd95_mm"] == pytest.approx(6.0)


def test_lesion_on_the_image_border_keeps_its_border_face():
    # The same pair against the image corner: truth x, y, z 0..3, pred x 6..9. surface-distance pads
    # the masks, so the truth face on the image border (x = 0) is surface, 6 mm from the pred face
    # x = 6: HD95 6 mm as in the case above (without that face the farthest group would be 5 mm).
    truth, pred = empty(), empty()
    truth[0:4, 0:4, 0:4] = True
    pred[6:10, 0:4, 0:4] = True
    values = brats(pred, truth)
    assert values["brats_lesion_hd95_mm"] == pytest.approx(6.0)
    assert robust_hausdorff(truth, pred, ISO) == pytest.approx(6.0)


def test_lesions_within_the_dilation_merge_into_one():
    # truth: cubes at x 10..13 and 18..21 (gap x 14..17, 4 voxels). Each dilated 3 times (14..16 and
    # 15..17) they overlap: one lesion of 128 voxels. pred: the first cube.
    truth, pred = cubes((10, 18), (10,))
    values = brats(pred, truth)
    # One lesion, matched: tp 1, fn 0, fp 0; its Dice 2 x 64 / (128 + 64) = 2/3 = the lesion-wise Dice.
    assert (values["brats_tp"], values["brats_fp"], values["brats_fn"]) == (1, 0, 0)
    assert values["brats_lesion_dice"] == pytest.approx(2 / 3)


def test_lesions_beyond_the_dilation_stay_apart():
    # truth: cubes at x 2..5 and 13..16 (gap 6..12, 7 voxels; dilations reach 8 and 10: apart).
    # pred: the first cube. Lesion 1 matched: Dice 1, HD95 0; lesion 2 missed: Dice 0, HD95
    # infinite -> 374. Lesion-wise Dice (1 + 0) / 2 = 0.5, HD95 (0 + 374) / 2 = 187 mm.
    truth, pred = cubes((2, 13), (2,))
    values = brats(pred, truth)
    assert (values["brats_tp"], values["brats_fp"], values["brats_fn"]) == (1, 0, 1)
    assert values["brats_lesion_dice"] == pytest.approx(0.5)
    assert values["brats_lesion_hd95_mm"] == pytest.approx(187.0)
    # Legacy Dice over the whole mask: 2 x 64 / (128 + 64) = 2/3.
    assert values["brats_dice"] == pytest.approx(2 / 3)


def test_lesions_of_50_mm3_or_less_are_not_scored():
    # truth: cube A 4x4x4 (64 voxels) found exactly; lesion B 5x5x2 = 50 voxels, missed.
    truth, pred = empty(), empty()
    cube(truth, 2, 2, 2)
    truth[15:20, 15:20, 10:12] = True
    cube(pred, 2, 2, 2)
    # At 1 mm^3 voxels B is 50 mm^3 <= 50: dropped (neither fn nor scored). Lesion-wise Dice 1 / 1,
    # HD95 0 / 1. Legacy Dice 2 x 64 / (114 + 64) = 0.7191.
    values = brats(pred, truth)
    assert (values["brats_tp"], values["brats_fn"], values["brats_small_lesions"]) == (1, 0, 1)
    assert (values["brats_lesion_dice"], values["brats_lesion_hd95_mm"]) == (1.0, 0.0)
    assert values["brats_dice"] == pytest.approx(128 / 178)
    # At 1x1x3 mm B is 150 mm^3 > 50: scored and missed. Dice (1 + 0) / 2, HD95 (0 + 374) / 2.
    values = brats(pred, truth, ANISO)
    assert (values["brats_tp"], values["brats_fn"], values["brats_small_lesions"]) == (1, 1, 0)
    assert values["brats_lesion_dice"] == pytest.approx(0.5)
    assert values["brats_lesion_hd95_mm"] == pytest.approx(187.0)


def test_missed_lesion_and_false_positive_cost_374_each():
    # truth: cube at x 2..5 (y, z 2..5); pred: a 2x2x2 blob at 20..21, 20..21, 10..11, far away.
    truth, pred = empty(), empty()
    cube(truth, 2, 2, 2)
    pred[20:22, 20:22, 10:12] = True
    values = brats(pred, truth)
    # Lesion: no match -> Dice 0, HD95 374; one fp. Dice 0 / (1 + 1) = 0; HD95 (374 + 374) / 2 = 374.
    assert (values["brats_tp"], values["brats_fp"], values["brats_fn"]) == (0, 1, 1)
    assert values["brats_lesion_dice"] == 0.0
    assert values["brats_lesion_hd95_mm"] == pytest.approx(374.0)


def test_touching_components_are_one_under_26_connectivity():
    # pred: two 2x2x2 blobs meeting at one corner voxel pair ((5,5,5)-(6,6,6) ...), far from the
    # truth: one 26-connected component -> one fp, not two. Truth: a cube elsewhere, found exactly.
    truth, pred = empty(), empty()
    cube(truth, 20, 20, 10)
    cube(pred, 20, 20, 10)
    pred[4:6, 4:6, 4:6] = True
    pred[6:8, 6:8, 6:8] = True
    values = brats(pred, truth)
    # Lesion: Dice 1, HD95 0; one fp. Dice 1 / (1 + 1) = 0.5; HD95 (0 + 374) / 2 = 187 mm.
    assert values["brats_fp"] == 1
    assert values["brats_lesion_dice"] == pytest.approx(0.5)
    assert values["brats_lesion_hd95_mm"] == pytest.approx(187.0)


def test_empty_prediction():
    truth = empty()
    cube(truth, 2, 2, 2)
    values = brats(empty(), truth)
    # One lesion, missed: Dice 0 / 1, HD95 374 / 1; legacy Dice 0, legacy HD95 infinite -> 374.
    assert (values["brats_lesion_dice"], values["brats_lesion_hd95_mm"], values["brats_fn"]) == (0.0, 374.0, 1)
    assert (values["brats_dice"], values["brats_hd95_mm"]) == (0.0, 374.0)


def test_empty_prediction_with_only_small_lesions():
    # A 2x2x2 lesion (8 mm^3) is dropped: no lesion and no fp -> 0/0 -> Dice 1, HD95 0 (lines 370-374);
    # the legacy pair still sees the missed voxels: Dice 0, HD95 374.
    truth = empty()
    truth[2:4, 2:4, 2:4] = True
    values = brats(empty(), truth)
    assert (values["brats_lesion_dice"], values["brats_lesion_hd95_mm"], values["brats_small_lesions"]) == (1.0, 0.0, 1)
    assert (values["brats_dice"], values["brats_hd95_mm"]) == (0.0, 374.0)


def test_empty_truth():
    pred = empty()
    cube(pred, 2, 2, 2)
    values = brats(pred, empty())
    # No lesion, one fp: Dice 0 / 1 = 0, HD95 374 x 1 / 1 = 374; legacy Dice 0, HD95 374.
    assert (values["brats_lesion_dice"], values["brats_lesion_hd95_mm"], values["brats_fp"]) == (0.0, 374.0, 1)
    assert (values["brats_dice"], values["brats_hd95_mm"]) == (0.0, 374.0)


def test_both_empty():
    # No lesion, no fp: lesion-wise Dice 1, HD95 0 (lines 370-374); legacy Dice 1, HD95 0 (lines 157-168).
    values = brats(empty(), empty())
    assert (values["brats_lesion_dice"], values["brats_lesion_hd95_mm"]) == (1.0, 0.0)
    assert (values["brats_dice"], values["brats_hd95_mm"]) == (1.0, 0.0)
    assert (values["brats_tp"], values["brats_fp"], values["brats_fn"]) == (0, 0, 0)


# ---------------------------------------------------------------- the three tumour regions


def test_the_three_tumour_regions_of_a_brats21_label_volume():
    # Oedema (2) in x, y 4..15, z 4..11 (1,152 voxels); enhancing tumour (4) in x, y 6..13, z 5..10;
    # necrotic core (1) in x, y 8..11, z 6..9 (64 voxels) inside it. WT = every label (1,152
    # voxels), TC = 1 and 4 (the 8x8x6 box, 384), ET = 4 (the box's shell, 384 - 64 = 320).
    # The prediction is the TC box.
    labels = np.zeros(SHAPE, np.int16)
    labels[4:16, 4:16, 4:12] = 2
    labels[6:14, 6:14, 5:11] = 4
    labels[8:12, 8:12, 6:10] = 1
    pred = empty()
    pred[6:14, 6:14, 5:11] = True
    values = label_metrics("brats23", pred, labels, ISO)
    assert list(values) == list(label_columns("brats23"))
    assert [c for c in values if c.endswith("_lesion_dice")] == [f"brats_{r}_lesion_dice" for r in ("wt", "tc", "et")]
    # Each region is one lesion, matched: tp 1, fp 0, fn 0, and lesion-wise = whole-mask values.
    for region in ("wt", "tc", "et"):
        assert (values[f"brats_{region}_tp"], values[f"brats_{region}_fp"], values[f"brats_{region}_fn"]) == (1, 0, 0)
    # WT: 2 x 384 / (1,152 + 384) = 0.5.
    assert values["brats_wt_dice"] == values["brats_wt_lesion_dice"] == pytest.approx(0.5)
    # TC: the prediction itself: Dice 1, HD95 0.
    assert (values["brats_tc_dice"], values["brats_tc_hd95_mm"], values["brats_tc_lesion_hd95_mm"]) == (1.0, 0.0, 0.0)
    # ET: 2 x 320 / (320 + 384) = 10/11. Its surface is the box's (0 mm from the prediction's) and
    # the core's cavity: corner planes x, y 8 and 12 (2 mm from the box's planes 6 and 14) and z 6 and
    # 10 (1 mm from 5 and 11), no cavity point farther than 2 mm. The cavity's x and y faces hold
    # about 96 of the shell's 416 mm^2 at 1-2 mm, far more than 5 %: HD95 truth -> prediction is
    # 2 mm; prediction -> truth 0. HD95 = 2 mm.
    assert values["brats_et_dice"] == values["brats_et_lesion_dice"] == pytest.approx(10 / 11)
    assert values["brats_et_hd95_mm"] == values["brats_et_lesion_hd95_mm"] == pytest.approx(2.0)
    # BraTS 2023 labels the enhancing tumour 3: the same regions.
    relabelled = label_metrics("brats23", pred, np.where(labels == 4, 3, labels).astype(np.int16), ISO)
    assert relabelled == values


def test_a_tumour_without_enhancing_part_scores_et_as_brats_does():
    # Labels 1 and 2 only: ET is empty. A prediction there is one false positive on ET: lesion-wise
    # Dice 0 / 1, HD95 374 / 1; nothing predicted: 0/0 -> Dice 1, HD95 0 (metrics.py lines 370-374).
    labels = np.zeros(SHAPE, np.int16)
    labels[4:12, 4:12, 4:10] = 2
    labels[6:10, 6:10, 5:8] = 1
    pred = empty()
    cube(pred, 6, 6, 5)
    values = label_metrics("brats23", pred, labels, ISO)
    assert (values["brats_et_lesion_dice"], values["brats_et_lesion_hd95_mm"], values["brats_et_fp"]) == (0.0, 374.0, 1)
    nothing = label_metrics("brats23", empty(), labels, ISO)
    assert (nothing["brats_et_lesion_dice"], nothing["brats_et_lesion_hd95_mm"]) == (1.0, 0.0)


# ---------------------------------------------------------------- HD95 in float64 on tumour-sized masks
