"""Config files as overrides (patch2loc.run.configfiles, docs/configuration.md "Overrides"): a file
that extends another holds only what it changes, and what it says is what the run gets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from patch2loc.errors import InputError
from patch2loc.run.configfiles import DROP, EXTENDS, WHOLE, chain, load

REPO = Path(__file__).resolve().parents[2]
OVERRIDES = [p for p in sorted((REPO / "config").rglob("*.yaml")) if EXTENDS in (yaml.safe_load(p.read_text()) or {})]


def _repeats(own: dict, base: dict, path: str = "") -> list[str]:
    """The keys of `own` whose value is the one `base` already has (blocks compared leaf by leaf)."""
    found = []
    for key, value in own.items():
        if key not in base:
            continue
        nested = isinstance(value, dict) and isinstance(base[key], dict) and not (not path and key in WHOLE)
        if nested:
            found += _repeats(value, base[key], f"{path}{key}.")
        elif value == base[key] and type(value) is type(base[key]):
            found.append(f"{path}{key}")
    return found


def test_the_shipped_overrides_are_the_demo_its_long_run_the_ablation_and_the_rehearsal():
    names = {p.relative_to(REPO / "config").as_posix() for p in OVERRIDES}
    assert {"demo.yaml", "demo_long.yaml", "rehearsal.yaml"} <= names
    assert {f"ablation/anatomy_{a}.yaml" for a in ("one", "one_varied", "several", "several_varied")} <= names


@pytest.mark.parametrize("path", OVERRIDES, ids=lambda p: p.relative_to(REPO / "config").as_posix())
def test_an_override_holds_only_values_that_differ_from_what_it_extends(path):
    """config/demo.yaml against config/config.yaml, leaf by leaf: a key repeated with the paper's value
    is a second home for it (and a value the paper's config would no longer change)."""
    own = yaml.safe_load(path.read_text())
    base = load(chain(path)[:-1])
    own = {k: v for k, v in own.items() if k not in (EXTENDS, DROP)}
    assert not _repeats(own, base), f"{path.name} repeats what it extends: {_repeats(own, base)}; remove them"


@pytest.mark.parametrize("path", OVERRIDES, ids=lambda p: p.relative_to(REPO / "config").as_posix())
def test_an_override_drops_only_keys_it_sets_no_value_for(path):
    own = yaml.safe_load(path.read_text())
    for key in own.get(DROP, []):
        head, *rest = key.split(".")
        node = own.get(head)
        for part in rest:
            node = node.get(part) if isinstance(node, dict) else None
        assert node is None, f"{path.name}: drops `{key}` and sets it too"


def _write(folder: Path, name: str, data: dict) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def test_blocks_merge_lists_and_whole_keys_are_replaced_and_each_file_applies_once(tmp_path):
    base = _write(tmp_path, "base.yaml", {"a": {"x": 1, "y": [1, 2]}, "datasets": {"IXI": {}, "WMH": {}}, "k": 1})
    over = _write(tmp_path, "sub/over.yaml", {EXTENDS: "../base.yaml", "a": {"y": [3]}, "datasets": {"IXI": {}}})
    last = _write(tmp_path, "last.yaml", {EXTENDS: "sub/over.yaml", "k": 2})
    expected = {"a": {"x": 1, "y": [3]}, "datasets": {"IXI": {}}, "k": 2}
    assert load([last]) == expected
    assert load([over, last]) == load([base, over, last]) == expected  # base is applied once, first


def test_drop_removes_what_the_files_before_gave(tmp_path):
    _write(tmp_path, "base.yaml", {"inputs": {"T1": ["T1"]}, "evaluate": {"space": "native", "region": "brain"}})
    over = _write(tmp_path, "over.yaml", {EXTENDS: "base.yaml", DROP: ["inputs", "evaluate.space"]})
    assert load([over]) == {"evaluate": {"region": "brain"}}


@pytest.mark.parametrize(
    "data, said",
    [
        ({EXTENDS: "missing.yaml"}, "names no file"),
        ({EXTENDS: ["base.yaml"]}, "must be one file name"),
        ({EXTENDS: "bad.yaml"}, "comes back to this file"),
        ({EXTENDS: "base.yaml", DROP: ["evaluate.protcol"]}, "remove it from `drop:`"),
        ({EXTENDS: "base.yaml", DROP: "inputs"}, "is a list of keys"),
    ],
)
def test_a_bad_override_is_one_line_naming_the_file_and_the_fix(tmp_path, data, said):
    _write(tmp_path, "base.yaml", {"evaluate": {"protocol": "shared"}})
    bad = _write(tmp_path, "bad.yaml", data)
    with pytest.raises(InputError, match=said) as err:
        load([bad])
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_a_file_that_is_no_mapping_is_named(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(InputError, match="list.yaml: a config file is a mapping"):
        load([bad])
