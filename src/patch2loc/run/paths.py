"""The run paths by kind, as templates, and reading a path back into its keys (dataset, method,
modality, fold, subject): `RunLayout` builds paths from these templates (run/layout.py) and its
`parse` is `parse_path`, so that both read one table.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from patch2loc.registry import REGISTRY

# Run paths by kind, relative to the run folder: built with str.format, read back by `parse_path`.
# {models} is a method's model folder with its slash ("" for Patch2Loc, "DAE/" for the DAE).
PATHS = {
    "preprocessed": "preprocessed/{dataset}/{modality}/{subject}/{name}",
    "normalized": "normalized/{dataset}/{modality}/{subject}/image.nii.gz",
    "skull_mask": "skullstrip/{tool}/{dataset}/{modality}/{subject}/brainmask.nii.gz",
    "model_dir": "{root}/{models}{modality}/fold{fold}",
    "model": "{root}/{models}{modality}/fold{fold}/{name}",
    "scores": "scores/{method}/{modality}/{fold}/{dataset}/{name}",
    "heatmap": "scores/{method}/{modality}/{fold}/{dataset}/heatmaps/{subject}.nii.gz",
    "viewers": "viewers/{method}/{modality}/{fold}/{dataset}",
    "viewer": "viewers/{method}/{modality}/{fold}/{dataset}/{subject}.html",
    "figure": "figures/{kind}_{keys}.png",
}
KEY_PATTERNS = {"modality": r"[^/_]+", "models": r"(?:[^/]+/)?", "fold": r"[^/]+?", "root": r"(?:resume/)?models"}
# The figures, by kind: the keys of their file names, in order.
FIGURES = {
    "heatmaps": ("dataset", "modality"),
    "kde": ("dataset",),
    "kde_methods": ("dataset",),
    "methods": ("dataset",),
    "ellipses": ("dataset",),
    "loss_curves": ("method",),
    "recall_size": ("dataset",),
}  # recall_size: rule table3's (lesion-wise recall by lesion size)


def _pattern(template: str) -> re.Pattern:
    """The template as a regex with a named group per key, matched at the end of a path."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(p) if i % 2 == 0 else f"(?P<{p}>{KEY_PATTERNS.get(p, '[^/]+')})" for i, p in enumerate(parts)
    )
    return re.compile(f"(?:^|/){regex}$")


def _method_of_models(folder: str) -> str:
    return next(m.name for m in REGISTRY if m.models == folder.rstrip("/"))


def parse_path(path: str | PurePath, kind: str) -> dict[str, str]:
    """The keys of a run path of `kind` (a PATHS kind, or "figure:{FIGURES kind}"), e.g.
    {dataset, modality, subject, name} of a preprocessed file or {method, modality, fold,
    dataset, name} of a scores file; ValueError when the path is not of that kind."""
    text = PurePath(path).as_posix()
    if kind.startswith("figure:"):
        figure = kind.split(":", 1)[1]
        template = (
            PATHS["figure"].replace("{kind}", figure).replace("{keys}", "_".join(f"{{{k}}}" for k in FIGURES[figure]))
        )
    else:
        template = PATHS[kind]
    found = _pattern(template).search(text)
    if found is None:
        raise ValueError(f"{path}: not a run's {kind} path ({template})")
    keys = found.groupdict()
    if "models" in keys:
        keys["method"] = _method_of_models(keys.pop("models"))
        keys.pop("root")
    return keys
