"""Every key of config/schema.yaml is documented: a method block's key (`patch2loc.*`, `dae.*`, ...) by
its row in docs/settings.md (generated from the schema's descriptions and the settings dataclasses)
with a non-empty "what", every other key by a row of the table in docs/configuration.md (linked from
the README). A new key without either, or a method key with an empty description, fails here."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
HEADING = re.compile(r"^#{2,3} `([\w.]+):`")


def _schema_keys(props: dict, definitions: dict, prefix: str = "", seen: set | None = None) -> list[str]:
    """Dotted names of the schema's keys; blocks keyed by dataset name (`datasets`) stop at the block.
    A block that shares a definition with an earlier one (`pddpm`, `cddpm` like `ddpm`) is listed
    under the first block's name only: the docs document the shared keys once."""
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


def settings_rows(page: str) -> dict[str, str]:
    """{"block.key": what} of docs/settings.md's tables, the block being its table's heading
    (`ddpm`, `cddpm.pretrain`)."""
    rows, block = {}, None
    for line in page.splitlines():
        if heading := HEADING.match(line):
            block = heading.group(1)
        elif block and line.startswith("| `"):
            cells = [cell.strip() for cell in line.split("|")[1:-1]]
            rows[f"{block}.{cells[0].strip('`')}"] = cells[-1]
    return rows


def _method_blocks() -> dict[str, str]:
    """{method block: the block whose settings.md table names the keys of its schema}: a block that
    shares its schema with another (`pddpm`, `cddpm`: `ddpm`'s) is listed under the first only."""
    from patch2loc.run.blocks import block_methods

    first, blocks = {}, {}
    for method in block_methods():
        ref = SCHEMA["properties"][method.config].get("$ref", method.config)
        blocks[method.config] = first.setdefault(ref, method.config)
    return blocks


def _described(key: str, rows: dict[str, str], blocks: dict[str, str]) -> bool:
    """`key` (`ddpm.pretrain.steps`) has a settings.md row with a "what" under its block or under
    any block of the same schema (`cddpm.pretrain.steps`)."""
    top, _, rest = key.partition(".")
    names = [b for b, shared in blocks.items() if shared == blocks[top]]
    return any(rows.get(f"{name}.{rest}") for name in names)


def undocumented(configuration: str, settings: str) -> list[str]:
    cells, rows, blocks = _table_key_cells(configuration), settings_rows(settings), _method_blocks()
    missing = []
    for key in _schema_keys(SCHEMA["properties"], SCHEMA.get("definitions", {})):
        if key.partition(".")[0] in blocks:
            if not _described(key, rows, blocks):
                missing.append(f"{key} (no description in docs/settings.md: config/schema.yaml's)")
        elif not _documented(key, cells):
            missing.append(f"{key} (no row in docs/configuration.md)")
    return missing


def test_every_schema_key_is_documented():
    configuration = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    settings = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = undocumented(configuration, settings)
    assert not missing, f"config keys without their documentation: {missing}"


def test_every_method_block_has_its_row_pointing_at_settings():
    cells = _table_key_cells((REPO / "docs" / "configuration.md").read_text(encoding="utf-8"))
    for block in _method_blocks():
        assert any(f"`{block}.*`" in cell for cell in cells), f"docs/configuration.md: no `{block}.*` row"


def test_a_key_without_a_row_is_found():
    cells = ["`patch2loc.steps`, `patches_per_step` "]
    assert _documented("patch2loc.patches_per_step", cells)
    assert not _documented("patch2loc.lr_schedule", cells)


def test_a_method_key_with_an_empty_description_is_found():
    configuration = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    settings = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    planted = re.sub(r"(\| `mask_ratio` \|[^\n]*\| )[^|\n]+( \|)\n", r"\1\2\n", settings)
    assert planted != settings
    assert undocumented(configuration, planted) == [
        "ddpm.pretrain.mask_ratio (no description in docs/settings.md: config/schema.yaml's)"
    ]
    dropped = settings.replace("| `beta` |", "| `not_beta` |")
    assert undocumented(configuration, dropped) == [
        "patch2loc.beta (no description in docs/settings.md: config/schema.yaml's)"
    ]
