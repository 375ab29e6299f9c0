"""The HTML report: one self-contained file holding every table and figure."""

from __future__ import annotations

import base64
import re

import pandas as pd
import pytest

from patch2loc.errors import InputError
from patch2loc.evaluation.report.html import build_report

# The smallest valid PNG (1x1 pixel), so the test needs no plotting.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def test_report_embeds_every_table_and_figure(tmp_path):
    csv = tmp_path / "table1.csv"
    pd.DataFrame({"method": ["Patch2Loc", "Thresh"], "BraTS21 Dice": ["59.50 ± 1.45", "30.26"]}).to_csv(
        csv, index=False
    )
    pngs = []
    for name in ("kde.png", "heatmap.png"):
        (tmp_path / name).write_bytes(PNG)
        pngs.append(tmp_path / name)
    frame = pd.DataFrame({"metric": ["Score"], "BraTS21": ["40"]})
    out = build_report(
        tmp_path / "report.html",
        "Patch2Loc results: test",
        [
            ("Table 1", [("Table 1 caption", csv)]),
            ("Table 2", [("Table 2 caption", frame)]),
            ("Figures", [("KDE caption", pngs[0]), ("Heatmap caption", pngs[1])]),
            ("Provenance", [("torch: 2.x", None)]),
        ],
        run_name="test",
        config={"train": {"steps": 15000}, "folds": [0, 1]},
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
        tmp_path / "out" / "report.html",
        "Patch2Loc <demo>",
        [
            ("Tables", [("Dice & AUPRC", pd.DataFrame({"a<b": ["x & y"]}))]),
            ("Figures", [("KDE", tmp_path / "fig.png")]),
        ],
        run_name="demo",
        config={"datasets": ["BraTS21", "WMH"]},
        date="2026-01-01 12:00",
    )
    html = out.read_text(encoding="utf-8")
    assert "Patch2Loc &lt;demo&gt;" in html and "Dice &amp; AUPRC" in html
    assert "<th>a&lt;b</th>" in html and "<td>x &amp; y</td>" in html
    assert "BraTS21, WMH" in html and "2026-01-01 12:00" in html  # list config value, given date
    assert html.index("<h2>Tables</h2>") < html.index("Dice &amp;") < html.index("<h2>Figures</h2>")
    assert "<link" not in html and "<script" not in html


# ---------------------------------------------------------------- run sections (report.sections)


def _run_with_viewers(tmp_path):
    """per_volume_metrics.csv with an extra method (DAE) and viewers for some volumes."""
    from patch2loc.evaluation.tables.aggregate import METRICS_COLUMNS

    rows = [
        dict(
            method=m,
            modality="T2",
            fold=f,
            dataset=d,
            subject=s,
            auprc=a,
            best_dice=a / 2,
            dice_unsup=a / 3,
            lesion_voxels=100,
        )
        for m, f in (("Patch2Loc", 0), ("Thresh", ""), ("DAE", 0))
        for d in ("MSLUB", "WMH")
        for s, a in (("s1", 0.4), ("s2", 0.1))
    ]
    rows[1]["dice_unsup"] = float("nan")
    run = tmp_path / "run"
    (run / "tables").mkdir(parents=True)
    pd.DataFrame(rows).reindex(columns=METRICS_COLUMNS).to_csv(run / "tables" / "per_volume_metrics.csv", index=False)
    for method, fold, dataset, subject in (
        ("Patch2Loc", "fold0", "MSLUB", "s2"),
        ("Thresh", "all", "MSLUB", "s1"),
        ("DAE", "fold0", "WMH", "s1"),
        ("Patch2Loc", "fold0", "IXI", "h1"),
    ):
        page = run / "viewers" / method / "T2" / fold / dataset / f"{subject}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("<html></html>", encoding="utf-8")
    return run


def test_per_volume_tables_link_the_viewers_of_any_method(tmp_path):
    from patch2loc.evaluation.report.sections import healthy_items, per_volume_items

    run = _run_with_viewers(tmp_path)
    items = per_volume_items(run / "tables" / "per_volume_metrics.csv", run) + healthy_items(run)
    assert [caption.split(":")[0] for caption, _ in items] == ["MSLUB", "WMH", "Healthy IXI test volumes"]
    out = build_report(run / "report.html", "t", [("Per volume", items)])
    html = out.read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)"', html)
    assert sorted(links) == sorted(
        [
            "viewers/Patch2Loc/T2/fold0/MSLUB/s2.html",
            "viewers/Thresh/T2/all/MSLUB/s1.html",
            "viewers/DAE/T2/fold0/WMH/s1.html",
            "viewers/Patch2Loc/T2/fold0/IXI/h1.html",
        ]
    )
    assert all((run / link).is_file() for link in links)
    assert html.count('class="sortable"') == 3 and html.count("<script>") == 1  # one sort script
    assert '<td data-v="40.0">40.00</td>' in html  # AUPRC 0.4 in %, sorted by value
    assert html.count("not kept") == 12 - 3  # volume x model rows without a viewer
    assert "<td></td>" in html  # the NaN Dice at threshold: an empty cell


def test_per_volume_table_without_a_metric_names_the_file(tmp_path):
    from patch2loc.evaluation.report.sections import per_volume_items

    path = tmp_path / "per_volume_metrics.csv"
    pd.DataFrame({"method": ["P"], "dataset": ["WMH"]}).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"per_volume_metrics.csv: missing columns .*auprc"):
        per_volume_items(path, tmp_path)


def test_demo_checks_are_the_pass_fail_lines_of_demo_summary(tmp_path):
    from patch2loc.evaluation.report.sections import demo_check_items

    run = _run_with_viewers(tmp_path)
    ((caption, content),) = demo_check_items(run)
    assert caption.startswith("The demo's checks could not be run") and "loss.csv" in caption  # no models yet
    for fold, val_error in ((0, 9.0), (1, 12.0)):
        folder = run / "models" / "T2" / f"fold{fold}"
        folder.mkdir(parents=True)
        pd.DataFrame({"step": [100], "val_error": [val_error], "centre_error": [30.0]}).to_csv(
            folder / "loss.csv", index=False
        )
    ((caption, content),) = demo_check_items(run)
    # fold0 9/30 <= 0.35; fold1 12/30 > 0.35; 4 AUPRC sets fail; no figures yet: the figures check fails
    assert caption.startswith("1 of 7 checks pass")
    html = build_report(tmp_path / "r.html", "t", [("Checks", [(caption, content)])]).read_text(encoding="utf-8")
    assert html.count('<li class="pass"><b>PASS</b> location error T2 fold0') == 1
    assert html.count('<li class="fail"><b>FAIL</b>') == 6
