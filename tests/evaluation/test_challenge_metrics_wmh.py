"""WMH challenge metrics (src/patch2loc/evaluation/challenges/wmh.py) on crafted cases, each value
worked out by hand from hjkuijf/wmhchallenge evaluation.py (line numbers in the module docstring).

Arrays are (x, y, z); z (axis 2) is the slice axis, the one the script's boundary does not erode."""

import math

import pytest

from patch2loc.evaluation.lesionwise.volume import hd95 as old_hd95
from tests.helpers.challenge_cases import ANISO, empty, metrics_of

wmh = metrics_of("wmh")


def test_flat_lesion_hd95_erodes_in_plane_only():
    # truth: a flat 9x9 square on one slice (x, y 6..14, z 5); pred: one voxel above its centre
    # (10, 10, 6), 3 mm higher at 1x1x3 mm.
    truth, pred = empty(), empty()
    truth[6:15, 6:15, 5] = True
    pred[10, 10, 6] = True
    # In-plane erosion leaves the square's ring as boundary (max(|dx|, |dy|) = 4 from the centre):
    # 32 voxels. Ring -> pred distance = sqrt(dx^2 + dy^2 + 3^2):
    # 4 at (4, 0) -> 5; 8 at (4, 1) -> sqrt 26; 8 at (4, 2) -> sqrt 29; 8 at (4, 3) -> sqrt 34;
    # 4 corners (4, 4) -> sqrt 41. numpy's 95th of 32 sorted values: position 0.95 x 31 = 29.45, inside
    # the corners (positions 28-31) -> sqrt 41. Pred (one voxel, its own boundary) -> nearest ring
    # voxel: (4, 0) -> 5. HD95 = max(sqrt 41, 5) = sqrt 41 = 6.403 mm.
    assert wmh(pred, truth)["wmh_hd95_mm"] == pytest.approx(math.sqrt(41))
    # A 3D boundary (lesionwise's, MONAI's) keeps all 81 voxels of a one-slice lesion:
    # position 0.95 x 80 = 76 of sorted sqrt(dx^2 + dy^2 + 9) is sqrt(25 + 9) (the 8 voxels with
    # dx^2 + dy^2 = 25 fill positions 69-76) -> sqrt 34 = 5.831 mm: not the challenge's value.
    assert old_hd95(pred, truth, ANISO) == pytest.approx(math.sqrt(34))


def test_thick_lesion_top_face_is_not_boundary():
    # truth: 5x5 square on slices 3, 4, 5; pred: the same square on slices 3, 4 only.
    truth, pred = empty(), empty()
    truth[5:10, 5:10, 3:6] = True
    pred[5:10, 5:10, 3:5] = True
    # Boundaries are the in-plane rings (16 voxels per slice): truth 48, pred 32. Truth -> pred: the
    # rings on slices 3, 4 at 0 (32), the ring on slice 5 at 3 mm (16, the ring below it); position
    # 0.95 x 47 = 44.65 lies among the 3s -> 3. Pred -> truth: all 0. HD95 = 3 mm.
    values = wmh(pred, truth)
    assert values["wmh_hd95_mm"] == pytest.approx(3.0)
    # Dice = 2 x 50 / (75 + 50) = 0.8; AVD = |75 - 50| / 75 x 100 = 33.33 %; one lesion, found, and
    # one predicted component touching it: recall 1, precision 1, F1 1.
    assert values["wmh_dice"] == pytest.approx(0.8)
    assert values["wmh_avd_pct"] == pytest.approx(100 / 3)
    assert (values["wmh_recall"], values["wmh_f1"]) == (1.0, 1.0)


