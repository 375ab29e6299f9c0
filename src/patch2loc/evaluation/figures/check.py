"""Does every figure of a finished run have data in every panel it draws?

Each figure records, when it is saved (`figures.style.save`), what each of its panels drew: per
series (a class of patches, a method, a model's curve, a map) the number of finite values. A
figure fails when any series drew nothing (a class with n = 0, a method without points or map, an
all-NaN curve), when it could not be drawn at all (its PNG says why), or when it carries no record
(drawn by code that did not record it: rerun the rule that made it).

    python -m patch2loc.evaluation.figures.check results/demo   # exit 1 if a figure fails
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from patch2loc.evaluation.figures.style import NOT_DRAWN_KEY, PANELS_KEY
from patch2loc.run.layout import RunLayout

SHOWN_PROBLEMS = 12  # at most this many in a check's line; the command prints them all


def figure_problems(png: str | Path) -> list[str]:
    """What is wrong with one figure's panels (empty: nothing)."""
    from PIL import Image  # matplotlib's own dependency

    with Image.open(png) as image:
        text = dict(getattr(image, "text", {}) or {})
    if NOT_DRAWN_KEY in text:
        return [f"not drawn: {text[NOT_DRAWN_KEY]}"]
    if PANELS_KEY not in text:
        return ["no record of its panels (drawn by older code: rerun the rule that makes it)"]
    panels = json.loads(text[PANELS_KEY])
    if not panels:
        return ["no panel"]
    return [
        f"panel {panel!r}: {series!r} has no data"
        for panel, drawn in panels.items()
        for series, n in (drawn.items() if drawn else [("(any series)", 0)])
        if not n
    ]


def run_figure_problems(run_dir: str | Path) -> tuple[int, dict[str, list[str]]]:
    """(figures in the run's figures/ folder, {file name: its problems} of those that fail)."""
    pngs = sorted(Path(RunLayout(run_dir).figures).glob("*.png"))
    failing = {png.name: problems for png in pngs if (problems := figure_problems(png))}
    return len(pngs), failing


def figure_checks(run_dir: str | Path) -> list[tuple[str, bool, str]]:
    """One (name, passed, detail) check over every figure of a finished run."""
    total, failing = run_figure_problems(run_dir)
    if total == 0:
        return [("figures", False, f"no figures/*.png in {run_dir}; run the figures and table3 rules")]
    listed = [f"{name}: {'; '.join(problems)}" for name, problems in failing.items()]
    detail = f"{total - len(failing)} of {total} figures have data in every panel they draw"
    if listed:
        more = f" (and {len(listed) - SHOWN_PROBLEMS} more)" if len(listed) > SHOWN_PROBLEMS else ""
        detail += "; " + " | ".join(listed[:SHOWN_PROBLEMS]) + more
    return [("figures", not failing, detail)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m patch2loc.evaluation.figures.check RUN_DIR", file=sys.stderr)
        return 2
    total, failing = run_figure_problems(args[0])
    for name, problems in failing.items():
        for problem in problems:
            print(f"FAIL  {name}: {problem}")
    print(f"{total - len(failing)} of {total} figures have data in every panel they draw")
    return 1 if failing or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
