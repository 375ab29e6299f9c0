"""The names a bundle may hold, their size limits, and the manifest that lists them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from patch2loc.checks import archive_budget
from patch2loc.checks.limits import BUNDLE_ENV, CHECKPOINT_ENV, IMAGE_ENV, MB, limit_bytes
from patch2loc.checks.parsing import load_json
from patch2loc.checks.ranges import check_fold_count
from patch2loc.errors import InputError

FORMAT = "patch2loc-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SETTINGS = "settings.json"
LANDMARKS = "landmarks.npy"
ATLAS_IMAGE, ATLAS_MASK = "atlas/image.nii.gz", "atlas/mask.nii.gz"
VERSIONS = "versions.txt"
FOLDERS = ("atlas/", "folds/", "landmarks/")  # folder entries a re-zipped bundle may carry (nothing is made of them)
NAME = re.compile(
    r"(manifest\.json|settings\.json|landmarks\.npy|landmarks/[A-Za-z0-9]{1,16}\.npy|versions\.txt|atlas/(image|mask)\.nii\.gz"
    r"|folds/fold\d{1,2}\.pt)"
)
SMALL = 1 * MB  # json, npy and text members
MAX_MEMBERS = 2 * 100 + 8  # folds 0-99 and the fixed members, with room for folder entries
REFUSED = "nothing from it was used"
FIX = "Export the bundle again from the run (patch2loc export), or ask its author for an intact copy."


def contrast_landmarks(contrast: str) -> str:
    """A multi-contrast bundle's landmarks of one contrast (a one-contrast bundle has LANDMARKS)."""
    return f"landmarks/{contrast}.npy"


def landmark_members(settings: dict) -> dict[str, str] | None:
    """{contrast: its landmarks member} of a bundle's settings, the reference contrast first; None
    when `contrasts` and `landmarks` disagree. A one-contrast bundle: {modality: LANDMARKS}."""
    contrasts = settings.get("contrasts")
    if contrasts is None:
        return {settings.get("modality"): LANDMARKS}
    from patch2loc.data.inputs import CONTRASTS  # numpy (data.layouts): not at `patch2loc --help`

    # contrasts the workflow trains (data.inputs): another name (FLAIR) has no chain, no BIDS suffix
    named = isinstance(contrasts, list) and all(isinstance(c, str) and c in CONTRASTS for c in contrasts)
    if not named or len(set(contrasts)) != len(contrasts) or len(contrasts) < 2:
        return None
    members = {c: contrast_landmarks(c) for c in contrasts}
    return members if settings.get("landmarks") == members else None


def weights_name(fold: int) -> str:
    return f"folds/fold{fold}.pt"


def escapes(name: str) -> bool:
    """A member name that could land outside the extraction folder (absolute, .., a drive, \\)."""
    parts = name.split("/")
    return name.startswith("/") or "\\" in name or ".." in parts or bool(re.match(r"[A-Za-z]:", name)) or "\0" in name


def size_limit(name: str) -> int:
    """The most bytes a member may hold: a checkpoint's limit for weights, an image's for the
    atlas (limits.py, PATCH2LOC_MAX_CHECKPOINT_MB and PATCH2LOC_MAX_IMAGE_MB), 1 MB for the rest."""
    if name.endswith(".pt"):
        return limit_bytes(CHECKPOINT_ENV)
    if name.endswith(".nii.gz"):
        return limit_bytes(IMAGE_ENV)
    return SMALL


def check_name(bundle: Path, name: str) -> None:
    if escapes(name):
        raise InputError(
            f"{bundle}: refused: the member {name!r} would be written outside the bundle's folder "
            f"(absolute path or '..'); {REFUSED}. {FIX}"
        )
    if not NAME.fullmatch(name):
        raise InputError(
            f"{bundle}: refused: {name!r} is not a member a bundle holds (manifest.json, "
            f"settings.json, landmarks.npy, versions.txt, atlas/, folds/fold<k>.pt); {REFUSED}. {FIX}"
        )


def check_size(bundle: Path, name: str, size: int) -> None:
    how = (
        f"If it is real, raise the limit ({CHECKPOINT_ENV} or {IMAGE_ENV}); otherwise the bundle is corrupt or crafted."
    )
    archive_budget.check_member(bundle, name, size, size_limit(name), REFUSED, how)


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def make_manifest(folder: Path, names: list[str], method: str, modality: str, created: dict) -> dict:
    members = {}
    for name in sorted(names):
        sha, size = sha256_file(folder / name)
        members[name] = {"sha256": sha, "size": size}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "method": method,
        "modality": modality,
        "created_by": created,
        "members": members,
    }


def parse_manifest(bundle: Path, text: bytes) -> dict[str, dict]:
    """manifest.json -> {name: {sha256, size}}; one line naming the problem otherwise."""
    try:
        manifest = load_json(text, f"{bundle}: {MANIFEST}")
        members = manifest["members"]
        ok = (
            manifest.get("format") == FORMAT
            and isinstance(members, dict)
            and all(
                isinstance(m, dict)
                and isinstance(m.get("sha256"), str)
                and re.fullmatch(r"[0-9a-f]{64}", m["sha256"])
                and type(m.get("size")) is int
                and m["size"] >= 0
                for m in members.values()
            )
        )
    except InputError:  # beyond the parser's bounds
        raise
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise InputError(
            f"{bundle}: {MANIFEST} is not a patch2loc bundle manifest (format {FORMAT!r}, members with "
            f"sha256 and size); {REFUSED}. {FIX}"
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{bundle}: bundle format version {manifest.get('format_version')!r}; this patch2loc reads "
            f"version {FORMAT_VERSION}. Export the bundle with this version of patch2loc."
        )
    for name, member in members.items():
        check_name(bundle, name)
        if name == MANIFEST:
            raise InputError(f"{bundle}: {MANIFEST} lists itself; {REFUSED}. {FIX}")
        check_size(bundle, name, member["size"])
    check_total(bundle, members)
    return members


def check_total(bundle: Path, members: dict[str, dict]) -> None:
    """The folds and the total size of what would be unpacked, bounded before anything is written."""
    check_fold_count(sum(name.startswith("folds/") for name in members), f"{bundle}: {MANIFEST}")
    how = f"If it is real, raise the limit ({BUNDLE_ENV}); otherwise the bundle is corrupt or crafted."
    total = sum(m["size"] for m in members.values())
    archive_budget.check_total(bundle, total, limit_bytes(BUNDLE_ENV), f"{REFUSED}, nothing was unpacked", how)


def compare(bundle: Path, listed: dict[str, dict], present: set[str]) -> None:
    """The bundle's members are exactly the manifest's (manifest.json aside)."""
    extra = sorted(present - set(listed) - {MANIFEST})
    missing = sorted(set(listed) - present)
    if extra:
        raise InputError(f"{bundle}: refused: {extra[0]} is not in the manifest (an added member); {REFUSED}. {FIX}")
    if missing:
        raise InputError(
            f"{bundle}: refused: the manifest lists {missing[0]}, which the bundle lacks; {REFUSED}. {FIX}"
        )


def changed(bundle: Path, name: str) -> InputError:
    return InputError(
        f"{bundle}: refused: {name} differs from its manifest entry (sha256 or size: changed or "
        f"tampered with); {REFUSED}. {FIX}"
    )
