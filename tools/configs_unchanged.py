"""Do the shipped configs give the same run as at an earlier commit? (turning config/demo.yaml and
config/rehearsal.yaml into overrides of config/config.yaml must change no value a run sees)

    python tools/configs_unchanged.py [REF]        # REF: a commit or branch (default main)

For each way the Makefile and the drivers load the configs (the paper, demo, demo-long, each ablation
arm, the rehearsal): the config at REF, its --configfile files read from git and merged as Snakemake
merged them there, against the config of the working tree's files (patch2loc.run.configfiles.load);
then both as the run uses them: each side's config/schema.yaml's defaults filled in, then the code's
(a method block's dataclass field defaults, the download and archive budgets of data/), so that a
default that moved between the schema and the code is no difference. Prints one line per config
(with the number of values that one side's files set and the other leaves to the code's defaults)
and exits 1 when one differs as run (naming the first keys that differ). A job's params are the keys the
schema fills, so where a default moved out of the schema the jobs run once more (CHANGELOG.md).
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from patch2loc.run.configfiles import load  # noqa: E402

ARMS = ("one", "one_varied", "several", "several_varied")
COMBINATIONS = {
    "paper": ["config/config.yaml"],
    "demo": ["config/demo.yaml"],
    "demo-long": ["config/demo.yaml", "config/demo_long.yaml"],
    **{f"ablation {a}": ["config/demo.yaml", f"config/ablation/anatomy_{a}.yaml"] for a in ARMS},
    "rehearsal": ["config/rehearsal.yaml"],
}
# Files that now extend the ones they were given after: alone, they must give the same config.
ALONE = {"demo-long (its file alone)": "demo-long", "ablation one (its file alone)": "ablation one"}


def snakemake_merge(base: dict, over: dict) -> dict:
    """Snakemake's update_config: blocks merged key by key, everything else replaced."""
    out = dict(base)
    for key, value in over.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = snakemake_merge(out[key], value) if nested else value
    return out


def show(ref: str, name: str) -> str:
    return subprocess.run(["git", "show", f"{ref}:{name}"], cwd=REPO, capture_output=True, text=True, check=True).stdout


def checkout_configs(ref: str, folder: Path) -> Path:
    """REF's config/ folder written under `folder`, so that its files load as they did there (an
    `extends:` names a file beside it)."""
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", ref, "config/"], cwd=REPO, capture_output=True, text=True, check=True
    )
    for name in listing.stdout.split():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(show(ref, name), encoding="utf-8")
    return folder


def at(old_repo: Path, files: list[str]) -> dict:
    """The config REF's run saw: its files merged as Snakemake merged them then, or, where they
    extend another file, as patch2loc.run.configfiles loads them."""
    texts = [yaml.safe_load((old_repo / name).read_text(encoding="utf-8")) for name in files]
    if any("extends" in text for text in texts):
        return load([old_repo / name for name in files])
    config: dict = {}
    for text in texts:
        config = snakemake_merge(config, text)
    return config


def validated(config: dict, schema: Path) -> dict:
    """`config` with the schema's defaults filled in, as rules/common.smk's validate leaves it."""
    from snakemake.utils import validate

    config = copy.deepcopy(config)
    validate(config, str(schema))
    return config


def as_run(config: dict) -> dict:
    """`config` with the code's defaults under the keys it leaves out (docs/configuration.md, "One home
    per default"): what the training jobs build and the download and extract rules read."""
    from patch2loc.data import download, unpack
    from patch2loc.run.blocks import filled

    config = filled(config)
    for block, defaults in {"download": download.KEYS, "extract": unpack.KEYS}.items():
        if isinstance(config.get(block), dict):
            config[block] = {**defaults, **config[block]}
    return config


def differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in differences(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        ]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    same = a == b and (type(a) is type(b) or numbers)  # 0 and 0.0: the code reads both as one number
    return [] if same else [f"{path[1:]}: {a!r} -> {b!r}"]


def main(ref: str) -> int:
    failed = False
    runs = [(name, files, files) for name, files in COMBINATIONS.items()]
    runs += [(name, COMBINATIONS[of], COMBINATIONS[of][-1:]) for name, of in ALONE.items()]
    with tempfile.TemporaryDirectory() as tmp:
        old_repo = checkout_configs(ref, Path(tmp))
        old_schema = old_repo / "config" / "schema.yaml"
        for name, before, files in runs:
            old, new = at(old_repo, before), load([REPO / f for f in files])
            moved = differences(old, new)  # values left to the code's defaults
            diff = differences(
                as_run(validated(old, old_schema)), as_run(validated(new, REPO / "config" / "schema.yaml"))
            )
            failed |= bool(diff)
            said = (
                f"equal as run ({len(moved)} values left to the code)"
                if not diff
                else "DIFFERS: " + "; ".join(diff[:5])
            )
            print(f"{name:30s} {said}  ({' + '.join(files)})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "main"))
