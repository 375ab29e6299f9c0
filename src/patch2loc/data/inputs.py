"""Model inputs: which contrasts a model reads, which models a run trains, which lesion sets each scores.

A model input is a named set of contrasts (config `inputs:`, e.g. `{T1: [T1], T2: [T2], T1T2: [T1, T2]}`);
the first contrast of a set is its reference (its native grid, registration and lesion mask are the
stack's). A lesion set has the contrasts its `datasets.<name>.contrasts` lists (default: the one the
paper uses it with, `layouts.MODALITIES`), and is scored by every input whose contrasts it has.
Without `inputs:` a run has one input per contrast its lesion sets use, each named after its
contrast: today's runs, file for file (docs/multimodal.md).

Pure functions of the config (no numpy): the workflow reads them to build its DAG.
"""

from __future__ import annotations

import re

from patch2loc.data.layouts import LESION_DATASETS, MODALITIES, SHIPPED_CONTRASTS
from patch2loc.errors import InputError

NAME = re.compile(r"^[A-Za-z0-9]+$")  # a folder name and a wildcard value (no '_', which splits log names)
CONTRASTS = sorted({c for shipped in SHIPPED_CONTRASTS.values() for c in shipped})


def dataset_contrasts(config: dict, dataset: str) -> tuple[str, ...]:
    """The contrasts a run reads of a dataset: `datasets.<name>.contrasts`, else the paper's."""
    listed = (config["datasets"].get(dataset) or {}).get("contrasts")
    if not listed:
        return MODALITIES[dataset]
    unknown = [c for c in listed if c not in SHIPPED_CONTRASTS[dataset]]
    if unknown:
        raise InputError(
            f"config `datasets.{dataset}.contrasts`: {unknown} not among the contrasts {dataset} ships "
            f"{list(SHIPPED_CONTRASTS[dataset])}; list only those (docs/configuration.md, 'inputs')."
        )
    return tuple(dict.fromkeys(listed))


def _checked(inputs: dict) -> dict[str, tuple[str, ...]]:
    checked = {}
    for name, contrasts in inputs.items():
        contrasts = tuple(contrasts or ())
        bad = [c for c in contrasts if c not in CONTRASTS]
        if not NAME.match(str(name)) or not contrasts or bad or len(set(contrasts)) < len(contrasts):
            raise InputError(
                f"config `inputs.{name}`: {list(contrasts)} is not a set of contrasts named by letters and "
                f"digits; give e.g. `T1T2: [T1, T2]`, each contrast once, of {CONTRASTS}."
            )
        if (len(contrasts) == 1) != (name == contrasts[0]) or (len(contrasts) > 1 and name in CONTRASTS):
            raise InputError(
                f"config `inputs.{name}`: an input of one contrast is named after it (`T1: [T1]`, whose "
                "files are today's) and an input of several is not named after one (e.g. `T1T2: [T1, T2]`)."
            )
        checked[str(name)] = contrasts
    return checked


def model_inputs(config: dict, lesion_sets: list[str]) -> dict[str, tuple[str, ...]]:
    """name -> contrasts of every input the run trains: those that score a lesion set (all listed when
    the run has none). Without `inputs:`, one per contrast the lesion sets use (T1 and T2 when none)."""
    if not config.get("inputs"):
        used = sorted({c for d in lesion_sets for c in dataset_contrasts(config, d)}) or ["T1", "T2"]
        return {c: (c,) for c in used}
    inputs = _checked(config["inputs"])
    scoring = {name for d in lesion_sets for name in set_inputs(inputs, config, d)}
    return {name: c for name, c in inputs.items() if name in scoring} or inputs


def set_inputs(inputs: dict, config: dict, dataset: str) -> list[str]:
    """The inputs that score a lesion set: every one whose contrasts it has, one-contrast inputs first
    in the set's order of contrasts (its paper contrast first), then the others as listed."""
    has = dataset_contrasts(config, dataset)
    found = [n for n, c in inputs.items() if set(c) <= set(has)]
    return sorted(found, key=lambda n: (len(inputs[n]) > 1, has.index(inputs[n][0]) if len(inputs[n]) == 1 else 0))


def check_every_set_scored(inputs: dict, config: dict, lesion_sets: list[str]) -> None:
    """A lesion set no input can score is a config mistake: one line naming it."""
    for d in lesion_sets:
        if d in LESION_DATASETS and not set_inputs(inputs, config, d):
            raise InputError(
                f"config `inputs`: no input scores {d} (its contrasts: {list(dataset_contrasts(config, d))}); "
                f"add one, e.g. `{dataset_contrasts(config, d)[0]}: [{dataset_contrasts(config, d)[0]}]`, "
                "or remove the dataset."
            )


def scan_contrasts(inputs: dict, config: dict, dataset: str) -> tuple[str, ...]:
    """The contrasts of a lesion set to preprocess: those of the inputs that score it, in its order."""
    needed = {c for n in set_inputs(inputs, config, dataset) for c in inputs[n]}
    return tuple(c for c in dataset_contrasts(config, dataset) if c in needed)


def covered(lists: list[list[str]]) -> tuple[list[str], dict[str, list[str]]]:
    """(subjects in every list, in the first's order; {left-out subject: the lists' indices it lacks})
    of per-contrast subject lists."""
    kept = [s for s in lists[0] if all(s in other for other in lists[1:])]
    pool = list(dict.fromkeys(s for one in lists for s in one))
    missing = {s: [i for i, one in enumerate(lists) if s not in one] for s in pool if s not in kept}
    return kept, missing


def input_contrasts(config: dict, name: str, where: str) -> tuple[str, ...]:
    """The contrasts of a run's model input `name` (its config `inputs:`; a contrast's own name without
    one): what predict and export read for it. `where` names the config in the error."""
    inputs = _checked(config.get("inputs") or {})
    if name in inputs:
        return inputs[name]
    if name in CONTRASTS:
        return (name,)
    raise InputError(
        f"{where}: no model input {name!r} (its inputs: {sorted(inputs) or CONTRASTS}); pass --modality as one "
        "of them (a contrast, or a name of config `inputs` such as T1T2)."
    )
