"""OUTPUT_DIR's dataset-level files: dataset_description.json, .bidsignore and the atlas image.

`DatasetLinks` name the datasets the sidecars' BIDS URIs point into (`bids:raw:...` the input
scans, `bids:masks:...` the brain masks): a path relative to OUTPUT_DIR when OUTPUT_DIR lies
inside BIDS_DIR (BIDS_DIR/derivatives/patch2loc, the BIDS Apps habit: the whole tree can be
moved) and the linked dataset does too, else a file:// URI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from patch2loc.bids.names import ATLAS, BIDSIGNORE

BIDS_VERSION = "1.10.0"
README = """Anomaly maps of patch2loc ({method}, {modality} model bundle {file}), one set per scan.

Per scan, in sub-<label>[/ses-<label>]/anat/: space-native (the scan's own grid) and space-atlas
(the bundle's atlas, atlas/image.nii.gz) heatmaps (desc-anomaly, the scan's suffix) and lesion
masks (desc-anomaly_mask, at the sidecar's Threshold), the brain that was scored
(space-native_desc-brain_mask), the lesion mask's components (desc-anomaly_components.tsv), an
interactive viewer (desc-anomaly_viewer.html) and an overview figure (desc-anomaly_overview.png).
group_anomaly.tsv and report.html: patch2loc bids ... group. .predict/: patch2loc predict's own
outputs (preprocessing, checksums that let a rerun skip finished scans).
"""


def link_for(dataset: Path, out: Path, bids_dir: Path) -> str:
    real, target, root = (Path(os.path.realpath(p)) for p in (out, dataset, bids_dir))
    if real.is_relative_to(root) and target.is_relative_to(root):
        return os.path.relpath(target, real) + "/"
    return target.as_uri()


def description(info: dict, links: dict[str, str], before: dict | None) -> dict:
    import patch2loc

    merged = {**((before or {}).get("DatasetLinks") or {}), **links}
    bundle = {
        "File": info["file"],
        "Sha256": info["sha256"],
        "Method": info["method"],
        "Modality": info["modality"],
        "Folds": info["folds"],
        "RunName": info.get("run_name"),
    }
    return {
        "Name": f"patch2loc {info['method']} anomaly maps ({info['modality']})",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [
            {
                "Name": "patch2loc",
                "Version": patch2loc.__version__,
                "Description": f"patch2loc bids with the {info['method']} model bundle {info['file']} "
                f"(sha256 {info['sha256']})",
                "ModelBundle": bundle,
            }
        ],
        "SourceDatasets": [{"URL": merged["raw"]}],
        "DatasetLinks": merged,
    }


def write_dataset_files(out: Path, info: dict, links: dict[str, str], model, before: dict | None) -> None:
    """dataset_description.json (DatasetLinks merged with those of `before`, the description
    output_dir.owner read and checked), .bidsignore and, once, the bundle's atlas image (the
    reference of every space-atlas file)."""
    from patch2loc.bids.adapter import bundle_info
    from patch2loc.bids.guard import check_write
    from patch2loc.files.staging import OutputSet

    path = check_write(out, out / "dataset_description.json")
    for name in (".bidsignore", "README", f"{ATLAS}/image.nii.gz"):
        check_write(out, out / name)
    with OutputSet() as outs:
        outs.file(path).write_text(json.dumps(description(info, links, before), indent=2) + "\n", encoding="utf-8")
        outs.file(out / ".bidsignore").write_text("\n".join(BIDSIGNORE) + "\n", encoding="utf-8")
        outs.file(out / "README").write_text(README.format(**info), encoding="utf-8")
        atlas = out / ATLAS / "image.nii.gz"
        if not atlas.exists():
            bundle_info(model, atlas_copy=outs.file(atlas))
