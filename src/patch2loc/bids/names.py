"""BIDS-Derivatives names and metadata of `patch2loc bids` (docs/bids.md lists them).

Per scan, in `sub-<label>[/ses-<label>]/anat/`, the scan's own entities (sub, ses, task, acq, ce,
rec, run, echo, part, chunk: the ones that tell two scans apart) followed by `space-<label>` and
`desc-<label>`, in the specification's entity order, built by pybids from one pattern:
- `..._space-native_desc-anomaly_<T1w|T2w>.nii.gz` the heatmap on the scan's own grid, and
  `..._space-atlas_desc-anomaly_<T1w|T2w>.nii.gz` on the bundle's atlas grid;
- `..._space-<native|atlas>_desc-anomaly_mask.nii.gz` the lesion mask at the threshold;
- `..._space-native_desc-brain_mask.nii.gz` the brain predict scored (warped back);
- `..._space-native_desc-anomaly_components.tsv` the lesion mask's connected components;
- `..._space-native_desc-anomaly_viewer.html`, `..._space-atlas_desc-anomaly_overview.png`.
Every NIfTI and the table have a JSON sidecar.
"""

from __future__ import annotations

from pathlib import Path

# pybids path pattern (bids.layout.writing.build_path): [...] is optional, {x<a|b>} restricts x.
PATTERN = (
    "sub-{subject}[/ses-{session}]/anat/sub-{subject}[_ses-{session}][_task-{task}][_acq-{acquisition}]"
    "[_ce-{ceagent}][_rec-{reconstruction}][_run-{run}][_echo-{echo}][_part-{part}][_chunk-{chunk}]"
    "_space-{space<native|atlas>}_desc-{desc<anomaly|brain>}_{suffix<T1w|T2w|mask|components|viewer|overview>}"
    "{extension<.nii.gz|.json|.tsv|.html|.png>}"
)
# output key -> (space, desc, suffix or None for the scan's own, extension)
OUTPUTS = {
    "heatmap": ("native", "anomaly", None, ".nii.gz"),
    "mask": ("native", "anomaly", "mask", ".nii.gz"),
    "atlas_heatmap": ("atlas", "anomaly", None, ".nii.gz"),
    "atlas_mask": ("atlas", "anomaly", "mask", ".nii.gz"),
    "brain": ("native", "brain", "mask", ".nii.gz"),
    "components": ("native", "anomaly", "components", ".tsv"),
    "viewer": ("native", "anomaly", "viewer", ".html"),
    "overview": ("atlas", "anomaly", "overview", ".png"),
}
SIDECARS = ("heatmap", "mask", "atlas_heatmap", "atlas_mask", "brain", "components")
# Files the BIDS validator has no rule for (the specification has no suffix for them yet) and
# predict's working folder: listed in .bidsignore, as the specification provides.
BIDSIGNORE = [
    "*_components.tsv",
    "*_components.json",
    "*_viewer.html",
    "*_overview.png",
    "/atlas",
    "group_anomaly.*",
    "/report.html",
    "/.predict",
]
WORK = ".predict"  # predict's own outputs (checksums for reruns, preprocessing): hidden, ignored by BIDS tools
ATLAS = "atlas"  # the bundle's atlas image, the reference of space-atlas


def derivative_paths(entities: dict) -> dict[str, str]:
    """Every output of one scan, relative to OUTPUT_DIR; sidecars as `<key>_json`."""
    from bids.layout.writing import build_path

    paths = {}
    for key, (space, desc, suffix, ext) in OUTPUTS.items():
        named = {**entities, "space": space, "desc": desc, "suffix": suffix or entities["suffix"], "extension": ext}
        paths[key] = build_path(named, [PATTERN], strict=False)
        if key in SIDECARS:
            paths[f"{key}_json"] = build_path({**named, "extension": ".json"}, [PATTERN], strict=False)
    missing = [k for k, v in paths.items() if v is None]
    if missing:  # a label with characters BIDS does not allow
        raise ValueError(f"no BIDS name for {missing} of {entities}")
    return paths


def bids_uri(dataset: str, relpath: str) -> str:
    return f"bids:{dataset}:{Path(relpath).as_posix()}"


def component_columns() -> dict:
    """The components table's column descriptions (its JSON sidecar, BIDS tabular conventions)."""
    return {
        "component": {"Description": "component number, largest first (26-connectivity)"},
        "voxels": {"Description": "number of voxels of the component"},
        "volume_ml": {"Description": "volume of the component", "Units": "mL"},
        "peak_score": {"Description": "highest anomaly score in the component"},
        "mean_score": {"Description": "mean anomaly score in the component"},
        "centroid_x_mm": {"Description": "centroid, world x (the scan's RAS frame)", "Units": "mm"},
        "centroid_y_mm": {"Description": "centroid, world y (the scan's RAS frame)", "Units": "mm"},
        "centroid_z_mm": {"Description": "centroid, world z (the scan's RAS frame)", "Units": "mm"},
    }
