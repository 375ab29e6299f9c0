"""docs/cluster.md's table of training peaks ("Cards of several sizes") says what the registry's
`train_gpu_gib` says, the numbers the card constraint is derived from: one home, the table a view."""

from __future__ import annotations

import re
from pathlib import Path

from patch2loc.registry import METHODS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cluster.md"
HEADER = "| training | fp32"


def table_rows(text: str) -> dict[str, tuple[float, float]]:
    """{method: (fp32, bf16)} from the table: a row names one or more methods (`AE, VAE`) and gives
    one number per method or one for all; a pre-training's numbers in brackets are its own row."""
    lines = text[text.index(HEADER) :].splitlines()[2:]
    rows: dict[str, tuple[float, float]] = {}
    for line in lines:
        if not line.startswith("|"):
            break
        name_cell, fp32_cell, amp_cell = (c.strip() for c in line.strip("|").split("|")[:3])
        pre = re.fullmatch(r"(\w[\w-]*) \(its pre-training\)", name_cell)
        names = [pre.group(1)] if pre else [n.strip() for n in name_cell.split(",")]
        cells = []
        for cell in (fp32_cell, amp_cell):
            main = re.sub(r"\([^)]*\)", "", cell)
            cells.append([float(v) for v in re.findall(r"\d+(?:\.\d+)?", main)])
        for i, name in enumerate(names):
            rows[name] = tuple(v[i] if len(v) > 1 else v[0] for v in cells)
        if pre:
            inner = [re.search(r"\((\d+(?:\.\d+)?)\)", c) for c in (fp32_cell, amp_cell)]
            rows[METHODS[pre.group(1)].pretrain.name] = tuple(float(m.group(1)) for m in inner)
    return rows


def registry_peaks() -> dict[str, tuple[float, float]]:
    peaks = {}
    for name, method in METHODS.items():
        if method.trains:
            peaks[name] = tuple(method.train_gpu_gib)
            if method.pretrain is not None:
                peaks[method.pretrain.name] = tuple(method.pretrain.train_gpu_gib)
    return peaks


def test_the_page_gives_every_trained_methods_registry_peaks():
    assert table_rows(PAGE.read_text(encoding="utf-8")) == registry_peaks()


def test_a_planted_stale_number_is_found():
    text = PAGE.read_text(encoding="utf-8")
    stale = text.replace("| Patch2Loc | 36.1 GiB |", "| Patch2Loc | 35.0 GiB |")
    assert stale != text and table_rows(stale) != registry_peaks()
