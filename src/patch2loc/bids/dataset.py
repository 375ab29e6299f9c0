"""Which scans of a BIDS dataset one call scores, and their brain masks and lesion labels.

Indexed with pybids (docs/bids.md says why not ancpbids), without its metadata index (half the
time; the few sidecars we read are read directly). A scan fits the bundle when its suffix is
the bundle's modality (T1 -> T1w, T2 -> T2w) in `anat/`, NIfTI. Everything that makes a call
useless is refused here, before anything is written: a folder that is not a raw BIDS dataset, a
participant or session label that is not in it, a filter that selects the other modality, and a
selection without a single scan.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from patch2loc.errors import InputError

SUFFIX = {"T1": "T1w", "T2": "T2w"}
NIFTI = [".nii", ".nii.gz"]
# Entities that tell two scans of one session apart; a scan's derivatives keep them (names.py).
IDENTITY = ("subject", "session", "task", "acquisition", "ceagent", "reconstruction", "run", "echo", "part", "chunk")
BRAIN_DESC = re.compile("brain")  # fMRIPrep's and most tools' desc-brain_mask
INSTALL = "pip install 'patch2loc[bids]' (pybids)"


@dataclass
class Scan:
    path: Path  # the NIfTI in BIDS_DIR
    relpath: str  # relative to BIDS_DIR, with /
    entities: dict  # the IDENTITY entities it has, plus suffix
    mask: Path | None = None  # a brain mask from --mask-derivatives

    @property
    def id(self) -> str:
        """Its file name without the extension: unique in a BIDS dataset, so predict's scan id."""
        return re.sub(r"\.nii(\.gz)?$", "", self.path.name)


def _layout(root: Path, what: str, derivative: bool):
    try:
        import bids
        from bids.layout import BIDSLayoutIndexer
    except ImportError:
        raise InputError(f"{root}: {what} needs pybids, which is not installed. {INSTALL}.") from None
    if not root.is_dir():
        raise InputError(f"{root}: {what} is not a folder. Give the dataset's root folder.")
    description = root / "dataset_description.json"
    try:
        kind = json.loads(description.read_text(encoding="utf-8")).get("DatasetType", "raw")
    except (OSError, ValueError, AttributeError):
        raise InputError(
            f"{root}: {what} is not a BIDS dataset (no readable dataset_description.json at its "
            "root). Give the folder that holds dataset_description.json."
        ) from None
    if (kind == "derivative") != derivative:
        want = "a derivatives dataset (DatasetType derivative)" if derivative else "a raw BIDS dataset"
        raise InputError(
            f"{root}: {what} must be {want}, but its dataset_description.json says DatasetType "
            f"{kind}. Give the {'derivatives' if derivative else 'raw'} dataset's folder."
        )
    try:
        return bids.BIDSLayout(root, validate=not derivative, indexer=BIDSLayoutIndexer(index_metadata=False))
    except Exception as exc:  # pybids' validation errors: one line
        raise InputError(
            f"{root}: {what} cannot be indexed as BIDS ({' '.join(str(exc).split())[:200]}). "
            "Check it with the BIDS validator."
        ) from None


def open_raw(root: str | Path):
    return _layout(Path(root), "BIDS_DIR", derivative=False)


def _labels(given: list[str] | None, known: list[str], what: str, flag: str, root: Path) -> list[str] | None:
    """The labels asked for (a `sub-`/`ses-` prefix is dropped), each checked against the dataset."""
    if not given:
        return None
    prefix = {"participant": "sub-", "session": "ses-"}[what]
    labels = [g[len(prefix) :] if g.startswith(prefix) else g for g in given]
    missing = [label for label in labels if label not in known]
    if missing:
        raise InputError(
            f"{root}: no {what} {', '.join(prefix + m for m in missing)} in this dataset ({flag}); it "
            f"has {', '.join(prefix + k for k in sorted(known)) or 'none'}."
        )
    return labels


