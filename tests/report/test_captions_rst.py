"""The tables' captions are also the text of Snakemake's own report, which renders them as
reStructuredText: none may hold markup docutils reports as an error (a `|...|` pair, for one, is a
substitution reference, and the report printed "Undefined substitution referenced")."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from patch2loc.evaluation.report.captions import CAPTIONS, table_caption

docutils_core = pytest.importorskip("docutils.core")
CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "config.yaml").read_text(encoding="utf-8"))


def rst_errors(text: str) -> list[str]:
    """docutils' error and severe messages on `text` (what Snakemake's report prints)."""
    stream = io.StringIO()
    docutils_core.publish_doctree(
        text, settings_overrides={"report_level": 3, "halt_level": 5, "warning_stream": stream}
    )
    return [line for line in stream.getvalue().splitlines() if "(ERROR/3)" in line or "(SEVERE/4)" in line]


@pytest.mark.parametrize("table", sorted(CAPTIONS))
def test_caption_is_clean_restructured_text(table):
    assert rst_errors(table_caption(table, CONFIG, demographics="raw/IXI/IXI.xls")) == []


def test_a_substitution_reference_is_an_error():
    assert rst_errors("AVD (|predicted - lesion volume| / lesion volume)") != []


@pytest.mark.parametrize(
    "page", sorted((Path(__file__).resolve().parents[2] / "workflow" / "report").glob("*.rst")), ids=lambda p: p.name
)
def test_report_page_is_clean_restructured_text(page):
    assert rst_errors(page.read_text(encoding="utf-8")) == []
