"""MSLUB metrics (src/patch2loc/evaluation/challenges/mslub.py) on crafted cases, and the package's
interface (challenges/__init__.py): columns, the ignore mask, bad input."""

import numpy as np
import pytest

from patch2loc.errors import InputError
from patch2loc.evaluation.challenges import CHALLENGES, challenge_metrics, columns
from tests.helpers.challenge_cases import ANISO, SHAPE, empty, metrics_of

mslub = metrics_of("mslub")


def test_lesion_rates_and_volumes():
    # truth: lesions A (2x2x1 at 2..3, 2..3, 2) and B (one voxel at 10, 10, 5); pred: A's first
    # row (2..3, 2, 2), and a blob far away (15..16, 15, 8): 2 components.
    truth, pred = empty(), empty()
    truth[2:4, 2:4, 2] = True
    truth[10, 10, 5] = True
    pred[2:4, 2, 2] = True
    pred[15:17, 15, 8] = True
    values = mslub(pred, truth)
    # LTPR = lesions holding a predicted voxel / lesions = 1/2; LFPR = components touching no lesion /
    # components = 1/2; Dice 2 x 2 / (5 + 4) = 4/9; volumes 5 x 0.003 = 0.015 mL, 4 x 0.003 = 0.012.
    assert (values["mslub_ltpr"], values["mslub_lfpr"]) == (0.5, 0.5)
    assert values["mslub_dice"] == pytest.approx(4 / 9)
    assert values["mslub_lesion_ml"] == pytest.approx(0.015)
    assert values["mslub_predicted_ml"] == pytest.approx(0.012)
    assert (values["mslub_lesions"], values["mslub_components"]) == (2, 2)


def test_touching_lesions_and_the_image_border():
    # Two truth voxels meeting at a corner, the first on the image's corner: one 26-connected lesion.
    truth, pred = empty(), empty()
    truth[0, 0, 0] = truth[1, 1, 1] = True
    pred[0, 0, 0] = True
    values = mslub(pred, truth)
    # 1 lesion, found: LTPR 1/1; 1 component, on it: LFPR 0/1; Dice 2 x 1 / (2 + 1) = 2/3.
    assert values["mslub_lesions"] == 1
    assert (values["mslub_ltpr"], values["mslub_lfpr"]) == (1.0, 0.0)
    assert values["mslub_dice"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "has_pred, has_truth, dice, ltpr, lfpr",
    [
        # empty prediction: Dice 0 / 4 = 0, LTPR 0 / 1, LFPR 0 by convention (no component)
        (False, True, 0.0, 0.0, 0.0),
        # empty truth: Dice 0, LTPR 1 by convention (no lesion), LFPR 1 / 1 (the one component)
        (True, False, 0.0, 1.0, 1.0),
        # both empty: Dice 1, LTPR 1, LFPR 0 (the conventions of mslub.py's docstring)
        (False, False, 1.0, 1.0, 0.0),
    ],
)
def test_empty_masks_follow_the_documented_conventions(has_pred, has_truth, dice, ltpr, lfpr):
    pred, truth = empty(), empty()
    pred[2:4, 2:4, 2] = has_pred
    truth[2:4, 2:4, 2] = has_truth
    values = mslub(pred, truth)
    assert (values["mslub_dice"], values["mslub_ltpr"], values["mslub_lfpr"]) == (dice, ltpr, lfpr)
    assert (values["mslub_components"], values["mslub_lesions"]) == (int(has_pred), int(has_truth))


def test_columns_are_prefixed_and_in_order():
    prefixes = {"wmh": "wmh_", "isles22": "isles_", "brats23": "brats_", "mslub": "mslub_"}
    assert set(CHALLENGES) == set(prefixes)
    truth = empty()
    truth[2:4, 2:4, 2] = True
    for name, prefix in prefixes.items():
        names = columns(name)
        assert names == CHALLENGES[name].COLUMNS and all(c.startswith(prefix) for c in names)
        assert tuple(challenge_metrics(name, truth.copy(), truth, ANISO)) == names


def test_ignore_is_removed_from_both_masks_without_changing_the_inputs():
    # pred covers the lesion and an ignored region; with ignore the ignored voxels are in neither mask.
    truth, pred, ignore = empty(), empty(), empty()
    truth[2:4, 2:4, 2] = True
    pred[2:4, 2:4, 2] = True
    pred[10:13, 10:13, 2] = True
    ignore[10:13, 10:13, 2] = True
    before = pred.copy()
    values = challenge_metrics("isles22", pred, truth, ANISO, ignore)
    # Dice 2 x 4 / (4 + 4) = 1; fp 0 (without ignore: Dice 8 / 17, fp 1).
    assert (values["isles_dice"], values["isles_fp"]) == (1.0, 0)
    assert np.array_equal(pred, before)


@pytest.mark.parametrize(
    "challenge, pred, truth, spacing, words",
    [
        ("atlas", np.zeros(SHAPE, bool), np.zeros(SHAPE, bool), ANISO, "unknown challenge"),
        ("wmh", np.zeros(SHAPE, float), np.zeros(SHAPE, bool), ANISO, "pred must be a 3D boolean"),
        ("wmh", np.zeros(SHAPE, bool), np.zeros((20, 20, 9), bool), ANISO, "truth shape"),
        ("wmh", np.zeros(SHAPE, bool), np.zeros(SHAPE, bool), (1.0, 0.0, 3.0), "spacing"),
        ("wmh", np.zeros(SHAPE, bool), np.zeros(SHAPE, bool), (1.0, 1.0), "spacing"),
    ],
)
def test_bad_input_is_one_clear_error(challenge, pred, truth, spacing, words):
    with pytest.raises(InputError, match=words):
        challenge_metrics(challenge, pred, truth, spacing)
