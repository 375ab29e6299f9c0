"""The method boundary: outside `src/patch2loc/methods/`, no code branches on a method's
name. What differs between methods is on its registry line (`patch2loc.registry`: its block, model
folder, checkpoint fields, colour scale, whether it predicts positions) or in its own module, so a
method is added with one module and one registry line, and the core, the rules and the scripts
stay as they are.

A branch is a comparison with a registry name: `== "DAE"`, `!= "Thresh"`, `in ("DAE", ...)`,
`"Patch2Loc" in methods`, `case "DAE":`, or the same with a module-level name bound to one
(`PAPER = "Patch2Loc"`). Naming a method elsewhere (a default argument, a dict key, a loop over
names, a message) is not a branch. The files are read as tokens, so the rules (Snakemake's
syntax, not Python's) are checked like the Python code.
"""

from __future__ import annotations

import ast
import io
import keyword
import tokenize
from pathlib import Path

from patch2loc.registry import REGISTRY

REPO = Path(__file__).resolve().parents[2]
NAMES = {m.name for m in REGISTRY}
SKIP = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
OPEN, CLOSE = "([{", ")]}"


def _literal(token) -> str | None:
    if token.type != tokenize.STRING:
        return None
    try:
        value = ast.literal_eval(token.string)
    except (ValueError, SyntaxError):  # a prefix literal_eval does not take (b"", rb"")
        return None
    return value if isinstance(value, str) else None


def _opening(tokens, i: int) -> int | None:
    """Index of the bracket that opens the literal `tokens[i]` sits in (None at depth 0)."""
    depth = 0
    for j in range(i - 1, -1, -1):
        s = tokens[j].string
        if s in CLOSE:
            depth += 1
        elif s in OPEN:
            if depth == 0:
                return j
            depth -= 1
    return None


def _is_loop(tokens, k: int) -> bool:
    """Whether the `in` at tokens[k] is a for loop's (`for a, b in ...`), not a membership test."""
    j = k - 1  # back over the loop's targets: names, commas and brackets
    while j >= 0 and (
        tokens[j].type == tokenize.NAME and not keyword.iskeyword(tokens[j].string) or tokens[j].string in ",()[]"
    ):
        j -= 1
    return j >= 0 and tokens[j].string == "for"


def name_branches(text: str) -> list[tuple[int, str]]:
    """(line, registry name) of every comparison with a method's name in Python(-like) source."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in SKIP]
    aliases = {
        tokens[i - 2].string
        for i, t in enumerate(tokens)  # NAME = "X" on its own line
        if i >= 2
        and _literal(t) in NAMES
        and tokens[i - 1].string == "="
        and tokens[i - 2].type == tokenize.NAME
        and (i + 1 == len(tokens) or tokens[i + 1].start[0] != t.start[0])
    }

    def name_of(t) -> str | None:
        value = _literal(t)
        if value in NAMES:
            return value
        return t.string if t.type == tokenize.NAME and t.string in aliases else None

    found = []
    for i, t in enumerate(tokens):
        name = name_of(t)
        if name is None or (t.type == tokenize.NAME and tokens[i + 1].string == "=" if i + 1 < len(tokens) else False):
            continue
        before = tokens[i - 1].string if i else ""
        after = [x.string for x in tokens[i + 1 : i + 3]]
        hit = before in ("==", "!=", "case") or (after[:1] and after[0] in ("==", "!=", "in")) or after == ["not", "in"]
        if not hit and before in (*OPEN, ","):
            j = _opening(tokens, i)
            hit = j is not None and j > 0 and tokens[j - 1].string == "in" and not _is_loop(tokens, j - 1)
        if hit:
            found.append((t.start[0], name))
    return found


def test_the_finder_finds_branches_and_only_branches():
    branching = [
        'if method == "DAE":',
        'ok = "Thresh" != m',
        'if m in ("DAE", "Thresh"):',
        'x = m not in ["DAE"]',
        'if "Patch2Loc" in RUN_METHODS:',
        'PAPER = "Patch2Loc"\nif m == PAPER:\n    pass',
        'match m:\n    case "DAE":\n        pass',
        'y = [a for a in b if a in {"Patch2Loc", "Thresh"}]',
    ]
    for text in branching:
        assert name_branches(text + "\n"), text
    plain = [
        'def f(method="Patch2Loc"):\n    pass',
        'd = {"DAE": 1, "Thresh": 2}',
        'x = rows["Patch2Loc"]',
        'for m in ("DAE", "Patch2Loc"):\n    pass',
        'y = [g(m) for m in ("DAE", "Thresh")]',
        'print("DAE" + " done")',
        "if method == other:\n    pass",
        'z = f"{m} != DAE"',
    ]
    for text in plain:
        assert not name_branches(text + "\n"), text


def outside_the_methods() -> list[Path]:
    """The package's modules other than the methods and their registry (the one place that spells them)."""
    src = REPO / "src"
    return [
        p
        for p in src.rglob("*.py")
        if "methods" not in p.relative_to(src).parts and p.relative_to(src).as_posix() != "patch2loc/registry.py"
    ]


def test_no_code_outside_the_methods_branches_on_a_methods_name():
    files = outside_the_methods()
    files += sorted((REPO / "rules").glob("*.smk")) + [REPO / "Snakefile"]
    files += sorted((REPO / "workflow" / "scripts").glob("*.py"))
    files += sorted((REPO / "benchmarks").rglob("*.py"))  # a benchmark takes what differs from the registry too
    assert len(files) > 50 and any(p.parent.name == "benchmarks" for p in files)
    found = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for path in files
        for line, name in name_branches(path.read_text(encoding="utf-8"))
    ]
    assert not found, (
        "branches on a method's name outside src/patch2loc/methods/ (put what differs on the "
        "method's registry line or in its module):\n" + "\n".join(found)
    )


# Files outside methods/ that still spell a method's name as a string (other work is editing them;
# the list only shrinks): their names are to come from the registry (DEFAULT_METHOD, BASELINE, ...).
NAMED_LITERALS_LEFT = ("src/patch2loc/predict/runstate.py",)


def name_literals(text: str) -> list[tuple[int, str]]:
    """(line, registry name) of every string literal that is exactly a method's name."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return [(t.start[0], value) for t in tokens if (value := _literal(t)) in NAMES]


def test_the_literal_finder_finds_names_only():
    assert name_literals('m = "DAE"\nx = f"{m} DAE"\ny = "Thresh-like"\nz = ("Thresh",)\n') == [
        (1, "DAE"),
        (4, "Thresh"),
    ]


def test_the_package_outside_the_methods_names_methods_only_through_the_registry():
    files = outside_the_methods()
    found = [
        f"{path.relative_to(REPO)}:{line}: {name!r}"
        for path in sorted(files)
        if path.relative_to(REPO).as_posix() not in NAMED_LITERALS_LEFT
        for line, name in name_literals(path.read_text(encoding="utf-8"))
    ]
    assert not found, "a method's name spelt outside src/patch2loc/methods/ (take it from the registry):\n" + "\n".join(
        found
    )
    left = [f for f in NAMED_LITERALS_LEFT if any(name_literals((REPO / f).read_text(encoding="utf-8")))]
    assert left == list(NAMED_LITERALS_LEFT), "take these off NAMED_LITERALS_LEFT: " + str(
        sorted(set(NAMED_LITERALS_LEFT) - set(left))
    )
