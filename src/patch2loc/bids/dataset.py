"""Which scans of a BIDS dataset one call scores, and their brain masks and lesion labels.

Indexed with pybids (docs/bids.md says why not ancpbids), without its metadata index (half the
time; the few sidecars we read are read directly). A scan fits the bundle when its suffix is
the bundle's modality (T1 -> T1w, T2 -> T2w) in `anat/`, NIfTI. Everything that makes a call
useless is refused here, before anything is written: a folder that is not a raw BIDS dataset, a
participant or session label that is not in it, a filter that selects the other modality, and a
selection without a single scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from patch2loc.bids import files, guard
from patch2loc.errors import InputError
from patch2loc.files.outputs import printable

SUFFIX = {"T1": "T1w", "T2": "T2w"}
NIFTI = [".nii", ".nii.gz"]
# Entities that tell two scans of one session apart; a scan's derivatives keep them (names.py).
IDENTITY = ("subject", "session", "task", "acquisition", "ceagent", "reconstruction", "run", "echo", "part", "chunk")
SHORT = dict(zip(IDENTITY, ("sub", "ses", "task", "acq", "ce", "rec", "run", "echo", "part", "chunk")))
BRAIN_DESC = re.compile("brain")  # fMRIPrep's and most tools' desc-brain_mask
INSTALL = "pip install 'patch2loc[bids]' (pybids)"


@dataclass
class Scan:
    path: Path  # the NIfTI in BIDS_DIR
    relpath: str  # relative to BIDS_DIR, with /
    entities: dict  # the IDENTITY entities it has, plus suffix
    mask: Path | None = None  # a brain mask from --mask-derivatives
    contrasts: dict = field(default_factory=dict)  # a bundle of several contrasts: {contrast: Scan} (pairs.py)

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
    if not description.exists():
        raise InputError(
            f"{root}: {what} is not a BIDS dataset (no readable dataset_description.json at its "
            "root). Give the folder that holds dataset_description.json."
        )
    desc = files.read_json(description, f"{what}'s dataset_description.json")
    kind = files.field(desc, "DatasetType", "string", description) or "raw"
    for key in ("Name", "BIDSVersion"):  # pybids reads these
        files.field(desc, key, "string", description)
    if (kind == "derivative") != derivative:
        want = "a derivatives dataset (DatasetType derivative)" if derivative else "a raw BIDS dataset"
        raise InputError(
            f"{root}: {what} must be {want}, but its dataset_description.json says DatasetType "
            f"{kind}. Give the {'derivatives' if derivative else 'raw'} dataset's folder."
        )
    guard.check_dataset_tree(root, what)
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
    spec = files.read_json(path, "--bids-filter-file")
    for kind, query in spec.items():
        files.field(spec, kind, "object", path, optional=False)
        for entity, value in query.items():
            _check_filter(path, kind, entity, value)
    own, other = SUFFIX[modality], SUFFIX["T2" if modality == "T1" else "T1"]
    keys = {k.lower(): k for k in spec}
    if len(keys) != len(spec):
        raise InputError(f"{path}: --bids-filter-file names one kind of scan twice (in other cases); name each once.")
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


# A filter names BIDS entities only: pybids' keyword options in a query (regex_search, return_type, target,
# scope, invalid_filters...) changed what it returned or ended in an SQL traceback.
FILTER_KEYS = (*IDENTITY, "suffix", "datatype", "extension")


def _check_filter(path, kind: str, entity: str, value) -> None:
    """One entity of a filter: a BIDS entity name, and a label (text, a whole number, true/false, null) or a
    non-empty list of them."""
    if entity not in FILTER_KEYS:
        raise InputError(
            f'{path}: "{kind}.{str(entity)[:40]}" is not a BIDS entity a filter may name ({", ".join(FILTER_KEYS)}). '
            'Write it as {"t2w": {"session": "1"}}.'
        )
    values = value if isinstance(value, list) else [value]
    ok = values and all(v is None or isinstance(v, (str, bool)) or type(v) is int for v in values)
    if not ok:
        raise InputError(
            f'{path}: "{kind}.{entity}" must be a label (text, a whole number, true, false or null) or a non-empty '
            f'list of them, not {str(value)[:40]}. Write it as {{"t2w": {{"session": "1"}}}}.'
        )


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
        found = layout.get(suffix=SUFFIX[modality], **query)
    except (ValueError, TypeError) as exc:  # an entity pybids does not know
        raise InputError(
            f"{root}: the scan filter {filters} is not a pybids query ({exc}). Use BIDS entity names "
            "(session, acquisition, run, ...)."
        ) from None
    if not found:
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
    scans, named = [], {}
    for f in sorted(found, key=lambda f: f.path):
        entities = {k: str(v) for k, v in f.get_entities().items() if k in IDENTITY}
        scan = Scan(Path(f.path), Path(f.path).relative_to(root).as_posix(), {**entities, "suffix": SUFFIX[modality]})
        check_name(scan)
        key = tuple(sorted(scan.entities.items()))
        if key in named:
            raise InputError(
                f"{scan.path}: the same scan entities as {named[key].path} (a .nii beside a .nii.gz?); their "
                "derivatives would share one name. Keep one of them in the dataset."
            )
        named[key] = scan
        scans.append(scan)
    return scans


def check_name(scan: Scan) -> None:
    """A scan's path must be the one its entities spell. pybids indexes `sub-02_<img src=x
    onerror=...>_T2w.nii.gz` or `sub-02_foo-x_T2w.nii.gz` as sub-02's T2w: its derivatives
    would silently replace those of sub-02_T2w, and its name would travel into the pages."""
    e = scan.entities
    stem = "_".join(f"{SHORT[k]}-{e[k]}" for k in IDENTITY if k in e)
    folder = f"sub-{e['subject']}/" + (f"ses-{e['session']}/" if "session" in e else "") + "anat/"
    want = f"{folder}{stem}_{e['suffix']}" + (".nii.gz" if scan.relpath.endswith(".gz") else ".nii")
    if scan.relpath != want:
        raise InputError(
            f"{printable(scan.path)}: not the BIDS name of a scan with these entities ({want}); its derivatives "
            "would take another scan's names. Rename it to the BIDS name, or move it out of the dataset."
        )


def _names_scan(sidecar: Path, scan: Scan) -> bool | None:
    """Whether a derivative's sidecar says it was made from `scan` (Sources, RawSources or
    SpatialReference); None when it says nothing about its source."""
    if not sidecar.exists():
        return None
    meta = files.read_json(sidecar, "the sidecar")
    named = [n for key in ("Sources", "RawSources") for n in files.field(meta, key, "list of strings", sidecar) or []]
    named += [files.field(meta, "SpatialReference", "string", sidecar) or ""]
    named = [n for n in named if n]
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
