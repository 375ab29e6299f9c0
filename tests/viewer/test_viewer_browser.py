"""The heatmap viewer and the report's table in a real browser: headless Chromium over the
DevTools pipe (patch2loc.viewer.browser). Skipped where Chromium is missing; .ci/run
installs Debian's `chromium`. WebGL runs on SwiftShader (no GPU needed)."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest

from patch2loc.viewer.browser import Chromium, find_chromium
from patch2loc.evaluation.report.html import build_report
from patch2loc.evaluation.report.sections import per_volume_items
from patch2loc.viewer import copy_library, write_viewer

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="chromium not installed (Debian: apt-get install chromium; .ci/run does)"
)

# x runs right-to-left: the voxel NiiVue reports must be the NIfTI index, not its RAS reordering.
AFFINE = np.array([[-3.0, 0, 0, 60], [0, 3, 0, -70], [0, 0, 3, -40], [0, 0, 0, 1]])
HEALTHY, LESION, THRESHOLD = 3.0, 10.0, 6.0
CYAN = (0, 229, 255)  # the ground-truth outline (viewer.template.PAGE)
CROSSHAIR = (64, 255, 64)


def tiny_heatmap(shape=(40, 48, 30)):
    """An ellipsoid brain scoring 3 with a spherical lesion scoring 10, and that lesion as ground truth."""
    grid = np.indices(shape).astype(np.float32)
    centre = (np.array(shape) / 2)[:, None, None, None]
    brain = (((grid - centre) / (0.42 * np.array(shape))[:, None, None, None]) ** 2).sum(0) < 1
    lesion = ((grid - np.array([26, 27, 16])[:, None, None, None]) ** 2).sum(0) < 5.5**2
    scan = np.where(brain, 0.6 + 0.25 * np.cos(grid[1] / 4), 0).astype(np.float32)
    score = np.where(brain, np.where(lesion, LESION, HEALTHY), 0).astype(np.float32)
    return scan, score, lesion


def colour_of(browser, score: float) -> np.ndarray:
    """The overlay colour of a score on the fixed [0, 12] scale: NiiVue's own inferno table, at
    score / 12 (a scale that started at the threshold would give another colour)."""
    table = np.array(browser.evaluate("Array.from(window.p2lViewer.nv.colormap('inferno'))")).reshape(-1, 4)
    return table[round(score / 12.0 * (len(table) - 1)), :3]


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def near(img: np.ndarray, rgb, tol: int = 12) -> np.ndarray:
    return (np.abs(img - np.asarray(rgb)) <= tol).all(axis=-1)


@pytest.fixture(scope="module")
def browser():
    with Chromium(width=1200, height=700) as chromium:
        yield chromium


def views(browser) -> np.ndarray:
    """The three slice views as displayed: the page's pixels between the canvas top and the colour
    bar (which shows every colour of the scale). Rows keep their page coordinates; those above
    the canvas are black."""
    time.sleep(0.3)  # NiiVue draws on the next animation frame
    img = pixels(browser.screenshot())
    top, bottom = browser.evaluate(
        "(() => { const r = document.getElementById('gl').getBoundingClientRect(); "
        "return [r.top, r.bottom - window.p2lViewer.nv.colorbarHeight]; })()"
    )
    img[: int(np.ceil(top))] = 0
    return img[: int(bottom)]


def open_viewer(browser, page):
    browser.errors.clear()
    browser.open(page)
    browser.wait_for("window.p2lViewer && window.p2lViewer.ready", timeout=60)
    return views(browser)


def set_threshold(browser, value):
    """As a user does: move the slider (an input event)."""
    browser.evaluate(
        f"(() => {{ const s = document.getElementById('threshold'); s.value = {value}; "
        "s.dispatchEvent(new Event('input')); })()"
    )
    return views(browser)


@pytest.mark.parametrize("layout", ["inline", "beside"])
def test_viewer_loads_from_file_and_draws_the_overlay_on_the_fixed_scale(browser, tmp_path, layout):
    scan, score, lesion = tiny_heatmap()
    if layout == "beside":  # the run's layout: viewers/{method}/{modality}/{fold}/{dataset}/x.html
        copy_library(tmp_path / "viewers" / "niivue.umd.js")
        page = write_viewer(
            tmp_path / "viewers/Patch2Loc/T2/fold0/MSLUB/p1.html",
            scan,
            score,
            AFFINE,
            threshold=THRESHOLD,
            seg=lesion,
            library="../../../../niivue.umd.js",
        )
    else:
        page = write_viewer(tmp_path / "p1.html", scan, score, AFFINE, threshold=THRESHOLD, seg=lesion)
    img = open_viewer(browser, page)
    assert browser.errors == []
    assert near(img, colour_of(browser, LESION)).sum() > 100  # the lesion, in its colour on [0, 12]
    assert near(img, CYAN, 40).sum() > 20  # the ground-truth outline
    grey = (np.ptp(img, axis=-1) < 8) & (img.mean(axis=-1) > 60)
    assert grey.sum() > 20000  # the scan around it
    # Below the threshold the scan stays grey: neither the healthy score's colour nor a tint of it
    # (a translucent overlay tints ~all of the brain); left: the lesion's rim, labels, crosshair.
    assert near(img, colour_of(browser, HEALTHY)).sum() < 20
    tinted = (np.ptp(img, axis=-1) > 20) & ~near(img, colour_of(browser, LESION), 60) & ~near(img, CYAN, 80)
    assert (tinted & ~near(img, CROSSHAIR, 80)).sum() < 0.1 * grey.sum()


def test_moving_the_threshold_changes_the_rendered_pixels(browser, tmp_path):
    scan, score, lesion = tiny_heatmap()
    page = write_viewer(tmp_path / "p1.html", scan, score, AFFINE, threshold=THRESHOLD, seg=None)
    start = open_viewer(browser, page)
    assert float(browser.evaluate("document.getElementById('threshold').value")) == THRESHOLD  # the run's
    assert near(start, CYAN, 40).sum() == 0  # no ground truth, no outline
    above = set_threshold(browser, 11)  # above the lesion's score: nothing coloured
    assert near(start, colour_of(browser, LESION)).sum() > 100 and near(above, colour_of(browser, LESION)).sum() == 0
    below = set_threshold(browser, 2)  # below the healthy tissue's score: all of the brain coloured
    assert near(below, colour_of(browser, HEALTHY)).sum() > 10 * near(start, colour_of(browser, LESION)).sum()
    assert (np.abs(below - start).max(axis=-1) > 30).mean() > 0.05
    assert browser.evaluate("document.getElementById('threshold-value').textContent") == "2.00"
    assert browser.errors == []


def test_clicking_the_lesion_reads_out_its_voxel_and_score(browser, tmp_path):
    scan, score, lesion = tiny_heatmap()
    # Inside the lesion every voxel differs from its neighbours by >= 0.02: a voxel off by one
    # along any axis reads out another score.
    i, j, k = np.indices(score.shape)
    score = np.where(lesion, score + 0.02 * (i - 26) + 0.025 * (j - 27) + 0.03 * (k - 16), score).astype(np.float32)
    page = write_viewer(tmp_path / "p1.html", scan, score, AFFINE, threshold=THRESHOLD, seg=lesion)
    img = open_viewer(browser, page)
    width = img.shape[1] // 3
    for view, q in enumerate((0.5, 0.3, 0.7)):  # axial, coronal, sagittal: the crosshair follows the clicks
        hit = near(img, colour_of(browser, LESION), 40)
        hit[:, : view * width] = hit[:, (view + 1) * width :] = False
        rows, cols = np.nonzero(hit)
        assert rows.size > 20, f"no lesion in view {view}"
        target = np.array([np.quantile(rows, q), np.quantile(cols, q)])
        row, col = min(zip(rows, cols), key=lambda p: np.hypot(*(np.array(p) - target)))  # a lesion pixel
        browser.evaluate("window.p2lViewer.location = null")
        browser.click(float(col), float(row))
        where = browser.wait_for("window.p2lViewer.location")
        x, y, z = where["voxel"]
        assert lesion[x, y, z], (view, where, "the voxel under the click is in the lesion (NIfTI index order)")
        assert where["score"] == pytest.approx(score[x, y, z], abs=0.006), (view, where)
        text = browser.evaluate("document.getElementById('readout').textContent")
        assert f"voxel ({x}, {y}, {z})" in text and f"score {where['score']:.2f}" in text
        assert "inside the ground truth" in text
        img = views(browser)
    assert browser.errors == []


def test_report_table_sorts_on_a_click_and_links_the_viewers(browser, tmp_path):
    run = tmp_path / "run"
    metrics = pd.DataFrame(
        {
            "method": "Patch2Loc",
            "modality": "T2",
            "fold": "0",
            "dataset": "MSLUB",
            "subject": ["p1", "p2", "p3"],
            "auprc": [0.5, 0.1, 0.9],
            "best_dice": [0.4, 0.2, 0.8],
            "dice_unsup": [0.3, float("nan"), 0.7],
        }
    )
    metrics.to_csv(tmp_path / "per_volume.csv", index=False)
    for subject in ("p1", "p2"):
        page = run / "viewers/Patch2Loc/T2/fold0/MSLUB" / f"{subject}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<title>{subject}</title>", encoding="utf-8")
    report = build_report(
        run / "report.html", "t", [("Per volume", per_volume_items(tmp_path / "per_volume.csv", run))]
    )
    browser.open(report)
    first = "document.querySelector('table.sortable tbody tr')"
    header = (
        "(() => { const th = Array.from(document.querySelectorAll('table.sortable th'))"
        ".find((h) => h.textContent.startsWith('{name}')); th.click(); return true; })()"
    )
    browser.evaluate(header.replace("{name}", "AUPRC"))
    assert browser.evaluate(f"{first}.cells[0].textContent") == "p2"  # the worst volume, one click
    assert browser.evaluate(f"{first}.querySelector('a').href").endswith("viewers/Patch2Loc/T2/fold0/MSLUB/p2.html")
    browser.evaluate(header.replace("{name}", "AUPRC"))
    assert browser.evaluate(f"{first}.cells[0].textContent") == "p3"
    assert browser.evaluate(f"{first}.querySelector('a')") is None  # p3 kept no heatmap: no link
    browser.evaluate(header.replace("{name}", "Dice at threshold"))
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('table.sortable tbody tr'), (r) => r.cells[0].textContent)"
    )
    assert rows == ["p1", "p3", "p2"]  # ascending, the empty (NaN) cell last
    assert browser.errors == []