def read_filter(path: str | Path | None, modality: str) -> dict:
    """--bids-filter-file: fMRIPrep's form, {"t1w": {entity: value}, "t2w": {...}}; the entry of the
    bundle's modality narrows the query. One for the other modality, or a suffix that contradicts
    the bundle, is refused (it would select scans the bundle cannot score)."""
    if path is None:
        return {}
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path}: --bids-filter-file is not a readable JSON file ({type(exc).__name__}). Write it "
            'as {"t2w": {"session": "1"}}.'
        ) from None
    if not isinstance(spec, dict) or not all(isinstance(v, dict) for v in spec.values()):
        raise InputError(
            f'{path}: --bids-filter-file must map a scan kind to entities, e.g. {{"t2w": {{"session": "1"}}}}.'
        )
    own, other = SUFFIX[modality], SUFFIX["T2" if modality == "T1" else "T1"]
    keys = {k.lower(): k for k in spec}
    if other.lower() in keys and own.lower() not in keys:
        raise InputError(
            f"{path}: --bids-filter-file selects {other} scans, but the model bundle is {modality} "
            f'({own}). Use the {"T2" if modality == "T1" else "T1"} bundle, or filter "{own.lower()}".'
        )
    query = dict(spec.get(keys.get(own.lower(), ""), {}))
    if query.get("suffix", own) != own or query.get("datatype", "anat") != "anat":
        raise InputError(
            f"{path}: --bids-filter-file asks for {query.get('datatype', 'anat')}/"
            f"{query.get('suffix', own)} scans; the {modality} bundle scores anat/{own} only."
        )
    return {k: v for k, v in query.items() if k not in ("suffix", "datatype", "extension")}


def select_scans(
    layout, modality: str, participants: list[str] | None, sessions: list[str] | None, filters: dict
) -> list[Scan]:
    root = Path(layout.root)
    subjects = _labels(participants, layout.get_subjects(), "participant", "--participant-label", root)
    session_labels = _labels(sessions, layout.get_sessions(), "session", "--session-label", root)
    query = {"datatype": "anat", "extension": NIFTI, **filters}
    if subjects:
        query["subject"] = subjects
    if session_labels:
        query["session"] = session_labels
    try:
        files = layout.get(suffix=SUFFIX[modality], **query)
    except (ValueError, TypeError) as exc:  # an entity pybids does not know
        raise InputError(
            f"{root}: the scan filter {filters} is not a pybids query ({exc}). Use BIDS entity names "
            "(session, acquisition, run, ...)."
        ) from None
    if not files:
        other = SUFFIX["T2" if modality == "T1" else "T1"]
        others = layout.get(suffix=other, **query)
        hint = (
            f" It holds {len(others)} {other} scan(s) there: score them with the "
            f"{'T2' if modality == 'T1' else 'T1'} bundle."
            if others
            else ""
        )
        raise InputError(
            f"{root}: no {SUFFIX[modality]} scan (anat, NIfTI) for this selection, so the {modality} "
            f"bundle has nothing to score.{hint}"
        )
    scans = []
    for f in sorted(files, key=lambda f: f.path):
        entities = {k: str(v) for k, v in f.get_entities().items() if k in IDENTITY}
        scans.append(
            Scan(Path(f.path), Path(f.path).relative_to(root).as_posix(), {**entities, "suffix": SUFFIX[modality]})
        )
    return scans


def _names_scan(sidecar: Path, scan: Scan) -> bool | None:
    """Whether a derivative's sidecar says it was made from `scan` (Sources, RawSources or
    SpatialReference); None when it says nothing about its source."""
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    named = [*(meta.get("Sources") or []), *(meta.get("RawSources") or []), meta.get("SpatialReference")]
    named = [n for n in named if isinstance(n, str)]
    if not named:
        return None
    return any(n.endswith(scan.relpath) for n in named)


def match_derivative(layout, scan: Scan, desc: re.Pattern, what: str) -> Path | None:
    """The one `_mask` file of a derivatives dataset for this scan: the same identity entities,
    a desc matching `desc`; several are narrowed by their sidecars' Sources / SpatialReference
    naming the scan, then by `space-<T1w|T2w>` equal to its suffix. None when there is none."""
    query = {k: scan.entities.get(k) for k in IDENTITY}
    try:
        found = layout.get(suffix="mask", extension=NIFTI, datatype="anat", **query)
    except ValueError:
        found = []
    found = [f for f in found if desc.fullmatch(str(f.get_entities().get("desc", "")))]
    if len(found) > 1:
        said = {f.path: _names_scan(Path(re.sub(r"\.nii(\.gz)?$", ".json", f.path)), scan) for f in found}
        if any(v is not None for v in said.values()):
            found = [f for f in found if said[f.path]]
    if len(found) > 1:
        found = [f for f in found if f.get_entities().get("space") == scan.entities["suffix"]] or found
    if len(found) > 1:
        listed = ", ".join(Path(f.path).name for f in found)
        raise InputError(
            f"{scan.path}: {len(found)} {what}s fit this scan ({listed}). Give each a sidecar whose "
            "Sources names its scan, or remove the extra ones."
        )
    return Path(found[0].path) if found else None


def open_derivatives(root: str | Path, flag: str):
    return _layout(Path(root), flag, derivative=True)
