"""Open a bundle for predict: check everything, then hand out verified files.

A zip is checked from its central directory first (names, links, duplicates, declared sizes, the
manifest), then each member is copied into a private temporary folder while its bytes are counted
and hashed: a member that inflates past its declared size, or whose sha256 differs from the
manifest, stops the copy. A folder is checked the same way in place (links refused). Only then
are settings.json, the landmarks, the atlas headers and the fold list read and checked; the
weights are read later by predict through `read_checkpoint` (no code from the file runs).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from patch2loc.bundle import members as M
from patch2loc.errors import InputError
from patch2loc.registry import TRAINED
from patch2loc.checks.parsing import load_json
from patch2loc.checks.ranges import check_fold_count, check_threshold
from patch2loc.files.staging import owned_temp_folder

TEMP_NAME = "patch2loc-bundle"  # a zip's members go to TMPDIR/.patch2loc-bundle.p2l-tmp-<owner>-<random>/


@dataclass
class Fold:
    fold: int
    weights: Path
    threshold: float | None
    name: str  # the member name, for messages and summaries


@dataclass
class Bundle:
    source: Path  # what the user gave (a .zip or a folder)
    folder: Path  # the verified members
    settings: dict
    folds: list[Fold]
    _tmp: str | None = field(default=None, repr=False)

    def member(self, name: str) -> Path:
        return self.folder / name

    def landmarks(self) -> dict[str, Path]:
        """{contrast: its landmarks file}, the reference contrast first (one for a one-contrast bundle)."""
        return {c: self.member(name) for c, name in M.landmark_members(self.settings).items()}

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _zip_members(bundle: Path, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > M.MAX_MEMBERS:
        raise InputError(
            f"{bundle}: the archive lists {len(infos):,} members (a bundle has a few); {M.REFUSED}. {M.FIX}"
        )
    found: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if M.escapes(name):
            M.check_name(bundle, name)  # names the escape
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InputError(f"{bundle}: refused: the member {name!r} is a symbolic link; {M.REFUSED}. {M.FIX}")
        if name in found or name.rstrip("/") in {n.rstrip("/") for n in found}:
            raise InputError(f"{bundle}: refused: the member {name!r} appears twice; {M.REFUSED}. {M.FIX}")
        if info.is_dir() and name in M.FOLDERS:
            continue
        M.check_name(bundle, name)
        found[name] = info
    return found


def _copy_member(bundle: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, entry: dict, dest: Path) -> None:
    """Inflate one member into dest, never past its declared size, and compare its sha256."""
    digest, size = hashlib.sha256(), 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as src, open(dest, "xb") as out:
        while block := src.read(1 << 20):
            size += len(block)
            if size > entry["size"]:
                raise M.changed(bundle, info.filename)
            digest.update(block)
            out.write(block)
    if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
        raise M.changed(bundle, info.filename)


def _check_room(bundle: Path, listed: dict[str, dict], folder: str) -> None:
    """The unpacked members must fit in the temporary folder (a full disk halfway is worse)."""
    need = sum(m["size"] for m in listed.values())
    free = shutil.disk_usage(folder).free
    if need > free:
        raise InputError(
            f"{bundle}: unpacking it needs {need / M.MB:,.0f} MB, the temporary folder {folder} has "
            f"{free / M.MB:,.0f} MB free; nothing was unpacked. Set TMPDIR to a folder with more room."
        )


def _from_zip(bundle: Path) -> tuple[Path, str]:
    """Everything the zip's directory and manifest say is checked first (names, links, sizes, the
    total, the folds, the room); only then are the members inflated, one at a time, into a private
    folder owned by this process (a killed run's is removed by the next: staging.owned_temp_folder)."""
    try:
        with zipfile.ZipFile(bundle) as archive:
            found = _zip_members(bundle, archive)
            if M.MANIFEST not in found:
                raise InputError(
                    f"{bundle}: no {M.MANIFEST} in the archive, so nothing in it can be checked; {M.REFUSED}. {M.FIX}"
                )
            M.check_size(bundle, M.MANIFEST, found[M.MANIFEST].file_size)
            manifest = archive.read(M.MANIFEST)
            listed = M.parse_manifest(bundle, manifest)
            M.compare(bundle, listed, set(found))
            for name, entry in listed.items():
                if found[name].file_size != entry["size"]:
                    raise M.changed(bundle, name)
            _check_room(bundle, listed, tempfile.gettempdir())
            tmp = owned_temp_folder(Path(tempfile.gettempdir()) / TEMP_NAME)  # 0700: nobody else reads or swaps it
            try:
                for name, entry in listed.items():
                    _copy_member(bundle, archive, found[name], entry, tmp / name)
                (tmp / M.MANIFEST).write_bytes(manifest)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        raise InputError(
            f"{bundle}: cannot be read as a bundle archive ({type(exc).__name__}: "
            f"{str(exc)[:80]}); {M.REFUSED}. {M.FIX}"
        ) from None
    return tmp, str(tmp)


def _from_folder(bundle: Path) -> None:
    present = set()
    for root, dirs, files in os.walk(bundle):
        for name in [*dirs, *files]:
            path = Path(root, name)
            rel = path.relative_to(bundle).as_posix()
            if path.is_symlink():
                raise InputError(f"{bundle}: refused: {rel} is a symbolic link; {M.REFUSED}. {M.FIX}")
            if name in files:
                M.check_name(bundle, rel)
                if not path.is_file():
                    raise InputError(f"{bundle}: refused: {rel} is not a regular file; {M.REFUSED}. {M.FIX}")
                present.add(rel)
            elif rel + "/" not in M.FOLDERS:
                raise InputError(f"{bundle}: refused: the folder {rel}/ is not part of a bundle; {M.REFUSED}. {M.FIX}")
    manifest = bundle / M.MANIFEST
    if M.MANIFEST not in present:
        raise InputError(
            f"{bundle}: no {M.MANIFEST} in the folder, so nothing in it can be checked; {M.REFUSED}. {M.FIX}"
        )
    M.check_size(bundle, M.MANIFEST, manifest.stat().st_size)
    listed = M.parse_manifest(bundle, manifest.read_bytes())
    M.compare(bundle, listed, present)
    for name, entry in listed.items():
        M.check_size(bundle, name, (bundle / name).stat().st_size)
        if M.sha256_file(bundle / name) != (entry["sha256"], entry["size"]):
            raise M.changed(bundle, name)


def _settings(bundle: Path, folder: Path) -> dict:
    try:
        settings = load_json((folder / M.SETTINGS).read_bytes(), f"{bundle}: {M.SETTINGS}")
        ok = isinstance(settings, dict) and all(
            isinstance(settings.get(k), dict) for k in ("preprocess", "normalize", "heatmap")
        )
    except InputError:  # beyond the parser's bounds
        raise
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise InputError(
            f"{bundle}: {M.SETTINGS} is not a bundle's settings (preprocess, normalize, heatmap); {M.REFUSED}. {M.FIX}"
        )
    return settings


def _folds(bundle: Path, settings: dict, listed: set[str]) -> list[tuple[int, str, float | None]]:
    folds = settings.get("folds")
    check_fold_count(len(folds) if isinstance(folds, list) else 0, f"{bundle}: {M.SETTINGS}")
    try:
        out = []
        for f in folds:
            k, name, thr = f["fold"], f["weights"], f.get("threshold")
            if type(k) is not int or name != M.weights_name(k) or name not in listed:
                raise ValueError(name)
            out.append((k, name, None if thr is None else check_threshold(thr, f"{bundle}: {M.SETTINGS}")))
    except InputError as exc:
        raise InputError(f"{str(exc).rstrip('.')} (a fold's threshold); {M.REFUSED}. {M.FIX}") from None
    except (TypeError, KeyError, ValueError):
        out = []
    if not out or len({k for k, _, _ in out}) != len(out):
        raise InputError(
            f"{bundle}: {M.SETTINGS} lists no usable folds (each: fold, weights folds/fold<k>.pt in the "
            f"bundle, threshold a number or null); {M.REFUSED}. {M.FIX}"
        )
    return out


def _member_check(bundle: Path, folder: Path, check, *args) -> None:
    """A reader's check of one member, its message naming the bundle (not an unpacked copy)."""
    from patch2loc.run.chainfiles import REFIT  # numpy: not at `patch2loc --help`

    try:
        check(*args)
    except InputError as exc:
        text = str(exc).replace(f"{folder}{os.sep}", f"{bundle}:").replace(REFIT, M.FIX)
        raise InputError(text) from None


def _method_and_modality(bundle: Path, settings: dict, manifest: dict) -> dict[str, str]:
    """A trained method's bundle of T1 or T2 scans, or of a model input of several contrasts (its
    `contrasts`, each with its landmarks), the manifest and the settings agreeing; returns
    {contrast: landmarks member}."""
    method, modality = settings.get("method"), settings.get("modality")
    landmarks = M.landmark_members(settings)
    several = "contrasts" in settings
    good_name = isinstance(modality, str) and (
        modality in ("T1", "T2") if not several else modality.isalnum() and modality not in ("T1", "T2")
    )
    if method not in TRAINED or not good_name or landmarks is None:
        raise InputError(
            f"{bundle}: a bundle of method {str(method)[:40]!r}, modality {str(modality)[:10]!r}: "
            f"predict applies bundles of {' or '.join(TRAINED)} models of T1 or T2 scans, or of several "
            "of those contrasts (settings `contrasts`, each once, with its landmarks/<contrast>.npy)."
        )
    if (manifest.get("method"), manifest.get("modality")) != (method, modality):
        said = f"{str(manifest.get('method'))[:40]} {str(manifest.get('modality'))[:10]}"
        raise InputError(f"{bundle}: {M.MANIFEST} says {said}, {M.SETTINGS} {method} {modality}; {M.REFUSED}. {M.FIX}")
    return landmarks


def check_contents(bundle: Path, folder: Path) -> tuple[dict, list[Fold]]:
    """What predict reads from a bundle's verified members (settings, landmarks, atlas headers, the
    folds), checked; messages name `bundle`. Export runs the same on what it is about to write."""
    from patch2loc.checks.claims import nifti_claims  # numpy: not at `patch2loc --help`
    from patch2loc.run.chainfiles import check_chain_config, check_landmarks  # numpy: not at `patch2loc --help`

    manifest = load_json((folder / M.MANIFEST).read_bytes(), f"{bundle}: {M.MANIFEST}")
    listed = set(manifest["members"])
    for needed in (M.SETTINGS, M.ATLAS_IMAGE):
        if needed not in listed:
            raise InputError(f"{bundle}: the bundle has no {needed}; {M.REFUSED}. {M.FIX}")
    settings = _settings(bundle, folder)
    landmarks = _method_and_modality(bundle, settings, manifest)
    check_chain_config(settings, Path(f"{bundle}:{M.SETTINGS}"))  # every setting in its range (ranges.py)
    for name in landmarks.values():
        if name not in listed:
            raise InputError(f"{bundle}: the bundle has no {name}; {M.REFUSED}. {M.FIX}")
        _member_check(bundle, folder, check_landmarks, folder / name)
    _member_check(bundle, folder, nifti_claims, folder / M.ATLAS_IMAGE, "the bundle's atlas")
    if M.ATLAS_MASK in listed:
        _member_check(bundle, folder, nifti_claims, folder / M.ATLAS_MASK, "the bundle's atlas mask")
    return settings, [Fold(k, folder / name, thr, name) for k, name, thr in _folds(bundle, settings, listed)]


def open_bundle(path: str | Path) -> Bundle:
    """The checked bundle at `path` (a .zip or a folder); close() removes a zip's extracted copy."""
    from patch2loc.checks.claims import regular_file  # numpy: not at `patch2loc --help`

    bundle = Path(path)
    if bundle.is_dir():
        _from_folder(bundle)
        folder, tmp = bundle, None
    else:
        regular_file(bundle, "model bundle (--model)", "Pass the .zip (or folder) written by patch2loc export.")
        folder, tmp = _from_zip(bundle)
    try:
        settings, folds = check_contents(bundle, folder)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Bundle(bundle, folder, settings, folds, tmp)
