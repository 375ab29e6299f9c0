"""Every figure function runs on tiny inputs and writes a PNG; degenerate inputs do not crash."""

import numpy as np
import pandas as pd
import pytest

from patch2loc.evaluation.figures.ellipses import ellipse_figure
from patch2loc.evaluation.figures.heatmaps import heatmap_panel, pick_slice
from patch2loc.evaluation.figures.kde import kde_figure
from patch2loc.evaluation.figures.loss_curves import loss_curves
from patch2loc.errors import InputError
from tests.helpers.patches import patch_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


@pytest.mark.parametrize("n_normal,n_abnormal", [(40, 30), (40, 2), (5, 0)])
def test_kde_figure_writes_png_even_with_few_points(tmp_path, n_normal, n_abnormal):
    out = tmp_path / "kde.png"
    kde_figure(patch_table(n_normal, n_abnormal), "BraTS21", out)
    assert _is_png(out)


def test_kde_figure_identical_values_and_unknown_dataset(tmp_path):
    p = patch_table(6, 6)
    p.loc[p["lesion_fraction"] == 1, ["log_error", "log_variance", "score"]] = 3.0  # singular KDE
    kde_figure(p, "BraTS21", tmp_path / "kde.png", max_points=4)
    assert _is_png(tmp_path / "kde.png")
    with pytest.raises(InputError, match="WMH"):
        kde_figure(p, "WMH", tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_heatmap_panel_with_and_without_segmentation(tmp_path):
    yy, xx = np.mgrid[:32, :28]
    image = np.exp(-((xx - 14) ** 2 + (yy - 16) ** 2) / 120.0)
    score = 12 * image
    seg = (xx - 10) ** 2 + (yy - 12) ** 2 < 16
    out = tmp_path / "panel.png"
    heatmap_panel([("BraTS21 s1 z=40", image, score, seg), ("IXI healthy", image, score / 3, None)], out)
    assert _is_png(out)
    heatmap_panel([("single", image, score, np.zeros_like(seg))], tmp_path / "one.png")
    assert _is_png(tmp_path / "one.png")
    with pytest.raises(InputError, match="shapes"):
        heatmap_panel([("bad", image, score[:, :5], None)], tmp_path / "bad.png")


def test_pick_slice():
    seg = np.zeros((4, 4, 10), bool)
    seg[:, :, 3] = True
    seg[0, 0, 7] = True
    assert pick_slice(seg) == 3
    mask = np.zeros((4, 4, 10), bool)
    mask[1:3, 1:3, 2:9] = True
    assert pick_slice(np.zeros_like(seg), mask) == 5
    assert pick_slice(None, mask) == 5
    with pytest.raises(InputError):
        pick_slice(None)


def test_ellipse_figure(tmp_path):
    out = tmp_path / "ellipses.png"
    ellipse_figure(patch_table(10, 8), out)
    assert _is_png(out)
    ellipse_figure(patch_table(3, 0), tmp_path / "only_normal.png")
    assert _is_png(tmp_path / "only_normal.png")
    with pytest.raises(InputError, match="mean= and logvar="):
        ellipse_figure(patch_table(3, 3).drop(columns=["mu_x"]), tmp_path / "x.png")


def test_loss_curves(tmp_path):
    paths = {}
    for label in ("T1 fold0", "T2 fold0"):
        steps = np.arange(0, 200, 10)
        df = pd.DataFrame(
            {
                "step": steps,
                "train_loss": 5 * np.exp(-steps / 50) + 1,
                "val_loss": np.where(steps % 50 == 0, 5 * np.exp(-steps / 60) + 1.2, np.nan),
                "val_error": np.where(steps % 50 == 0, 20 * np.exp(-steps / 80) + 3, np.nan),
                "centre_error": np.where(steps % 50 == 0, 25.0, np.nan),
            }
        )
        paths[label] = tmp_path / f"{label}.csv"
        df.to_csv(paths[label], index=False)
    out = tmp_path / "loss.png"
    loss_curves(paths, out)
    assert _is_png(out)
    pd.DataFrame({"step": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match="bad.csv"):
        loss_curves({"bad": tmp_path / "bad.csv"}, tmp_path / "bad.png")


def test_not_drawn_writes_a_png_naming_the_reason(tmp_path):
    from patch2loc.evaluation.figures.style import not_drawn

    out = tmp_path / "x.png"
    not_drawn("ellipses_WMH.png", "no location with both normal and abnormal patches", out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000


def test_loss_curves_of_a_dae(tmp_path):
    steps = np.arange(10, 110, 10)
    pd.DataFrame(
        {"step": steps, "train_loss": 1 / steps, "val_loss": 1.1 / steps, "val_recon_error": 0.5 / np.sqrt(steps)}
    ).to_csv(tmp_path / "dae.csv", index=False)
    loss_curves({"T2 fold0": tmp_path / "dae.csv"}, tmp_path / "dae.png")
    assert _is_png(tmp_path / "dae.png")


def test_method_panel_side_by_side(tmp_path):
    from patch2loc.evaluation.figures.heatmaps import method_panel

    yy, xx = np.mgrid[:32, :28]
    image = np.exp(-((xx - 14) ** 2 + (yy - 16) ** 2) / 120.0)
    seg = (xx - 10) ** 2 + (yy - 12) ** 2 < 16
    maps = {"Patch2Loc": 12 * image, "DAE": 0.3 * image, "Thresh": image}
    scales = {"Patch2Loc": (2.0, 9.0), "DAE": (0.01, 0.2), "Thresh": (0.4, 1.0)}
    out = tmp_path / "methods.png"
    method_panel(
        [("s1 (slice 3)", image, maps, seg), ("s2", image, {"Thresh": image}, None)],
        ["Patch2Loc", "DAE", "Thresh"],
        scales,
        out,
    )
    assert _is_png(out)
    with pytest.raises(InputError, match="s3"):
        method_panel([("s3", image, {"DAE": image[:, :5]}, None)], ["DAE"], scales, tmp_path / "bad.png")
    with pytest.raises(InputError, match="no method"):
        method_panel([("s4", image, maps, seg)], [], scales, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_method_kde_figure(tmp_path):
    from patch2loc.evaluation.figures.kde import method_kde_figure

    p = patch_table(30, 20)
    samples = {
        "Patch2Loc": (p, {"normal": 30, "abnormal": 20}),
        "DAE": (p.assign(score=p["lesion_fraction"] + 0.1), {"normal": 30, "abnormal": 20}),
        "Thresh": (p.iloc[:30], {"normal": 30, "abnormal": 0}),
    }
    method_kde_figure(samples, "BraTS21", tmp_path / "kde_methods.png")
    assert _is_png(tmp_path / "kde_methods.png")
    with pytest.raises(InputError, match="WMH"):
        method_kde_figure({}, "WMH", tmp_path / "none.png")
