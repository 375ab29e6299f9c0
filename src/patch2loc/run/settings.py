"""Config blocks -> dataclasses, the one way: unknown keys are an error that names them (a
misspelt key is never dropped silently), lists become tuples where the dataclass wants tuples.
Renamed keys of the workflow config are read under their new names with a warning (`upgrade_config`)."""

from __future__ import annotations

from dataclasses import fields

from patch2loc.errors import InputError


def config_from_dict(cls, d: dict, what: str, tuples: tuple[str, ...] = ()):
    """`cls(**d)`, refusing keys `cls` does not have; the keys in `tuples` are turned into tuples."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"{what}: unknown key(s) {unknown}; known keys are {sorted(known)}.")
    return cls(**{k: tuple(v) if k in tuples and v is not None else v for k, v in d.items()})


# Config keys that were renamed: (old path) -> (new path). A config with an old key is read as the
# new one with a one-line warning; with both, the two cannot be merged safely and it is refused.
RENAMED = {
    ("train",): ("patch2loc",),  # Patch2Loc's block, named after its method like every method's (registry)
    ("heatmap", "region"): ("heatmap", "centres"),  # the patch centres scored; `evaluate.region` is the voxels counted
}


def upgrade_config(config: dict) -> list[str]:
    """Rename old keys of a workflow config in place (RENAMED); returns one warning line per key
    renamed. InputError when a config holds a key under both its old and its new name."""
    warnings = []
    for old, new in RENAMED.items():
        parent = config
        for key in old[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or old[-1] not in parent:
            continue
        old_name, new_name = ".".join(old), ".".join(new)
        if new[-1] in parent:
            raise InputError(
                f"config: both `{old_name}` (the old name) and `{new_name}`; rename `{old_name}` to "
                f"`{new_name}` in your config file(s) and merge the two."
            )
        parent[new[-1]] = parent.pop(old[-1])
        warnings.append(
            f"config: `{old_name}` is now `{new_name}`; read as `{new_name}` this time, rename it in your config file."
        )
    return warnings


def upgrade_key(key: str) -> tuple[str, str | None]:
    """A dotted config key (a `--set` of a benchmark: `train.lr_schedule`) under its new name
    (RENAMED), and a warning line when it was renamed (else None)."""
    parts = tuple(key.split("."))
    for old, new in RENAMED.items():
        if parts[: len(old)] == old:
            new_key = ".".join(new + parts[len(old) :])
            return new_key, f"config: `{key}` is now `{new_key}`; read as `{new_key}` this time."
    return key, None
