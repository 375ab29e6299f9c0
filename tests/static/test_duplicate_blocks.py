"""No block of six or more lines stands twice in src/patch2loc, benchmarks/, studies/, tools/,
rehearsals/ and tests/ (within or across them): what is the same logic lives once, in a helper (tests: in
tests/helpers/ or a conftest.py fixture), so a fix lands everywhere it is needed.

A block is a run of MIN_LINES consecutive code lines, compared after folding white space; blank
lines, comments, lines of lone brackets and commas, and import statements are passed over (they
repeat without repeating logic). Only the same text counts: blocks alike but for their names
(the registry's lines, the challenges' protocol tables) are data, not repeated logic. The
`duplicates` tool (where installed) also lists those; `python tests/static/test_duplicate_blocks.py`
prints this test's pairs.

LEFT names the pairs of files whose repeats are known and not yet moved, each with its reason; the
test fails once one of them no longer repeats anything, so the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TREES = (
    REPO / "src" / "patch2loc",
    REPO / "benchmarks",
    REPO / "studies",
    REPO / "tools",
    REPO / "rehearsals",
    REPO / "tests",
)
MIN_LINES = 6
# (first file, second file) as a row names them: repeats known and waiting, each with its reason
LEFT: dict[tuple[str, str], str] = {}
_THIN = re.compile(r"^[\s()\[\]{},:;]*$")  # lone punctuation


def code_lines(source: str) -> list[tuple[int, str]]:
    """(line number, white-space-folded text) of the lines that count."""
    imports = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.update(range(node.lineno, node.end_lineno + 1))
    lines = []
    for number, raw in enumerate(source.splitlines(), 1):
        text = " ".join(raw.split())
        if number not in imports and text and not text.startswith("#") and not _THIN.match(text):
            lines.append((number, text))
    return lines


def repeated_blocks(sources: dict[str, str], size: int = MIN_LINES) -> list[str]:
    """'a.py:10-17 ~ b.py:40-47' for every block of `size` counted lines that stood before (first
    place named first); overlapping runs of one long block each give a row."""
    seen: dict[tuple[str, ...], list[tuple[str, int, int]]] = {}
    rows = []
    for name, source in sources.items():
        lines = code_lines(source)
        for i in range(len(lines) - size + 1):
            block = tuple(text for _, text in lines[i : i + size])
            here = (name, lines[i][0], lines[i + size - 1][0])
            earlier = [o for o in seen.get(block, []) if o[0] != name or o[2] < here[1]]
            if earlier:
                o = earlier[0]
                rows.append(f"{o[0]}:{o[1]}-{o[2]} ~ {name}:{here[1]}-{here[2]}")
            seen.setdefault(block, []).append(here)
    return rows


def files_of(row: str) -> tuple[str, str]:
    """The two files a repeated_blocks row names."""
    first, second = row.split(" ~ ")
    return first.rsplit(":", 1)[0], second.rsplit(":", 1)[0]


def unexplained(rows: list[str], left) -> tuple[list[str], list[tuple[str, str]]]:
    """The rows between files `left` does not name, and the pairs in `left` that no row needs."""
    named = [files_of(row) for row in rows]
    return [row for row, pair in zip(rows, named) if pair not in left], [p for p in left if p not in named]


def package_sources() -> dict[str, str]:
    return {
        p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8") for t in TREES for p in sorted(t.rglob("*.py"))
    }


def test_the_finder_finds_a_repeated_block_and_passes_over_what_does_not_count():
    body = "".join(f"    x{i} = f(x{i - 1})  # step {i}\n" for i in range(1, MIN_LINES + 1))
    a = f"import os\n\ndef f():\n{body}"
    b = f"from os import (\n    path,\n)\n\n\ndef g():\n    y = 0\n    if y:\n{body.replace('    ', '        ')}"
    assert repeated_blocks({"a.py": a, "b.py": b}) == [f"a.py:4-{3 + MIN_LINES} ~ b.py:9-{8 + MIN_LINES}"]
    shorter = "".join(body.splitlines(keepends=True)[:-1])
    assert repeated_blocks({"a.py": a, "c.py": f"def h():\n{shorter}"}) == []
    # comments, blank lines, brackets and imports do not make a block
    filler = "# note\n\n(\n)\nimport os\n" * MIN_LINES
    assert repeated_blocks({"a.py": filler, "b.py": filler}) == []
    # a pair left for later excuses its rows only, and only while it still repeats
    rows = repeated_blocks({"a.py": a, "b.py": b, "c.py": f"def h():\n{body}"})
    assert unexplained(rows, {("a.py", "b.py")}) == ([f"a.py:4-{3 + MIN_LINES} ~ c.py:2-{1 + MIN_LINES}"], [])
    assert unexplained(rows, {("a.py", "b.py"), ("a.py", "c.py"), ("b.py", "c.py")}) == ([], [("b.py", "c.py")])


def test_no_block_of_six_lines_stands_twice_in_the_package():
    sources = package_sources()
    assert any(name.startswith("benchmarks/") for name in sources)  # the trees beside the package are read
    assert any(name.startswith("tests/") for name in sources)
    rows, stale = unexplained(repeated_blocks(sources), LEFT)
    assert not rows, "move each into one helper:\n" + "\n".join(rows)
    assert not stale, f"no longer repeated: take them out of LEFT: {stale}"


if __name__ == "__main__":
    print("\n".join(repeated_blocks(package_sources())) or "no repeated blocks")
