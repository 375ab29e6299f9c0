"""Every relative link of the README and docs/ (every page, in every folder) points at a file that
exists and, with a #anchor, at a heading of that file (GitHub's anchors: lower case, punctuation
dropped, spaces to hyphens). Every module docs/architecture.md names exists, and its module table
has a row for every folder of the package naming each of that folder's modules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    heads = re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked offline
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target} (no file {linked.relative_to(REPO) if REPO in linked.parents else linked})")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {linked.name})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_relative_links_resolve(page):
    assert broken_links(page) == []


def test_a_broken_link_and_a_missing_anchor_are_found(tmp_path):
    (tmp_path / "b.md").write_text("# Measured numbers: by date\n", encoding="utf-8")
    page = tmp_path / "a.md"
    page.write_text("[ok](b.md#measured-numbers-by-date) [x](c.md) [y](b.md#timings) [z](#here)\n", encoding="utf-8")
    assert len(broken_links(page)) == 3


PACKAGE = REPO / "src" / "patch2loc"
ARCHITECTURE = REPO / "docs" / "architecture.md"


def _module_path(name: str) -> Path | None:
    """`cli/`, `files/io`, `methods/patch2loc/heatmap/` or `rehearsals/real/` as a file or folder, else None."""
    for base in (PACKAGE, REPO):
        path = base / name.rstrip("/")
        if name.endswith("/") and path.is_dir():
            return path
        if not name.endswith("/") and (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()):
            return path
    return None


def table_rows(text: str) -> list[tuple[str, str]]:
    """(first cell, second cell) of each row of the page's module table."""
    section = text.split("## Library modules", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ", 1) for line in section.splitlines() if line.startswith("| `")]
    return [(first.lstrip("| "), rest) for first, rest in rows]


def module_problems(text: str) -> list[str]:
    problems, named_folders = [], set()
    for first, cell in table_rows(text):
        for name in re.findall(r"`([\w/]+)`", first):
            path = _module_path(name)
            if path is None:
                problems.append(f"`{name}`: no such module or folder")
            elif path.is_dir() and path.is_relative_to(PACKAGE):
                named_folders.add(path)
                listed = set(re.findall(r"`(\w+)`", cell))
                for module in sorted(path.glob("*.py")):
                    if module.stem != "__init__" and module.stem not in listed:
                        problems.append(f"`{name}`: its row does not name `{module.stem}`")
            elif path.is_relative_to(PACKAGE):
                named_folders.add(path)
    for folder in sorted({p.parent for p in PACKAGE.rglob("*.py")} - {PACKAGE}):
        if folder not in named_folders:
            problems.append(f"`{folder.relative_to(PACKAGE).as_posix()}/`: no row")
    for module in sorted(PACKAGE.glob("*.py")):
        if module.stem != "__init__" and module.with_suffix("") not in named_folders:
            problems.append(f"`{module.stem}`: no row")
    for dotted in re.findall(r"`patch2loc((?:\.\w+)+)", text):  # a module, maybe with one attribute
        parts = dotted.strip(".").split(".")
        found = max((k for k in range(len(parts) + 1) if _module_path("/".join(parts[:k])) is not None), default=0)
        if len(parts) - found > 1:
            problems.append(f"`patch2loc{dotted}`: no module {'.'.join(parts[: found + 1])}")
    return problems


def test_every_module_the_architecture_page_names_exists():
    assert module_problems(ARCHITECTURE.read_text(encoding="utf-8")) == []


def test_a_missing_module_and_an_unnamed_one_are_found():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    planted = text.replace("| `errors` |", "| `errors`, `files/gone` |").replace("`staging` (", "`staged` (")
    planted = planted.replace(
        "`patch2loc.run.checkpoint.read_checkpoint`", "`patch2loc.run.checkpoints.read_checkpoint`"
    )
    found = module_problems(planted)
    assert "`files/gone`: no such module or folder" in found
    assert "`files/`: its row does not name `staging`" in found
    assert "`patch2loc.run.checkpoints.read_checkpoint`: no module run.checkpoints" in found
