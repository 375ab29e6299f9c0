"""No history in code or comments: an issue's number or one of this project's commit hashes says
when something changed, not why it is so; that belongs in docs/measurements.md and CHANGELOG.md.

Scanned: the .py, .smk, .yaml and .sh files under TREES, the Snakefile, the Makefile and the README. Flagged:
- a reference to an issue or a pull request by number, anywhere in a line (strings and comments);
- a number after "#" in a comment (hex colours live in strings, never in comments);
- a token of 7 to 40 hex digits with both a digit and a letter (a commit hash, short or whole),
  unless its line names what it is (a checksum's algorithm or a hex literal: CHECKSUM_WORDS), its
  file is a table of download checksums (CHECKSUM_TABLES), it pins a cited upstream repository's
  code (UPSTREAM_PINS), or KNOWN says why it stays.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().relative_to(REPO).as_posix()  # names the allowed tokens below
TREES = (
    "src",
    "tests",
    "benchmarks",
    "workflow",
    "rules",
    "studies",
    "tools",
    "rehearsals",
    "config",
)
FILES = ("Snakefile", "Makefile", "README.md")
SUFFIXES = {".py", ".smk", ".yaml", ".yml", ".sh"}

ISSUE = re.compile(r"\b(?:issues?|pull requests?|PRs?)\b[\s#:]*\d+", re.IGNORECASE)
HASH_NUMBER = re.compile(r"#\d+\b")
HEX = re.compile(r"\b[0-9a-f]{7,40}\b")
QUOTED_HEX = re.compile(r"`([0-9a-f]{7,40})`")  # in backticks even digits alone are a short hash
CHECKSUM_WORDS = re.compile(r"sha-?1|sha-?256|md5|crc32|checksum|hexdigest|fromhex|gitblob", re.IGNORECASE)
CHECKSUM_TABLES = {  # every source's pinned md5/sha1/git blob ids; the published networks' sha256
    "config/datasets.yaml",
    "src/patch2loc/networks/pretrained.py",
}
UPSTREAM_PINS = {  # the commit of a cited repository whose code a module follows line by line
    "2e628cb": "hjkuijf/wmhchallenge",
    "31b7c8c": "ezequieldlrosa/isles22",
    "43c9052": "rachitsaluja/BraTS-2023-Metrics",
    "c5904a7": "FinnBehrendt/Conditioned-Diffusion-Models-UAD",
    "8e5a9df": "AntanasKascenas/DenoisingAE",
    "3e413c0": "StefanDenn3r/Unsupervised_Anomaly_Detection_Brain_MRI",
    "c8995ed": "ci-ber/PHANES",
    "9b7a255": "ci-ber/RA",
    "3767a70": "richzhang/PerceptualSimilarity",
    "16ee46d": "FeliMe/feature-autoencoder",
}
KNOWN = {  # (file, token): why it stays
    ("tests/outputs/test_concurrency.py", "0badc0de"): "a made-up host tag in a staging file's name",
    ("tests/methods/test_multichannel.py", "8f54c4b60733e4b7"): "sha256 prefix of a network's layout",
    ("tests/methods/test_multichannel.py", "c6ebfd9318f823a5"): "sha256 prefix of a network's layout",
    ("tests/data/test_download.py", "34901a0593b41dd19c1a1f746eac2d58"): "IXI-T1.tar's md5",
    ("tests/data/test_download.py", "e3140d78730ecdd32ba92da48c0a9aaa"): "IXI-T2.tar's md5",
    ("tests/synth/test_demo_anatomy.py", "d11a8497c171207d56d7344e9482b6806be5123d"): (
        "the test reads the synthesiser of that commit with git and compares its output byte for byte"
    ),
}


def scanned() -> list[Path]:
    paths = [REPO / name for name in FILES]
    for tree in TREES:
        paths += [p for p in sorted((REPO / tree).rglob("*")) if p.suffix in SUFFIXES and p.is_file()]
    return paths


def comments(path: Path, text: str) -> list[tuple[int, str]]:
    """(line, text) of each comment: Python's tokens, else what follows a '#' at a word's start."""
    if path.suffix == ".py":
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        return [(t.start[0], t.string) for t in tokens if t.type == tokenize.COMMENT]
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        match = re.search(r"(?:^|\s)(#.*)", line)
        if match:
            found.append((number, match.group(1)))
    return found


def _hex_allowed(rel: str, token: str, line: str, quoted: bool = False) -> bool:
    if not quoted and not (re.search(r"\d", token) and re.search(r"[a-f]", token)):
        return True  # a number or a word, not a hash
    return (
        rel in CHECKSUM_TABLES
        or token in UPSTREAM_PINS
        or (rel, token) in KNOWN
        or (rel == HERE and any(token == known for _, known in KNOWN))
        or bool(CHECKSUM_WORDS.search(line))
    )


def history(path: Path) -> list[str]:
    """'file:line: reason: text' for each issue number or commit hash in the file."""
    rel = path.relative_to(REPO).as_posix()
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        if ISSUE.search(line):
            found.append(f"{rel}:{number}: an issue's number: {line.strip()}")
        quoted = set(QUOTED_HEX.findall(line))
        for token in sorted(set(HEX.findall(line)) | quoted):
            if not _hex_allowed(rel, token, line, token in quoted):
                found.append(f"{rel}:{number}: a commit hash {token}: {line.strip()}")
    for number, comment in comments(path, text):
        if HASH_NUMBER.search(comment):
            found.append(f"{rel}:{number}: '#' and a number in a comment: {comment.strip()}")
    return found


def test_no_issue_numbers_or_commit_hashes_in_code_or_comments():
    found = [hit for path in scanned() for hit in history(path)]
    assert not found, "history belongs in docs/measurements.md and CHANGELOG.md:\n" + "\n".join(found)


def test_the_allow_lists_hold_only_what_is_still_there():
    texts = {path.relative_to(REPO).as_posix(): path.read_text(encoding="utf-8") for path in scanned()}
    stale = [f"{rel}: {token}" for rel, token in KNOWN if token not in texts.get(rel, "")]
    unused = [pin for pin in UPSTREAM_PINS if not any(pin in t for r, t in texts.items() if r != HERE)]
    assert not stale, "KNOWN names a token its file no longer holds:\n" + "\n".join(stale)
    assert not unused, "UPSTREAM_PINS names a commit no file cites: " + ", ".join(unused)
