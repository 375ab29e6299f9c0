"""Every key of config/schema.yaml has a row in the configuration table of docs/configuration.md
(linked from the README; a new key without a row fails here)."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _schema_keys(props: dict, definitions: dict, prefix: str = "", seen: set | None = None) -> list[str]:
    """Dotted names of the schema's keys; blocks keyed by dataset name (`datasets`) stop at the block.
    A block that shares a definition with an earlier one (`pddpm`, `cddpm` like `ddpm`) is listed
    under the first block's name only: the README documents the shared keys once."""
    seen = set() if seen is None else seen
    keys = []
    for name, spec in props.items():
        spec = spec or {}
        ref = spec.get("$ref", "").rpartition("/")[2]
        if ref in definitions and "properties" in definitions[ref]:
            if ref in seen:
                continue
            seen.add(ref)
            spec = definitions[ref]
        sub = spec.get("properties")
        if sub and name != "datasets":
            keys += _schema_keys(sub, definitions, f"{prefix}{name}.", seen)
        else:
            keys.append(prefix + name)
    return keys


def _table_key_cells(readme: str) -> list[str]:
    return [line.split("|")[1] for line in readme.splitlines() if line.startswith("| `")]


def _documented(key: str, cells: list[str]) -> bool:
    """`a.b.c` itself in a row, or `c` in a row whose first name starts with `a.b.` (rows group
    siblings: "`patch2loc.steps`, `patches_per_step`")."""
    block, _, leaf = key.rpartition(".")
    for cell in cells:
        if f"`{key}`" in cell or f"`{key}." in cell:
            return True
        if block and cell.strip().startswith(f"`{block}.") and f"`{leaf}`" in cell:
            return True
    return False


def test_every_schema_key_has_a_readme_row():
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    cells = _table_key_cells((REPO / "docs" / "configuration.md").read_text(encoding="utf-8"))
    keys = _schema_keys(schema["properties"], schema.get("definitions", {}))
    missing = [k for k in keys if not _documented(k, cells)]
    assert not missing, f"config keys without a row in docs/configuration.md: {missing}"


def test_a_key_without_a_row_is_found():
    cells = ["`patch2loc.steps`, `patches_per_step` "]
    assert _documented("patch2loc.patches_per_step", cells)
    assert not _documented("patch2loc.lr_schedule", cells)
