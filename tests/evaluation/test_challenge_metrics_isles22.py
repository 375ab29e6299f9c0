"""ISLES'22 metrics (src/patch2loc/evaluation/challenges/isles22.py) on crafted cases, each value
worked out by hand from ezequieldlrosa/isles22 utils/eval_utils.py (line numbers in the module)."""

import pytest

from patch2loc.evaluation.challenges import challenge_metrics
from tests.helpers.challenge_cases import ANISO, empty, metrics_of

isles = metrics_of("isles22")


def test_lesion_f1_counts_lesions_not_components():
    # truth: one lesion, a 5-voxel bar (x 2..6, y 5, z 5). pred: two pieces on it, (2,5,5) and
    # (6,5,5) (not touching each other), and one blob far away (15..16, 15, 5): 3 components.
    truth, pred = empty(), empty()
    truth[2:7, 5, 5] = True
    pred[2, 5, 5] = pred[6, 5, 5] = True
    pred[15:17, 15, 5] = True
    values = isles(pred, truth)
    # tp = 1 (the lesion holds predicted voxels), fn = 0, fp = 1 (the far blob):
    # F1 = tp / (tp + (fp + fn) / 2) = 1 / (1 + 1/2) = 2/3.
    assert (values["isles_tp"], values["isles_fp"], values["isles_fn"]) == (1, 1, 0)
    assert values["isles_f1"] == pytest.approx(2 / 3)
    # The WMH F1 differs here: precision = 2 of 3 components touch the lesion, recall 1,
    # F1 = 2 (2/3)(1) / (5/3) = 0.8.
    assert challenge_metrics("wmh", pred, truth, ANISO)["wmh_f1"] == pytest.approx(0.8)
    # Dice = 2 x 2 / (5 + 4) = 4/9; volume difference |5 - 4| x 0.003 mL = 0.003 mL; lesion counts
    # 1 and 3 -> |1 - 3| = 2.
    assert values["isles_dice"] == pytest.approx(4 / 9)
    assert values["isles_avd_ml"] == pytest.approx(0.003)
    assert values["isles_count_diff"] == 2


def test_volume_difference_is_in_millilitres_with_the_voxel_size():
    truth, pred = empty(), empty()
    truth[2:7, 2:4, 2] = True  # 10 voxels
    pred[2:4, 2:4, 2] = True  # 4 voxels
    # |10 - 4| voxels x 1 x 1 x 3 mm^3 = 18 mm^3 = 0.018 mL; at 1 mm^3 voxels it is 0.006 mL.
    assert isles(pred, truth)["isles_avd_ml"] == pytest.approx(0.018)
    assert isles(pred, truth, (1.0, 1.0, 1.0))["isles_avd_ml"] == pytest.approx(0.006)


def test_touching_lesions_are_one_under_26_connectivity():
    # Truth: two voxels meeting at a corner -> one lesion with cc3d's connectivity 26 (two with 6).
    # Pred: three voxels apart from each other, one of them on the lesion.
    truth, pred = empty(), empty()
    truth[5, 5, 5] = truth[6, 6, 6] = True
    pred[5, 5, 5] = pred[10, 10, 5] = pred[15, 15, 5] = True
    values = isles(pred, truth)
    # Counts 1 and 3 -> |1 - 3| = 2 (6-connectivity would give |2 - 3| = 1). tp 1, fn 0, fp 2:
    # F1 = 1 / (1 + 2/2) = 1/2 (6-connectivity: tp 1, fn 1 -> 1 / (1 + 3/2) = 0.4).
    assert values["isles_lesions"] == 1
    assert values["isles_count_diff"] == 2
    assert values["isles_f1"] == pytest.approx(0.5)


def test_lesion_on_the_image_border():
    # A lesion touching the image corner is a lesion like any other: truth 2x2x2 at the corner,
    # pred its corner voxel -> tp 1, F1 1, Dice 2 x 1 / (8 + 1) = 2/9, volume |8 - 1| x 0.003.
    truth, pred = empty(), empty()
    truth[0:2, 0:2, 0:2] = True
    pred[0, 0, 0] = True
    values = isles(pred, truth)
    assert values["isles_f1"] == 1.0
    assert values["isles_dice"] == pytest.approx(2 / 9)
    assert values["isles_avd_ml"] == pytest.approx(0.021)


def test_empty_prediction():
    truth = empty()
    truth[2:4, 2:4, 2] = True  # 4 voxels, one lesion
    values = isles(empty(), truth)
    # Dice 0 / 4 = 0; volume 4 x 0.003 = 0.012 mL; counts |1 - 0| = 1; tp 0, fn 1, fp 0:
    # F1 = 0 / (0 + 1/2) = 0.
    assert values["isles_dice"] == 0.0
    assert values["isles_avd_ml"] == pytest.approx(0.012)
    assert values["isles_count_diff"] == 1
    assert values["isles_f1"] == 0.0


def test_empty_truth():
    pred = empty()
    pred[2:4, 2:4, 2] = True
    pred[8, 8, 8] = True  # 5 voxels, two components
    values = isles(pred, empty())
    # Dice 0 / 5 = 0; volume 5 x 0.003 = 0.015 mL; counts |0 - 2| = 2; tp 0, fn 0, fp 2:
    # F1 = 0 / (0 + 2/2) = 0.
    assert values["isles_dice"] == 0.0
    assert values["isles_avd_ml"] == pytest.approx(0.015)
    assert values["isles_count_diff"] == 2
    assert values["isles_f1"] == 0.0


def test_both_empty():
    values = isles(empty(), empty())
    # Dice: empty_value 1.0 (lines 42-44); F1: tp + fp + fn = 0 -> empty_value 1.0 (lines 190-193);
    # volume difference 0; count difference 0. Nothing is NaN.
    assert values["isles_dice"] == 1.0
    assert values["isles_f1"] == 1.0
    assert values["isles_avd_ml"] == 0.0
    assert values["isles_count_diff"] == 0
