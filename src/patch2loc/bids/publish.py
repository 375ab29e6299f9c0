"""predict's outputs of one scan -> its BIDS-Derivatives files (names.py), all or none.

A scan is published again only when predict redid it: each sidecar records predict's run
fingerprint (the checksums of the inputs and the settings, predict.runstate), so a rerun that
predict skipped leaves the published files as they are. Everything of one scan is staged in one
`OutputSet` and appears together.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from patch2loc.bids import adapter, files, guard
from patch2loc.bids.names import ATLAS, bids_uri, component_columns, derivative_paths

RAW, MASKS, SELF = "raw", "masks", ""  # DatasetLinks names ("" is this dataset: bids::path)


def _json(obj: dict) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def _tsv(path: Path) -> str:
    """predict's components csv (checked: its columns, numbers only) as a BIDS tsv."""
    what = "predict's components table"
    text = files.read_bytes(path, what, files.MAX_TABLE).decode("utf-8", "replace")
    files.parse_table(text, path, what, list(component_columns()), ",")
    return "".join(line.replace(",", "\t") + "\n" for line in text.splitlines())


def published_fingerprint(out_dir: Path, scan) -> str | None:
    """The run fingerprint a scan's published sidecar records (None: not published, or not ours)."""
    sidecar = out_dir / derivative_paths(scan.entities)["heatmap_json"]
    if not sidecar.exists():
        return None
    return files.field(files.read_json(sidecar, "a published sidecar"), "RunFingerprint", "string", sidecar)


def predict_summary(path: Path) -> dict:
    """predict's summary of one scan, with the types publishing relies on checked."""
    summary = files.read_json(path, "predict's summary", files.MAX_SUMMARY)
    files.field(summary, "method", "string", path, optional=False)
    for key in ("threshold", "median_size"):
        files.field(summary, key, "number", path)
    files.field(summary, "threshold_source", "string", path)
    inputs = files.field(summary, "inputs", "object", path) or {}
    files.field(inputs, "channels", "object", path)
    state = files.field(summary, "run_state", "object", path) or {}
    files.field(state, "fingerprint", "string", path, "run_state")
    return summary


def remove_published(out_dir: Path, scan) -> list[Path]:
    """Remove a scan's derivatives (only a set whose sidecar records a run fingerprint: ours)
    when predict could not redo it, so no stale set stays looking current; returns them."""
    if published_fingerprint(out_dir, scan) is None:
        return []
    names = derivative_paths(scan.entities)
    last = out_dir / names.pop("heatmap_json")  # removed last: while it exists, the set is ours
    gone = [out_dir / p for p in names.values() if (out_dir / p).is_file() and not (out_dir / p).is_symlink()]
    for path in [*gone, last]:
        path.unlink()
    folder = last.parent
    while folder != out_dir and folder.is_dir() and not any(folder.iterdir()):  # sub-<label>[/ses-<label>]/anat
        folder.rmdir()
        folder = folder.parent
    return [*gone, last]


def scan_sources(scan, masks_root: Path | None) -> list[str]:
    """Every file the map was made from, as BIDS URIs: the scan and its brain mask, then each other
    contrast's scan and mask of a model of several contrasts."""
    import os

    sources = []
    for one in [scan, *(getattr(scan, "contrasts", None) or {}).values()]:
        sources.append(bids_uri(RAW, one.relpath))
        if one.mask is not None and masks_root is not None:
            sources.append(bids_uri(MASKS, os.path.relpath(one.mask, masks_root)))
    return sources


def sidecars(scan, summary: dict, info: dict, names: dict, masks_root: Path | None) -> dict[str, dict]:
    raw = bids_uri(RAW, scan.relpath)
    sources = scan_sources(scan, masks_root)
    mask_uri = sources[1] if scan.mask is not None and masks_root is not None else None
    channels = ((summary.get("inputs") or {}).get("channels")) or None
    native, atlas = {"SpatialReference": raw}, {"SpatialReference": bids_uri(SELF, f"{ATLAS}/image.nii.gz")}
    thr = summary.get("threshold")
    model = {
        "Method": summary["method"],
        "Folds": info["folds"],
        "Threshold": thr,
        "ThresholdSource": summary.get("threshold_source"),
        "MedianSize": summary.get("median_size"),
        "ModelBundle": {
            "File": info["file"],
            "Sha256": info["sha256"],
            "Modality": info["modality"],
            "RunName": info.get("run_name"),
        },
        "RunFingerprint": (summary.get("run_state") or {}).get("fingerprint"),
        "Contrasts": list(info.get("contrasts") or [info["modality"]]),
        **({"ContrastChecks": channels} if channels else {}),
    }
    heat = {
        "Description": f"{summary['method']} anomaly score (mean of the folds' raw scores, median filtered, "
        "0 outside the brain); higher is more anomalous",
        "SkullStripped": True,
        **model,
    }
    lesion = {
        "Type": "Lesion",
        "Description": "voxels whose anomaly score is above Threshold (inside the brain)",
        "Threshold": thr,
        "RunFingerprint": model["RunFingerprint"],
    }
    return {
        "heatmap_json": {**heat, **native, "Sources": sources},
        "atlas_heatmap_json": {**heat, **atlas, "Sources": sources},
        "mask_json": {**lesion, **native, "Sources": [bids_uri(SELF, names["heatmap"])]},
        "atlas_mask_json": {**lesion, **atlas, "Sources": [bids_uri(SELF, names["atlas_heatmap"])]},
        "brain_json": {
            "Type": "Brain",
            "Description": "the brain that was scored: the atlas-space brain mask of "
            "the preprocessing, on the scan's grid"
            + (" (from the given brain mask)" if mask_uri else " (HD-BET skull stripping)"),
            **native,
            "Sources": sources,
        },
        "components_json": {**component_columns(), "Sources": [bids_uri(SELF, names["mask"])]},
    }


def publish_scan(out_dir: Path, scan, produced: dict[str, Path], info: dict, masks_root: Path | None) -> dict:
    """Write one scan's derivatives from predict's outputs `produced`; returns predict's summary."""
    from patch2loc.files.io import header_volume, load_volume, save_volume
    from patch2loc.files.staging import OutputSet
    from patch2loc.viewer import prediction_viewer

    summary = predict_summary(produced["summary"])
    names = derivative_paths(scan.entities)
    with OutputSet() as outs:

        def put(key: str) -> Path:
            return outs.file(guard.check_write(out_dir, out_dir / names[key]))

        for key, source in (
            ("heatmap", "native"),
            ("mask", "native_lesions"),
            ("atlas_heatmap", "heatmap"),
            ("atlas_mask", "lesions"),
            ("overview", "png"),
        ):
            shutil.copyfile(produced[source], put(key))
        brain = adapter.native_brain(produced, scan.path)
        save_volume(brain.astype("uint8"), put("brain"), like=header_volume(produced["native"]))
        put("components").write_text(_tsv(produced["components"]), encoding="utf-8")
        for key, meta in sidecars(scan, summary, info, names, masks_root).items():
            put(key).write_text(_json(meta), encoding="utf-8")
        image, score = load_volume(scan.path), load_volume(produced["native"], kind="heatmap")
        prediction_viewer(
            put("viewer"),
            image.data,
            score.data,
            image.affine,
            summary.get("threshold"),
            brain=brain,
            title=f"{scan.id} ({summary['method']}, native space)",
            method=summary["method"],
        )
    return summary
