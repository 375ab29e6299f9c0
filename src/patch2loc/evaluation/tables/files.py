"""A table as files: stem.csv, stem.md (GitHub Markdown, caption above) and stem.tex (plain
LaTeX), each written atomically; no dependency on `tabulate` or LaTeX packages."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from patch2loc.files.staging import atomic_output


def _cell(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no dependency on `tabulate`)."""

    def line(cells):
        return "| " + " | ".join(_cell(c).replace("|", "\\|") for c in cells) + " |"

    lines = [line(df.columns), "|" + "|".join("---" for _ in df.columns) + "|"]
    lines += [line(row) for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _latex_escape(text: str) -> str:
    text = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    return text.replace("±", r"$\pm$")


def to_latex(df: pd.DataFrame, caption: str | None = None) -> str:
    """A plain LaTeX table (tabular with \\hline rules; no extra packages)."""
    spec = "l" * len(df.columns)
    out = [r"\begin{table}[t]", r"\centering"]
    if caption:
        out.append(r"\caption{" + _latex_escape(caption) + "}")
    out += [
        r"\begin{tabular}{" + spec + "}",
        r"\hline",
        " & ".join(_latex_escape(str(c)) for c in df.columns) + r" \\",
        r"\hline",
    ]
    out += [" & ".join(_latex_escape(_cell(c)) for c in row) + r" \\" for row in df.itertuples(index=False)]
    out += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def write_table(df: pd.DataFrame, stem: str | os.PathLike, *, caption: str | None = None) -> list[Path]:
    """Write stem.csv, stem.md and stem.tex, each atomically; return the three paths."""
    stem = Path(stem)
    paths = [stem.with_name(stem.name + ext) for ext in (".csv", ".md", ".tex")]
    with atomic_output(paths[0]) as tmp:
        df.to_csv(tmp, index=False)
    md = to_markdown(df)
    if caption:
        md = f"{caption}\n\n{md}"
    with atomic_output(paths[1]) as tmp:
        tmp.write_text(md, encoding="utf-8")
    with atomic_output(paths[2]) as tmp:
        tmp.write_text(to_latex(df, caption), encoding="utf-8")
    return paths
