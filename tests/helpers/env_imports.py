"""What a workflow script needs at run time, read from the code: the third-party modules it imports
(through `_common` and every `patch2loc` module on the way), pandas engines it names, programs it
runs, and the dynamic imports it makes (importlib with a name computed at run time).

Required, not optional: an import inside `try` counts as optional only when its `except
ImportError` handler carries on without it (no `raise`); an import in a handler is required.
Of a module imported whole (`import m`, `from pkg import m`), every function counts; of one whose
names are imported (`from m import f, C`), its module-level code and those functions and classes,
with the functions of that module they use; the packages' `__init__` on the way run their
module-level code.
"""

from __future__ import annotations

import ast
import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path

IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")


@dataclass
class Needs:
    modules: set[str] = field(default_factory=set)  # top-level third-party modules
    engines: set[str] = field(default_factory=set)  # pandas engine names (engine="calamine")
    words: set[str] = field(default_factory=set)  # first words of string constants (programs)
    dynamic: set[str] = field(default_factory=set)  # "file:function" of non-literal import_module calls
    calls: set[str] = field(default_factory=set)  # names of the functions called


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(k, ast.Name) and k.id in IMPORT_ERRORS for k in kinds)


def _optional(node: ast.AST, parents: dict) -> bool:
    """In the body of a `try` whose ImportError handler does without it (does not raise)."""
    child = node
    while child in parents:
        parent = parents[child]
        if isinstance(parent, ast.Try) and child in parent.body:
            handlers = [h for h in parent.handlers if h.type is not None and _catches_import_error(h)]
            if handlers and not any(isinstance(n, ast.Raise) for h in handlers for n in ast.walk(h)):
                return True
        child = parent
    return False


def _import_names(node: ast.AST, package: str | None) -> list[tuple[str, frozenset | None]]:
    """(absolute dotted module, the names imported from it or None for the whole module) of one
    import statement (relative imports resolved); `from pkg import sub` also gives (pkg.sub, None)."""
    if isinstance(node, ast.Import):
        return [(a.name, None) for a in node.names]
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parts, *([base] if base else [])])
    return [(base, frozenset(a.name for a in node.names))] + [(f"{base}.{a.name}", None) for a in node.names]


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _enclosing_function(node: ast.AST, parents: dict) -> str:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node.name
    return "<module>"


def _scan_call(call: ast.Call, parents: dict, where: str, names: list, needs: Needs) -> None:
    name = _call_name(call)
    needs.calls.add(name)
    for keyword in call.keywords:
        if keyword.arg == "engine" and isinstance(keyword.value, ast.Constant):
            needs.engines.add(str(keyword.value.value))
    if name in ("import_module", "find_spec") and call.args:
        arg = call.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            names.append((arg.value, None))
        elif name == "import_module":
            needs.dynamic.add(f"{where}:{_enclosing_function(call, parents)}")


def scan(path: Path, package: str | None, functions, label: str) -> tuple[tuple, Needs]:
    """(modules imported unconditionally, as _import_names gives them; what else the code asks for) of one file (`label`:
    its name in dynamic-import sites). With `functions`: only the module level and these functions
    (and those they call); else all. Read once per version of the file (the scripts share most modules)."""
    stat = path.stat()
    return _scan(path, stat.st_mtime_ns, stat.st_size, package, functions, label)


@functools.lru_cache(maxsize=None)
def _scan(path: Path, _mtime: int, _size: int, package: str | None, functions, label: str) -> tuple[tuple, Needs]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    if functions is None:
        scopes = [tree]
    else:
        top = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        used_at_top = {n.id for stmt in top for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        wanted, todo = set(), [f for f in set(functions) | used_at_top if f in defs]
        while todo:
            name = todo.pop()
            if name not in wanted:
                wanted.add(name)
                todo += [n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name) and n.id in defs]
        scopes = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        scopes += [defs[name] for name in wanted]
    names, needs = [], Needs()
    for scope in scopes:
        for node in ast.walk(scope):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not _optional(node, parents):
                names += _import_names(node, package)
            elif isinstance(node, ast.Call):
                _scan_call(node, parents, label, names, needs)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
                needs.words.add(node.value.split()[0])
    return tuple(names), needs  # shared by every later caller: read, never changed


def _module_file(src: Path, name: str) -> Path | None:
    parts = name.split(".")
    for candidate in (src.joinpath(*parts).with_suffix(".py"), src.joinpath(*parts, "__init__.py")):
        if candidate.exists():
            return candidate
    return None


def script_needs(script: Path, src: Path, expand: dict[str, list[str]] | None = None) -> Needs:
    """What a workflow script needs, through `_common` and the patch2loc modules it reaches.
    `expand`: a called function's name, or a dynamic import's "file:function" -> the modules that
    call loads, where the script itself makes the call (the methods registry's modules, which
    train_model.py imports by its rule's params and score_dataset.py through implementation())."""
    expand = expand or {}
    todo, seen, total = [(script, None, None)], set(), Needs()
    while todo:
        path, package, functions = todo.pop()
        if (path, functions) in seen:
            continue
        seen.add((path, functions))
        label = str(path.relative_to(src)) if path.is_relative_to(src) else path.name
        names, needs = scan(path, package, functions, label)
        for attr in ("engines", "words", "dynamic", "calls"):
            getattr(total, attr).update(getattr(needs, attr))
        if path == script:  # a method loaded by name: where the script itself does it
            names += tuple((m, None) for key in (needs.calls | needs.dynamic) & set(expand) for m in expand[key])
        for name, imported in names:
            top = name.split(".")[0]
            if top == "patch2loc":
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # the package __init__s on the way run too
                    file = _module_file(src, ".".join(parts[:i]))
                    if file:
                        pkg = ".".join(parts[:i]) if file.name == "__init__.py" else ".".join(parts[: i - 1])
                        todo.append((file, pkg, imported if i == len(parts) else frozenset()))
            elif name == "_common" and (script.parent / "_common.py").exists():
                todo.append((script.parent / "_common.py", None, imported))
            elif top and top not in (*sys.stdlib_module_names, "__future__", "_common"):
                total.modules.add(top)
    return total
