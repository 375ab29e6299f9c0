"""One self-contained HTML report: every table inline and every figure embedded as base64.

A section is (heading, items); an item is (caption, content) where content is a DataFrame, a
.csv path (rendered as a table), a .png path (embedded image), `Html` (a block built by
`sortable_table` or `status_list`) or None (the caption alone is a paragraph of text). Tables
and figures are in the file; the only links are to the run's heatmap viewers (relative, beside
the report). A sortable table brings a few lines of JavaScript: a click on a header sorts by it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import numbers
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output

Item = tuple[str, "pd.DataFrame | str | os.PathLike | None"]
Section = tuple[str, Sequence[Item]]

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; }
td { white-space: nowrap; }  /* a value ("59.50 ± 1.45", a path) stays on one line; headers wrap */
td:first-child { white-space: normal; }  /* a row's name may wrap at its hyphen ("PHANES-noPretrained") */
th { background: #f2f2f2; vertical-align: bottom; } tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0 2em 0; } figcaption { font-size: 0.9em; color: #444; margin-top: 0.3em; }
img { max-width: 100%; border: 1px solid #eee; }
.meta td:first-child { font-weight: bold; }
.scroll { overflow-x: auto; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[data-dir=asc]::after { content: " \\25B2"; } table.sortable th[data-dir=desc]::after { content: " \\25BC"; }
ul.status { list-style: none; padding-left: 0; } ul.status li { margin: 0.2em 0; }
.pass b { color: #1a7f37; } .fail b { color: #c62828; }
"""

# Sorts a table.sortable by the clicked column: numbers by data-v, text otherwise; empty cells last.
SORT_SCRIPT = """<script>
document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("th").forEach((th, col) => th.addEventListener("click", () => {
    const up = th.dataset.dir !== "asc";
    table.querySelectorAll("th").forEach((h) => delete h.dataset.dir);
    th.dataset.dir = up ? "asc" : "desc";
    const key = (row) => { const c = row.cells[col]; return c.dataset.v !== undefined ? Number(c.dataset.v) : c.textContent; };
    const rows = Array.from(table.tBodies[0].rows);
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === "" || y === "") return (x === "") - (y === "");
      const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return up ? order : -order;
    });
    table.tBodies[0].append(...rows);
  }));
});
</script>"""


class Html(str):
    """A block of HTML built by this module (already escaped): put into the page as it is."""


def sortable_table(df: pd.DataFrame, links: dict[str, Sequence[str | None]] | None = None) -> Html:
    """A table sorted by a click on a column header. Numeric cells sort by value (NaN: empty,
    sorted last); `links` maps a column to one href per row (None: the cell stays text)."""
    links = links or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for i, row in enumerate(df.itertuples(index=False)):
        cells = []
        for col, value in zip(df.columns, row):
            number = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            text = "" if pd.isna(value) else (f"{value:.2f}" if isinstance(value, float) else str(value))
            attr = f' data-v="{html.escape(str(value), quote=True)}"' if number and not pd.isna(value) else ""
            href = links.get(col, [None] * len(df))[i]
            body = f'<a href="{html.escape(href)}">{html.escape(text)}</a>' if href else html.escape(text)
            cells.append(f"<td{attr}>{body}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return Html(
        f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def status_list(checks: Sequence[tuple[bool, str]]) -> Html:
    """PASS / FAIL lines, coloured."""
    items = "".join(
        f'<li class="{"pass" if ok else "fail"}"><b>{"PASS" if ok else "FAIL"}</b> {html.escape(text)}</li>'
        for ok, text in checks
    )
    return Html(f'<ul class="status">{items}</ul>')


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> {'a.b': 'value'} for a two-column summary table."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            flat[name] = ", ".join(map(str, value))
        else:
            flat[name] = str(value)
    return flat


def _table_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{'' if pd.isna(v) else html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _item_html(caption: str, content: Any) -> str:
    cap = html.escape(caption)
    if content is None:
        return f"<p>{cap}</p>"
    if isinstance(content, Html):
        return f"<figure>{content}<figcaption>{cap}</figcaption></figure>"
    if isinstance(content, pd.DataFrame):
        return f"<figure>{_table_html(content)}<figcaption>{cap}</figcaption></figure>"
    path = Path(content)
    if not path.exists():
        raise InputError(f"{path}: report item {caption!r} not found. Run the step that makes it first.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            df = pd.read_csv(path, keep_default_na=False)
        except Exception as exc:  # unreadable csv: name the file
            raise InputError(f"{path}: cannot be read as csv ({exc}); re-run the step that writes it.") from exc
        return f"<figure>{_table_html(df)}<figcaption>{cap}</figcaption></figure>"
    if suffix == ".png":
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<figure><img alt="{cap}" src="data:image/png;base64,{data}"><figcaption>{cap}</figcaption></figure>'
    raise InputError(f"{path}: report items must be .csv tables or .png figures (got {suffix!r}).")


def build_report(
    out_html: str | os.PathLike,
    title: str,
    sections: Sequence[Section],
    *,
    run_name: str = "",
    config: dict[str, Any] | None = None,
    date: str | None = None,
) -> Path:
    """Write the report to `out_html` atomically and return its path.

    The header gives the run name and the date (default: now, local time); the sections follow, and
    the config last, as a flattened key/value table collapsed under "Configuration".
    """
    date = date or _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [f"<h1>{html.escape(title)}</h1>"]
    meta = {"run": run_name, "date": date}
    parts.append(
        '<table class="meta">'
        + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in meta.items() if v)
        + "</table>"
    )
    for heading, items in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.extend(_item_html(caption, content) for caption, content in items)
    if config:  # the results come first; the settings that made them, collapsed, at the end
        flat = pd.DataFrame(list(_flatten(config).items()), columns=["setting", "value"])
        parts.append(
            '<h2 id="configuration">Configuration</h2><details><summary>'
            f"the run's {len(flat)} settings (config.resolved.yaml)</summary>{_table_html(flat)}</details>"
        )
    if any('class="sortable"' in part for part in parts):
        parts.append(SORT_SCRIPT)
    doc = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    with atomic_output(out_html) as tmp:
        tmp.write_text(doc, encoding="utf-8")
    return Path(out_html)
