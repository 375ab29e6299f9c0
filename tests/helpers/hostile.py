"""Shared by the hostile-input tests: hostile files, and the CLI in a child process with its peak memory."""

from __future__ import annotations

import functools
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

import patch2loc

SRC = str(Path(patch2loc.__file__).resolve().parents[1])
# The CLI runs in a grandchild: the wrapper's RUSAGE_CHILDREN then holds the CLI's peak memory
# only (the test process's own RUSAGE_CHILDREN is the maximum over every child it ever had).
_WRAPPER = (
    "import json, resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True, "
    "timeout=300); print(json.dumps({'rc': p.returncode, 'err': p.stderr, "
    "'peak_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
)


def cli_in_child(argv: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[int, list[str], float]:
    """Run `patch2loc <argv>` in a child process; returns (exit code, stderr lines, peak RSS in MB)."""
    environ = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "patch2loc.cli", *argv],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=400,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["rc"], result["err"].strip().splitlines(), result["peak_kb"] / 1024  # Linux: ru_maxrss in kB


# A refused file may cost what a good one costs, not more. The ceiling is the peak of the same
# command on a tiny good input plus a margin, not a fixed number: ru_maxrss counts the resident
# pages of torch's CUDA libraries, 0.8-1.1 GB for the same command from one run to the next (a
# fixed 1 GB failed CI on 2026-11-24). The bombs claim 2.75 GB and more (one read: 4.1 GB).
MARGIN_MB = 512


@functools.lru_cache(maxsize=1)
def good_input_peak_mb() -> float:
    """Peak memory (MB) of `patch2loc predict` scoring helpers.safety's tiny good case."""
    from tests.helpers.safety import make_case, predict_argv

    with tempfile.TemporaryDirectory() as tmp:
        case = make_case(Path(tmp) / "in")
        rc, err, peak_mb = cli_in_child(predict_argv(case, Path(tmp) / "out" / "h.nii.gz"))
    assert rc == 0, err
    return peak_mb


def assert_nothing_allocated(peak_mb: float) -> None:
    ceiling = good_input_peak_mb() + MARGIN_MB
    assert peak_mb < ceiling, (
        f"peak memory {peak_mb:.0f} MB, above {ceiling:.0f} MB (a good tiny input's + {MARGIN_MB})"
    )


# A refusal's peak must also stay under 1.5 GB outright. It holds here because the header
# checks refuse before any model is loaded (no torch import: about 0.2-0.4 GB); the relative
# ceiling above is kept as well.
ABSOLUTE_MB = 1536


def refused_in_child(argv: list[str], needle: str, watched: Path, env: dict | None = None) -> tuple[str, float]:
    """Run the CLI in a child with TMPDIR = watched/tmp; assert exit 2, one stderr line with
    `needle` and no traceback, `watched` unchanged (nothing written, TMPDIR left empty), and the
    peak memory within both ceilings. Returns (the line, the peak in MB)."""
    from tests.helpers.safety import snapshot

    (watched / "tmp").mkdir(exist_ok=True)
    before = snapshot(watched)
    rc, err, peak_mb = cli_in_child(argv, {"TMPDIR": str(watched / "tmp"), **(env or {})})
    assert rc == 2, (rc, err)
    assert len(err) == 1 and "Traceback" not in err[0] and needle in err[0], err
    assert snapshot(watched) == before  # nothing created, changed or removed
    assert peak_mb < ABSOLUTE_MB, f"peak memory {peak_mb:.0f} MB, above {ABSOLUTE_MB} MB"
    assert_nothing_allocated(peak_mb)
    return err[0], peak_mb


