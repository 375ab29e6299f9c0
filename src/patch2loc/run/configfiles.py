"""A run's config from its config files, the one way (docs/configuration.md, "Overrides").

A config file either stands alone or names the file it overrides with `extends:` (a path relative to
its own folder): config/demo.yaml `extends: config.yaml` and holds only what the demo changes. The
files are applied in order, each file's `extends` chain before it and every file once (at its first
appearance), so `--configfile config/demo.yaml config/demo_long.yaml` and `--configfile
config/demo_long.yaml` give the same config. Applying a file:
  - `drop: [key, a.b]` first removes those keys from what the files before it gave (the code's or the
    schema's default then applies: an absent `inputs` is one input per contrast);
  - then its keys are merged as Snakemake merges --configfile files (blocks key by key, lists and
    values replaced), except WHOLE's keys, replaced whole: the datasets and inputs a run runs are the
    ones its last file lists, never some of them left over from the paper's.
Every front end (rules/common.smk, the rehearsal drivers, the benchmarks) loads configs with `load`.

    python -m patch2loc.run.configfiles config/demo.yaml [more.yaml ...]   # the merged config, as YAML
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

from patch2loc.errors import InputError

EXTENDS, DROP = "extends", "drop"
# Top-level keys replaced whole by a file that sets them: what the run runs, listed in full.
WHOLE = ("datasets", "inputs")


def read(path: Path) -> dict:
    """One config file's own keys (a mapping), or InputError naming the file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"{path}: cannot read the config file ({err.strerror}); check the path.") from None
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML ({str(err).splitlines()[0]}); fix the file.") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a config file is a mapping of keys (`run_name: ...`); this one is not.")
    return data


def chain(path: Path, seen: tuple[Path, ...] = ()) -> list[Path]:
    """`path` after the files it extends, base first."""
    path = Path(path).absolute()
    if path in seen:
        raise InputError(f"{path}: `extends` comes back to this file; a config may not extend itself.")
    base = read(path).get(EXTENDS)
    if base is None:
        return [path]
    if not isinstance(base, str):
        raise InputError(f"{path}: `extends: {base!r}` must be one file name, e.g. `extends: config.yaml`.")
    target = path.parent / base
    if not target.is_file():
        raise InputError(
            f"{path}: `extends: {base}` names no file ({target}); give a path relative to this file's folder."
        )
    return [*chain(target, (*seen, path)), path]


def layers(paths) -> list[Path]:
    """Every file to apply, in order: each path's chain, each file once (its first appearance)."""
    return list(dict.fromkeys(p for path in paths for p in chain(path)))


def merge(base: dict, over: dict, top: bool = True) -> dict:
    """`over` on top of `base`: blocks merged key by key, other values (lists too) replaced; at the top
    level WHOLE's keys replaced whole."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict) and not (top and key in WHOLE)
        out[key] = merge(out[key], value, top=False) if nested else copy.deepcopy(value)
    return out


def drop(config: dict, keys, where: Path) -> dict:
    """`config` without the dotted `keys`; a key it lacks is an error (a misspelt drop removes nothing)."""
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise InputError(f"{where}: `drop:` is a list of keys, e.g. `drop: [inputs, evaluate.protocol]`.")
    out = copy.deepcopy(config)
    for key in keys:
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            raise InputError(
                f"{where}: `drop: {key}`, but the files it extends have no `{key}`; remove it from `drop:`."
            )
        del node[leaf]
    return out


def load(paths) -> dict:
    """The config of these files (a run's --configfile list), every `extends` and `drop` applied."""
    config: dict = {}
    for path in layers(paths):
        own = read(path)
        config = drop(config, own.pop(DROP, []), path)
        own.pop(EXTENDS, None)
        config = merge(config, own)
    return config


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m patch2loc.run.configfiles CONFIG.yaml [MORE.yaml ...]", file=sys.stderr)
        return 2
    try:
        config = load(argv)
    except InputError as err:
        print(err, file=sys.stderr)
        return 1
    print(yaml.safe_dump(config, sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