def test_lesion_on_the_image_border():
    # truth: a 3x3 square in the image's corner (x, y 0..2, z 4); pred: the corner voxel (0, 0, 4).
    truth, pred = empty(), empty()
    truth[0:3, 0:3, 4] = True
    pred[0, 0, 4] = True
    # SimpleITK's erosion takes voxels outside the image as foreground, so the truth's erosion keeps
    # (0,0), (0,1), (1,0), (1,1) and its boundary is the 5 voxels (2,0), (2,1), (2,2), (0,2), (1,2);
    # the pred voxel erodes away (its neighbours (1,0), (0,1), (1,1) are background) and is its own
    # boundary. Truth -> pred distances: 2, sqrt 5, sqrt 8, 2, sqrt 5; sorted 2, 2, sqrt 5, sqrt 5,
    # sqrt 8; position 0.95 x 4 = 3.8 -> sqrt 5 + 0.8 (sqrt 8 - sqrt 5) = 2.7099. Pred -> truth: 2.
    expected = math.sqrt(5) + 0.8 * (math.sqrt(8) - math.sqrt(5))
    assert wmh(pred, truth)["wmh_hd95_mm"] == pytest.approx(expected)
    # The same lesion away from the border: its erosion keeps only the centre, its boundary is the 8
    # ring voxels; distances to the pred voxel (its corner) 0, 1, 1, 2, 2, sqrt 5, sqrt 5, sqrt 8;
    # position 0.95 x 7 = 6.65 -> sqrt 5 + 0.65 (sqrt 8 - sqrt 5) = 2.6211; pred -> truth 0.
    inside, corner = empty(), empty()
    inside[2:5, 2:5, 4] = True
    corner[2, 2, 4] = True
    away = math.sqrt(5) + 0.65 * (math.sqrt(8) - math.sqrt(5))
    assert wmh(corner, inside)["wmh_hd95_mm"] == pytest.approx(away)
    assert away != pytest.approx(expected)


def test_touching_lesions_are_one_under_26_connectivity():
    # Two truth voxels meeting at a corner only: one lesion with 26 neighbours (the script's fully
    # connected labelling), two with 6. The prediction hits one of them.
    truth, pred = empty(), empty()
    truth[5, 5, 5] = truth[6, 6, 6] = True
    pred[5, 5, 5] = True
    values = wmh(pred, truth)
    # 26: 1 lesion, detected -> recall 1/1; 1 component touching it -> precision 1; F1 1.
    # (6-connectivity would give 2 lesions, recall 1/2, F1 2/3.)
    assert values["wmh_lesions"] == 1
    assert values["wmh_recall"] == 1.0
    assert values["wmh_f1"] == 1.0
    # Dice 2 x 1 / (2 + 1) = 2/3; AVD |2 - 1| / 2 = 50 %.
    assert values["wmh_dice"] == pytest.approx(2 / 3)
    assert values["wmh_avd_pct"] == pytest.approx(50.0)


def test_label_2_is_removed_from_both_masks():
    # truth (label 1): 2x2 square A; label 2: a 3x3 square B elsewhere; pred: A and all of B.
    truth, pred, other = empty(), empty(), empty()
    truth[2:4, 2:4, 2] = True
    other[10:13, 10:13, 2] = True
    pred[2:4, 2:4, 2] = True
    pred[10:13, 10:13, 2] = True
    values = wmh(pred, truth, ignore=other)
    # The script sets the prediction to 0 on label 2 (lines 49-50): pred = A. Dice 1, HD95 0, AVD 0,
    # recall 1, precision 1 (B is not a false positive), F1 1.
    assert values["wmh_dice"] == 1.0
    assert values["wmh_hd95_mm"] == 0.0
    assert values["wmh_avd_pct"] == 0.0
    assert (values["wmh_recall"], values["wmh_f1"], values["wmh_components"]) == (1.0, 1.0, 1)
    # Without the removal B is a false-positive component: Dice 2 x 4 / (13 + 4) = 8/17, AVD
    # |4 - 13| / 4 = 225 %, precision 1/2 -> F1 = 2 (1/2)(1) / (3/2) = 2/3.
    kept = wmh(pred, truth)
    assert kept["wmh_dice"] == pytest.approx(8 / 17)
    assert kept["wmh_avd_pct"] == pytest.approx(225.0)
    assert kept["wmh_f1"] == pytest.approx(2 / 3)


