"""Every figure records what its panels drew, and figures.check fails a figure with an empty panel:
a class with n = 0, a method without a map or points, an all-NaN curve, a figure not drawn."""

import numpy as np
import pandas as pd

from patch2loc.evaluation.figures import check as figure_check
from patch2loc.evaluation.figures.ellipses import ellipse_figure
from patch2loc.evaluation.figures.heatmaps import method_panel
from patch2loc.evaluation.figures.kde import kde_figure, method_kde_figure
from patch2loc.evaluation.figures.loss_curves import loss_curves
from patch2loc.evaluation.figures.style import not_drawn
from patch2loc.evaluation.lesionwise.figures import dodged, recall_size_figure
from patch2loc.evaluation.patches.classes import PatchClasses
from tests.helpers.patches import patch_table


def _problems(png):
    return figure_check.figure_problems(png)


def test_kde_figure_with_both_classes_passes_and_an_empty_class_fails(tmp_path):
    kde_figure(patch_table(40, 30), "BraTS21", tmp_path / "good.png")
    assert _problems(tmp_path / "good.png") == []
    kde_figure(patch_table(40, 0), "BraTS21", tmp_path / "empty.png")
    problems = _problems(tmp_path / "empty.png")
    # four panels, each without its abnormal patches
    assert len(problems) == 4 and all("'abnormal (>90% lesion)' has no data" in p for p in problems)


def test_the_definition_decides_the_classes_and_names_them(tmp_path):
    # no patch is > 90 % lesion, but two are centred on a lesion: the centre definition has both classes
    p = patch_table(30, 0).assign(centre_lesion=False)
    p.loc[[0, 1], "centre_lesion"] = True
    centre = PatchClasses(stride=2, abnormal="centre")
    kde_figure(p, "BraTS21", tmp_path / "centre.png", definition=centre)
    assert _problems(tmp_path / "centre.png") == []
    ellipse_figure(p, tmp_path / "ellipses.png", definition=centre)
    assert _problems(tmp_path / "ellipses.png") == []
    ellipse_figure(p, tmp_path / "ellipses_paper.png")
    assert _problems(tmp_path / "ellipses_paper.png") == ["panel 'abnormal': 'patches' has no data"]


def test_a_method_without_a_map_fails_the_method_panel(tmp_path):
    image = np.ones((8, 8))
    rows = [("s1", image, {"A": image, "B": image}, None), ("s2", image, {"A": image}, None)]
    method_panel(rows, ["A", "B"], {"A": (0.0, 1.0), "B": (0.0, 1.0)}, tmp_path / "m.png")
    assert _problems(tmp_path / "m.png") == ["panel 's2': 'B' has no data"]
    samples = {"A": (patch_table(20, 10), {"normal": 20, "abnormal": 10}), "B": (patch_table(20, 0), {"normal": 20})}
    method_kde_figure(samples, "BraTS21", tmp_path / "k.png")
    assert _problems(tmp_path / "k.png") == ["panel 'B': 'abnormal (>90% lesion)' has no data"]


def test_an_all_nan_curve_fails_the_loss_figure(tmp_path):
    steps = np.arange(10, 60, 10)
    curve = pd.DataFrame({"step": steps, "train_loss": 1.0 / steps, "val_loss": 2.0 / steps})
    curve.assign(val_error=3.0, centre_error=9.0).to_csv(tmp_path / "a.csv", index=False)
    curve.assign(val_error=np.nan, centre_error=9.0).to_csv(tmp_path / "b.csv", index=False)
    loss_curves({"T2 fold0": tmp_path / "a.csv", "T2 fold1": tmp_path / "b.csv"}, tmp_path / "loss.png")
    assert _problems(tmp_path / "loss.png") == ["panel 'validation location error': 'T2 fold1 val_error' has no data"]


def _lesions(found_by):
    rows = []
    for method, found in found_by.items():
        for volume, hit in zip((0.005, 0.05, 2.0), found):
            rows.append(dict(method=method, fold=0, volume_ml=volume, found=hit, dataset="WMH", lesions=1))
    table = pd.DataFrame(rows)
    bins = pd.cut(table["volume_ml"], [0, 0.01, 0.1, 1.0, 10.0, np.inf])
    out = table.assign(size_bin=bins).groupby(["method", "fold", "dataset", "size_bin"], observed=False)
    return out.agg(lesions=("lesions", "sum"), recall=("found", "mean")).reset_index()


def test_recall_by_size_dodges_methods_and_records_their_points(tmp_path):
    # three methods finding the same lesions: without the dodge their marks would sit on each other
    per_fold = _lesions({"Patch2Loc": (1, 0, 1), "DAE": (1, 0, 1), "Thresh": (1, 0, 1)})
    recall_size_figure(per_fold, "WMH", tmp_path / "r.png")
    assert _problems(tmp_path / "r.png") == []
    offsets = dodged(3)
    assert len(set(offsets)) == 3 and offsets.max() - offsets.min() < 1  # apart, and inside the bin
    # a method with no lesion in any bin (all NaN) draws nothing: the check fails
    per_fold.loc[per_fold["method"] == "DAE", "recall"] = np.nan
    recall_size_figure(per_fold, "WMH", tmp_path / "nan.png")
    assert _problems(tmp_path / "nan.png") == ["panel 'recall by size': 'DAE' has no data"]


def test_a_figure_not_drawn_or_without_a_record_fails(tmp_path):
    not_drawn("ellipses_WMH.png", "no location with both classes", tmp_path / "n.png")
    assert _problems(tmp_path / "n.png") == ["not drawn: no location with both classes"]
    from matplotlib.figure import Figure

    Figure().savefig(tmp_path / "plain.png")
    assert "no record" in _problems(tmp_path / "plain.png")[0]
    (tmp_path / "figures").mkdir()
    kde_figure(patch_table(40, 30), "BraTS21", tmp_path / "figures" / "kde_BraTS21.png")
    assert figure_check.main([str(tmp_path)]) == 0
    (tmp_path / "n.png").rename(tmp_path / "figures" / "ellipses_WMH.png")
    assert figure_check.main([str(tmp_path)]) == 1
