"""The HTML report: one self-contained file holding every table and figure."""
from __future__ import annotations

import base64
import re

import pandas as pd
import pytest

from patch2loc.io import InputError
from patch2loc.evaluation.report import build_report

# The smallest valid PNG (1x1 pixel), so the test needs no plotting.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def test_report_embeds_every_table_and_figure(tmp_path):
    csv = tmp_path / "table1.csv"
    pd.DataFrame({"method": ["Patch2Loc", "Thresh"], "BraTS21 Dice": ["59.50 ± 1.45", "30.26"]}).to_csv(csv, index=False)
    pngs = []
    for name in ("kde.png", "heatmap.png"):
        (tmp_path / name).write_bytes(PNG)
        pngs.append(tmp_path / name)
    frame = pd.DataFrame({"metric": ["Score"], "BraTS21": ["40"]})
    out = build_report(
        tmp_path / "report.html", "Patch2Loc results: test",
        [("Table 1", [("Table 1 caption", csv)]), ("Table 2", [("Table 2 caption", frame)]),
         ("Figures", [("KDE caption", pngs[0]), ("Heatmap caption", pngs[1])]),
         ("Provenance", [("torch: 2.x", None)])],
        run_name="test", config={"train": {"steps": 15000}, "folds": [0, 1]},
    )
    html = out.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2
    assert base64.b64encode(PNG).decode() in html
    assert "59.50 ± 1.45" in html and "Thresh" in html and "<td>40</td>" in html
    for caption in ("Table 1 caption", "Table 2 caption", "KDE caption", "Heatmap caption", "torch: 2.x"):
        assert caption in html
    assert "train.steps" in html and "15000" in html  # config summary, flattened
    assert not re.search(r'src="(?!data:)', html), "nothing may be linked: the file must stand alone"


def test_missing_figure_names_the_file_and_writes_nothing(tmp_path):
    out = tmp_path / "report.html"
    with pytest.raises(InputError, match="missing.png"):
        build_report(out, "t", [("Figures", [("gone", tmp_path / "missing.png")])])
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_report_escapes_text_keeps_order_and_links_nothing(tmp_path):
    (tmp_path / "fig.png").write_bytes(PNG)
    out = build_report(
        tmp_path / "out" / "report.html", "Patch2Loc <demo>",
        [("Tables", [("Dice & AUPRC", pd.DataFrame({"a<b": ["x & y"]}))]),
         ("Figures", [("KDE", tmp_path / "fig.png")])],
        run_name="demo", config={"datasets": ["BraTS21", "WMH"]}, date="2026-01-01 12:00",
    )
    html = out.read_text(encoding="utf-8")
    assert "Patch2Loc &lt;demo&gt;" in html and "Dice &amp; AUPRC" in html
    assert "<th>a&lt;b</th>" in html and "<td>x &amp; y</td>" in html
    assert "BraTS21, WMH" in html and "2026-01-01 12:00" in html  # list config value, given date
    assert html.index("<h2>Tables</h2>") < html.index("Dice &amp;") < html.index("<h2>Figures</h2>")
    assert "<link" not in html and "<script" not in html
