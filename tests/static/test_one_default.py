"""One home per default (docs/configuration.md, "One home per default"; docs/settings.md).

A default is the value a run gets for a key no config file sets. Its home is either
config/schema.yaml's `default:` (the workflow fills it in before anything reads the config) or the
code: the field default of the dataclass a method block is read into (its `Settings`), or one
fallback where the config is read. Never both: a second copy drifts, and then the workflow and
`patch2loc train` or predict run different settings. A config file's method block sets only what
its run changes (a value equal to what the run gets without it is a second copy), and the commands'
flags read their defaults from their request dataclasses or the registry.

The workflow does not fill a method block in: a training job's params hold what the config files
set, and the dataclass gives the rest when the job builds its settings (the dataclasses import
torch, which building the DAG does not). The download and archive budgets (`download`, `extract`)
live in the code that reads them (data/download.py, data/unpack.py), which the rehearsals and the
workflow's scripts call alike.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from patch2loc.data import download
from patch2loc.data.unpack import budget_from_config
from patch2loc.data import unpack
from patch2loc.registry import REGISTRY, implementation

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
METHODS = [m for m in REGISTRY if m.config]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _schema_defaults(block: str) -> dict:
    props = _resolve(SCHEMA["properties"][block]).get("properties", {})
    return {key: _resolve(node)["default"] for key, node in props.items() if "default" in _resolve(node)}


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_a_method_blocks_defaults_live_only_in_its_dataclass(method):
    schema = _schema_defaults(method.config)
    assert not schema, (
        f"config/schema.yaml gives `{method.config}.{sorted(schema)[0]}` a default: its home is "
        f"{implementation(method.name).Settings.__name__}'s field default; remove the schema's"
    )


@pytest.mark.parametrize("block", ["download", "extract"])
def test_the_budgets_defaults_live_only_in_the_code_that_reads_them(block):
    schema = _schema_defaults(block)
    assert not schema, f"config/schema.yaml gives `{block}.{sorted(schema)[0]}` a default: its home is data/"
    keys = set(_resolve(SCHEMA["properties"][block])["properties"])
    code = {"download": download.KEYS, "extract": unpack.KEYS}[block]
    assert set(code) == keys, f"{block}: the schema names {sorted(keys)}, the code defaults {sorted(code)}"


def test_an_empty_budget_block_reads_as_the_codes_defaults():
    assert download.times_from_config({}) == {"timeout": download.TIMEOUT_S, "deadline": download.DEADLINE_S}
    assert budget_from_config({}) == budget_from_config(unpack.KEYS)


def test_the_schema_defaults_check_sees_a_default():
    assert _schema_defaults("evaluate")["space"] == "native"


# `config["a"].get("b", {}).get("c", <value>)` in the rules: a fallback on the config.
FALLBACK = re.compile(r'config((?:\["\w+"\]|\.get\("\w+", \{\}\))*)\.get\("(\w+)", (?!\{\})([^)]+)\)')


def _schema_default_at(path: list[str]):
    node = SCHEMA
    for key in path:
        node = _resolve(node).get("properties", {}).get(key)
        if node is None:
            return None
    return _resolve(node).get("default")


def test_the_rules_hold_no_second_default_for_a_key_the_schema_fills():
    found = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for match in FALLBACK.finditer(smk.read_text(encoding="utf-8")):
            path = [*re.findall(r'"(\w+)"', match.group(1)), match.group(2)]
            if _schema_default_at(path) is not None:
                found.append(f"{smk.name}: {'.'.join(path)} (the schema fills it in: read it without a fallback)")
    assert not found, found


def test_the_fallback_pattern_sees_a_fallback():
    text = 'x = config["evaluate"].get("bias", {}).get("age_edges", [40, 60])'
    (match,) = FALLBACK.finditer(text)
    assert re.findall(r'"(\w+)"', match.group(1)) + [match.group(2)] == ["evaluate", "bias", "age_edges"]


# ---------------------------------------------------------------- the config files and the CLI flags
# A method block of a config file holds only what its run sets itself (docs/settings.md): a value
# equal to what the run gets without it (the file it extends, else the dataclass's field default) is
# a second home. The keys the schema requires (amp, threads: the workflow sizes its jobs with them)
# are the config's own.
CONFIG_FILES = sorted((REPO / "config").rglob("*.yaml"))
CLI_PARSERS = ("cli/predict.py", "cli/bids.py", "cli/export.py", "cli/train.py")


def _equal(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b and (isinstance(a, bool) == isinstance(b, bool))


def _block_defaults() -> dict:
    """{block: ({key: default}, {sub-block: {key: default}})} of every method block."""
    from patch2loc.run.blocks import block_methods, field_defaults, pretrain_key, pretrain_settings

    return {
        m.config: (
            field_defaults(implementation(m.name).Settings),
            {pretrain_key(m): field_defaults(pretrain_settings(m))} if m.pretrain else {},
        )
        for m in block_methods()
    }


def restated(path: Path) -> list[str]:
    """'file: block.key' for each method-block value of `path` equal to what its run gets without it."""
    from patch2loc.run.configfiles import load

    text = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    base = load([path.parent / text["extends"]]) if "extends" in text else {}
    found = []
    for block, (defaults, subs) in _block_defaults().items():
        if not isinstance(text.get(block), dict):
            continue
        required = set(_resolve(SCHEMA["properties"][block]).get("required", []))
        under = {**defaults, **(base.get(block) or {})}
        for key, value in text[block].items():
            if key in subs and isinstance(value, dict):
                sub_under = {**subs[key], **((base.get(block) or {}).get(key) or {})}
                found += [f"{block}.{key}.{k}" for k, v in value.items() if k in sub_under and _equal(v, sub_under[k])]
            elif key not in required and key in under and _equal(value, under[key]):
                found.append(f"{block}.{key}")
    return [f"{path.relative_to(path.parents[1]).as_posix()}: {what}" for what in found]


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.relative_to(REPO / "config").as_posix())
def test_a_config_file_restates_no_method_default(path):
    found = restated(path)
    assert not found, f"{found}: the value the run gets anyway (docs/settings.md); remove it from the file"


def test_a_restated_default_is_found(tmp_path):
    (tmp_path / "config").mkdir()
    base = tmp_path / "config" / "base.yaml"
    base.write_text("patch2loc: {amp: none, threads: 1, steps: 10}\ncddpm: {amp: none, threads: 1, pretrain: {}}\n")
    assert restated(base) == []
    base.write_text(
        "patch2loc: {amp: none, threads: 1, steps: 10, lr: 0.01}\n"
        "cddpm: {amp: none, threads: 1, pretrain: {mask_ratio: 0.65}}\n"
    )
    assert restated(base) == ["config/base.yaml: patch2loc.lr", "config/base.yaml: cddpm.pretrain.mask_ratio"]
    over = tmp_path / "config" / "over.yaml"
    over.write_text("extends: base.yaml\npatch2loc: {steps: 10, beta: 0.5, seed: 7}\n")  # 10: the base's
    assert restated(over) == ["config/over.yaml: patch2loc.steps", "config/over.yaml: patch2loc.beta"]
    over.write_text("extends: base.yaml\npatch2loc: {steps: 15000}\n")  # the default, over the base's 10
    assert restated(over) == []


def literal_defaults(text: str) -> list[str]:
    """'line: --flag' for each add_argument given a literal default (a number, a string, None)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            for kw in node.keywords:
                if kw.arg == "default" and isinstance(kw.value, ast.Constant):
                    flag = next((a.value for a in node.args if isinstance(a, ast.Constant)), "?")
                    found.append(f"{node.lineno}: {flag}")
    return found


def test_the_commands_flags_take_their_defaults_from_one_home():
    """predict's and bids' flag defaults are their request dataclasses' fields, export's and train's
    --method the registry's: a flag never writes a default of its own."""
    src = REPO / "src" / "patch2loc"
    found = [f"{name}:{line}" for name in CLI_PARSERS for line in literal_defaults((src / name).read_text())]
    assert not found, f"{found}: read the default from its home (predict.request.defaults, the registry)"


def test_a_literal_flag_default_is_found():
    text = 'p.add_argument("--stride", default=1)\np.add_argument("--amp", default=DEFAULTS["amp"])\n'
    assert literal_defaults(text) == ["1: --stride"]
