"""report.html in a real browser at 1,280 px (headless Chromium, patch2loc.viewer.browser): the
results come first, the configuration is collapsed at the end, and no table is wider than the page,
with the widest content a real run makes (five folds of every method of the registry beside the
published rows in Table 1, Table 3's thirteen columns, a per-volume table). Skipped where
Chromium is missing; .ci/run installs Debian's `chromium`."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patch2loc.evaluation.report.html import build_report
from patch2loc.evaluation.report.sections import per_volume_items
from patch2loc.evaluation.tables.aggregate import METRICS_COLUMNS
from patch2loc.evaluation.tables.table1 import table1, table1_supplementary
from patch2loc.registry import METHODS
from patch2loc.viewer.browser import Chromium, find_chromium

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="chromium not installed (Debian: apt-get install chromium; .ci/run does)"
)

MODALITY = {"BraTS21": "T2", "MSLUB": "T2", "ATLAS_v2": "T1", "WMH": "T1"}
PUBLISHED = Path(__file__).resolve().parents[2] / "config" / "published" / "paper_table1.csv"
TABLE3_COLUMNS = [
    "dataset",
    "modality",
    "method",
    "region",
    "Dice (%)",
    "HD95 (mm)",
    "AVD (%)",
    "lesion recall (%)",
    "lesion F1 (%)",
    "FP components / volume",
    "lesions / volume",
    "folds",
    "volumes",
]
CONFIG = {
    "run_name": "paper",
    "raw_root": "/data/a/rather/long/path/to/the/raw/downloads/of/every/dataset",
    "preprocess": {"spacing": [1.0, 1.0, 1.0], "target_shape": [192, 192, 100]},
    "methods": {name: {"steps": 15000, "lr": 0.01} for name in METHODS},
}


def five_fold_metrics(rng: np.random.Generator) -> pd.DataFrame:
    """Per-volume metrics of every registered method (five folds; Thresh, untrained, one) on the
    four lesion sets in their modalities."""
    rows = []
    for method in METHODS:
        for fold in [""] if method == "Thresh" else [str(k) for k in range(5)]:
            for dataset, modality in MODALITY.items():
                for subject in ("sub-0001", "sub-0002"):
                    dice, auprc = rng.uniform(0.01, 0.9, 2)
                    rows.append(
                        dict(
                            method=method,
                            modality=modality,
                            fold=fold,
                            dataset=dataset,
                            subject=subject,
                            region="brain",
                            auprc=auprc,
                            auroc=0.9,
                            best_dice=dice,
                            best_threshold=3.0,
                            dice_unsup=dice / 2,
                            unsup_threshold=5.0,
                            lesion_voxels=12345,
                        )
                    )
    return pd.DataFrame(rows, columns=list(METRICS_COLUMNS))


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    metrics = five_fold_metrics(np.random.default_rng(0))
    metrics.to_csv(tmp / "per_volume.csv", index=False)
    table3 = pd.DataFrame([[d, "T2", m, "brain", 39.16, 55.9, 21.2, 87.5, 21.7, 16.8, 1.2, 5, 40]
                           for d in ("BraTS21", "WMH") for m in METHODS], columns=TABLE3_COLUMNS)  # fmt: skip
    sections = [
        (
            "Table 1",
            [("Table 1", table1(metrics, PUBLISHED)), ("Table 1, supplementary", table1_supplementary(metrics))],
        ),
        ("Table 3", [("Table 3", table3)]),
        ("Per-volume results", per_volume_items(tmp / "per_volume.csv", tmp)),
    ]
    return build_report(tmp / "report.html", "Patch2Loc results: paper", sections, run_name="paper", config=CONFIG)


@pytest.fixture(scope="module")
def browser():
    with Chromium(width=1280, height=800) as chromium:
        yield chromium


def test_report_fits_1280_px_with_results_first(browser, report_page, tmp_path):
    browser.open(report_page)
    page = browser.evaluate(
        "(() => { const d = document.documentElement; return {width: d.scrollWidth, window: d.clientWidth,"
        " wide: Array.from(document.querySelectorAll('.scroll'), (s) => [s.scrollWidth, s.clientWidth,"
        " s.querySelector('th').textContent]).filter(([w, c]) => w > c),"
        " headings: Array.from(document.querySelectorAll('h2'), (h) => h.textContent),"
        " configOpen: document.querySelector('#configuration + details').open,"
        " firstTable: document.querySelector('.scroll').getBoundingClientRect().top}; })()"
    )
    assert page["window"] == 1280 and page["width"] <= page["window"], page  # no horizontal scroll bar
    assert page["wide"] == [], page["wide"]  # no table scrolls inside its frame either
    assert page["headings"][0] == "Table 1" and page["headings"][-1] == "Configuration", page["headings"]
    assert page["configOpen"] is False
    assert page["firstTable"] < 800, "Table 1 starts on the first screen"
    shot = np.asarray(_image(browser.screenshot()))
    (tmp_path / "report-1280.png").write_bytes(browser.screenshot())  # kept when the test fails
    assert shot.shape[:2] == (800, 1280)
    assert (shot[:, 1245:] > 250).all(), "the right margin is blank: nothing drawn past the page's width"
    assert browser.errors == []


def test_the_configuration_opens_on_a_click(browser, report_page):
    browser.open(report_page)
    browser.evaluate("document.querySelector('#configuration + details summary').click()")
    rows = browser.evaluate("document.querySelectorAll('#configuration + details tbody tr').length")
    assert browser.evaluate("document.querySelector('#configuration + details').open") is True
    assert rows == 4 + 2 * len(METHODS)  # the flattened settings, one row each
    assert browser.evaluate("document.documentElement.scrollWidth") <= 1280


def _image(png: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("L")
