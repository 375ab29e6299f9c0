"""No history in the docs: an issue's number, one of this project's commit hashes or a "moved from"
line says when something changed, not what is so. Measured numbers keep their machine and date in
docs/measurements.md; what changed when belongs in CHANGELOG.md.

Scanned: every Markdown page under docs/ (the GPU records beside them are raw logs and JSON, not
prose). The patterns are test_no_history.py's: a reference to an issue or pull request by number; a
token of 7 to 40 hex digits with both a digit and a letter (a short or whole commit hash), unless
its line names a checksum's algorithm, the token pins a cited upstream repository's code, or it is
the sha256 prefix in a published weights file's name (`resnet18-f37072fd.pth`).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.static.test_no_history import CHECKSUM_WORDS, HEX, ISSUE, UPSTREAM_PINS

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted((REPO / "docs").rglob("*.md"))
MOVED = re.compile(r"\bmoved (?:here )?from (?:the )?(?:README|[\w/.-]+\.md)\b", re.IGNORECASE)
DOC_UPSTREAM_PINS = {"6570490": "muschellij2/open_ms_data, the MSLUB mirror's tree the checksums were read from"}


def history_in(text: str) -> list[str]:
    """'line: what' for each issue number, commit hash or "moved from" line of a page's text."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        found += [f"{number}: {m.group(0)}" for m in ISSUE.finditer(line)]
        found += [f"{number}: {m.group(0)}" for m in MOVED.finditer(line)]
        if CHECKSUM_WORDS.search(line):
            continue
        for m in HEX.finditer(line):
            token = m.group(0)
            is_hash = re.search(r"\d", token) and re.search(r"[a-f]", token)
            weights_file = line[m.start() - 1 : m.start()] == "-" and line[m.end() :].startswith(".pth")
            if is_hash and not weights_file and token not in UPSTREAM_PINS and token not in DOC_UPSTREAM_PINS:
                found.append(f"{number}: {token}")
    return found


def test_the_patterns_find_each_kind():
    # the planted hashes and numbers are built from parts, so that the code's own history check
    # (test_no_history.py) does not read them as history
    short_hash, weights_hash, issue = "abc" + "1234", "f3707" + "2fd", "issue" + " 31"
    assert history_in(f"Fixed in {issue}.\n") == [f"1: {issue}"]
    assert history_in(f"A fresh clone of `{short_hash}` ran.\n") == [f"1: {short_hash}"]
    assert history_in("Moved from the README on 2026-11-25.\n") == ["1: Moved from the README"]
    assert history_in("md5 `34901a0593b41dd19c1a1f746eac2d58` pinned\nci-ber/PHANES at c8995ed\n") == []
    assert history_in("the 2026-11-25 run, 1,024 s, AUPRC 0.215\n") == []
    assert history_in(f"torchvision's `resnet18-{weights_hash}.pth`; the ratio moved from 1.05x to 1.14x\n") == []


def test_no_page_of_the_docs_holds_history():
    assert PAGES, "no docs found"
    found = [f"{p.relative_to(REPO)}:{hit}" for p in PAGES for hit in history_in(p.read_text(encoding="utf-8"))]
    assert not found, "history in the docs (dates and machines stay; hashes, issue numbers go):\n" + "\n".join(found)