def zip_with_inflating_members(path: Path, members: dict[str, bytes], zeros: dict[str, int]) -> None:
    """A zip of `members` (stored) plus, for each name in `zeros`, a member that inflates to that
    many zero bytes (deflated by hand: a few kB per GB on disk). zipfile cannot store a member
    compressed beforehand, so the records are written here."""
    import io
    import struct
    import zlib

    chunk = bytes(16 << 20)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)  # history-free: can be repeated
    out, central, count = io.BytesIO(), io.BytesIO(), 0
    entries = [(name, data, 0, len(data), zlib.crc32(data), data) for name, data in members.items()]
    for name, size in zeros.items():
        assert size % len(chunk) == 0
        crc = 0
        for _ in range(size // len(chunk)):
            crc = zlib.crc32(chunk, crc)
        entries.append((name, None, 8, size, crc, block * (size // len(chunk)) + b"\x03\x00"))
    for name, _, method, size, crc, payload in entries:
        offset = out.tell()
        fields = struct.pack("<HHHHHIII", 20, 0, method, 0, 0, crc, len(payload), size)
        out.write(b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name.encode() + payload)
        central.write(
            b"PK\x01\x02"
            + struct.pack("<H", 20)
            + fields
            + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, offset)
            + name.encode()
        )
        count += 1
    start = out.tell()
    out.write(central.getvalue())
    out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, len(central.getvalue()), start, 0))
    path.write_bytes(out.getvalue())


def zeros_sha256(size: int) -> str:
    import hashlib

    digest, chunk = hashlib.sha256(), bytes(16 << 20)
    for _ in range(size // len(chunk)):
        digest.update(chunk)
    return digest.hexdigest()


def nifti_header(shape, dtype=np.float32, zooms=(1.0, 1.0, 1.0), affine=None) -> bytes:
    """The 352 bytes that start a .nii file (header + empty extension flag) claiming `shape`."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header.set_zooms(tuple(zooms)[: len(shape)])
    if affine is not None:
        header.set_sform(affine, code=1)
        header.set_qform(affine, code=1)
    header["vox_offset"] = 352
    return header.binaryblock + b"\0" * 4


def write_nii_gz(path: Path, head: bytes, body_zeros: int = 0) -> Path:
    """A .nii.gz of `head` and `body_zeros` zero bytes (a bomb when the header claims far more)."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(head)
        chunk = bytes(1 << 20)
        for start in range(0, body_zeros, len(chunk)):
            f.write(chunk[: min(len(chunk), body_zeros - start)])
    return path


def fake_run(workdir: Path) -> Path:
    """A run folder that passes RunChain.open (config, T1 landmarks, an atlas file) but whose
    atlas has an empty brain: any test that gets as far as preprocessing fails loudly."""
    from tests.helpers.safety import placeholder_atlas

    run = workdir / "results" / "r"
    (run / "landmarks").mkdir(parents=True)
    np.save(run / "landmarks" / "T1.npy", np.vstack([np.linspace(1, 100, 11), [1, *range(10, 100, 10), 99]]))
    placeholder_atlas(run / "atlas" / "image.nii.gz")  # layout.atlas_image: an empty brain, preprocessing fails
    cfg = {
        "preprocess": {"spacing": [6.0, 6.0, 6.0], "target_shape": [16, 16, 4]},
        "normalize": {"percentile": 98},
        "heatmap": {"median_size": 3},
    }
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
    return run


def write_dicom_series(img, folder: Path, extra_tags: dict | None = None) -> list[Path]:
    """`img` (SimpleITK, 3D) as one DICOM file per axial slice in `folder`, int16, with the tags
    GDCM needs to order the slices and place the series (position, orientation, spacing)."""
    import SimpleITK as sitk

    img = sitk.Cast(img, sitk.sitkInt16)
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    d = img.GetDirection()
    tags = {
        "0008|0060": "MR",
        "0020|000d": "1.2.826.0.1.3680043.2.1125.1",
        "0020|000e": "1.2.826.0.1.3680043.2.1125.2",
        "0020|0037": "\\".join(f"{v:.10f}" for v in (d[0], d[3], d[6], d[1], d[4], d[7])),
        "0028|0030": f"{img.GetSpacing()[1]:.10f}\\{img.GetSpacing()[0]:.10f}",
        "0018|0050": f"{img.GetSpacing()[2]:.10f}",
        **(extra_tags or {}),
    }
    files = []
    for z in range(img.GetDepth()):
        sl = img[:, :, z]
        for tag, value in tags.items():
            sl.SetMetaData(tag, value)
        sl.SetMetaData("0020|0032", "\\".join(f"{v:.10f}" for v in img.TransformIndexToPhysicalPoint((0, 0, z))))
        sl.SetMetaData("0020|0013", str(z + 1))
        files.append(folder / f"{z:03d}.dcm")
        writer.SetFileName(str(files[-1]))
        writer.Execute(sl)
    return files


def run_with_model(base: Path):
    """helpers.safety.finished_run plus a T1 checkpoint for its grid at base/m.pt (about 30 s)."""
    import torch
    from tests.helpers.checkpoints import NORMALISED, as_written
    from tests.helpers.safety import finished_run

    from patch2loc.methods.patch2loc.model import Patch2LocNet

    run, scan = finished_run(base)
    torch.manual_seed(0)
    ckpt = {"model": Patch2LocNet(4).eval().state_dict(), "patch_size": 4, "config": {"intensity_range": NORMALISED}}
    torch.save(as_written(ckpt, grid=(32, 32, 20)), base / "m.pt")
    return base, run, scan