def test_empty_prediction():
    truth = empty()
    truth[4:6, 4:6, 4] = True  # 4 voxels, one lesion
    values = wmh(empty(), truth)
    # Dice 2 x 0 / (0 + 4) = 0; HD95 NaN (lines 102-105: undefined without a detection); AVD
    # |4 - 0| / 4 = 100 %; recall 0/1; precision 1.0 without detections (lines 169-170), so
    # F1 = 2 x 1 x 0 / (1 + 0) = 0.
    assert values["wmh_dice"] == 0.0
    assert math.isnan(values["wmh_hd95_mm"])
    assert values["wmh_avd_pct"] == 100.0
    assert (values["wmh_recall"], values["wmh_f1"]) == (0.0, 0.0)
    assert (values["wmh_lesions"], values["wmh_components"]) == (1, 0)


def test_empty_truth():
    pred = empty()
    pred[4:6, 4:6, 4] = True
    values = wmh(pred, empty())
    # Dice 0 / 4 = 0; HD95 and AVD: the script stops (no truth point for its KD-tree; AVD divides by
    # the truth volume 0), NaN here, counted by wmh_lesions = 0; recall 1.0 without a lesion
    # (lines 155-156); precision 0/1, so F1 = 0.
    assert values["wmh_dice"] == 0.0
    assert math.isnan(values["wmh_hd95_mm"]) and math.isnan(values["wmh_avd_pct"])
    assert (values["wmh_recall"], values["wmh_f1"]) == (1.0, 0.0)
    assert (values["wmh_lesions"], values["wmh_components"], values["wmh_components_hit"]) == (0, 1, 0)


def test_both_empty():
    values = wmh(empty(), empty())
    # Dice: scipy's dissimilarity is 0/0 = NaN (line 95); HD95 NaN (no detection); AVD NaN (divides
    # by 0); recall 1 and precision 1 by the script's rules, F1 = 2 x 1 x 1 / 2 = 1.
    assert math.isnan(values["wmh_dice"]) and math.isnan(values["wmh_hd95_mm"]) and math.isnan(values["wmh_avd_pct"])
    assert (values["wmh_recall"], values["wmh_f1"]) == (1.0, 1.0)


def test_truth_filling_whole_slices_has_no_in_plane_boundary():
    # truth: slices z 4 and 5 filled wholly (2 x 400 voxels, one component); pred: a 3x3x1 square on
    # slice 5 plus a 2x2x1 blob on slice 0 (two components). The in-plane erosion counts outside the
    # image as foreground, so a full slice erodes to itself: the truth has no boundary, the script
    # fails on np.percentile of nothing, and HD95 is NaN here; the other metrics keep their values.
    truth, pred = empty(), empty()
    truth[:, :, 4:6] = True
    pred[5:8, 5:8, 5] = True
    pred[0:2, 0:2, 0] = True
    values = wmh(pred, truth)
    assert math.isnan(values["wmh_hd95_mm"])
    # Dice 2 x 9 / (800 + 13) ; AVD |800 - 13| / 800 x 100 = 98.375 %; the one lesion is found (recall
    # 1); 1 of 2 components touches it (precision 0.5): F1 = 2 x 0.5 x 1 / 1.5 = 2/3.
    assert values["wmh_dice"] == pytest.approx(18 / 813)
    assert values["wmh_avd_pct"] == pytest.approx(98.375)
    assert values["wmh_recall"] == 1.0
    assert values["wmh_f1"] == pytest.approx(2 / 3)
    # The same volume as a prediction: no pred boundary, HD95 NaN again.
    assert math.isnan(wmh(truth, pred)["wmh_hd95_mm"])
