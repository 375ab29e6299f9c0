"""Crafted files and library entry points of the hostile tests of the later surfaces.

The entry points (`native_label_counts`, `validate_override`, `dae_settings`) are what a
child runs with `entry_call.py --call module:function JSON`: each calls the library as the workflow
or predict does and writes what it found to out/result.json (the runner's checks read it), or raises the
library's InputError (exit 2, one line). They import nothing but patch2loc, numpy, nibabel and yaml.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

# ------------------------------------------------------------------------------------- entry points


def native_label_counts(image: str, seg: str, out: str) -> None:
    """The native-space scoring's reading of a label file: voxels of each label, WMH's truth, and the
    lesion-wise count of components (evaluation.dataset.scan_grid, lesionwise.volume)."""
    from patch2loc.evaluation.lesionwise.volume import lesion_metrics
    from patch2loc.evaluation.challenges import isles22
    from patch2loc.evaluation.dataset.scan_grid import native_labels

    labels = native_labels(image, seg)
    truth, _ = isles22.truths(labels)[""]  # every label > 0 is lesion
    metrics, _ = lesion_metrics(truth, truth, (1.0, 1.0, 1.0))
    result = {"lesion_voxels": int(truth.sum()), "lesions": int(metrics["lesions"]), "min": int(labels.min())}
    Path(out, "result.json").write_text(json.dumps(result))


def validate_override(config: str, key: str, value, overlay: str | None = None) -> None:
    """What rules/common.smk does with `snakemake --configfile CONFIG --config KEY=VALUE`: the schema's and
    the method blocks' rules' verdict."""
    from snakemake.utils import validate

    from patch2loc.errors import InputError
    from patch2loc.training.blockbounds import check_method_blocks
    from patch2loc.run.configfiles import load

    cfg = load([config, overlay] if overlay else [config])
    *parents, last = key.split(".")
    node = cfg
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    schema = Path(config).with_name("schema.yaml")
    try:
        validate(cfg, str(schema))
        check_method_blocks(cfg)  # the method blocks' bounds (their methods' RULES)
    except Exception as exc:  # snakemake's WorkflowError: the schema's verdict
        raise InputError(f"{config}: --config {key}={value}: " + " ".join(str(exc).split())[:200]) from None


def dae_settings(noise_cell_mm: float) -> None:
    """The workflow's `dae:` block as its training reads it (DAEConfig)."""
    from patch2loc.methods.dae.train import DAEConfig

    DAEConfig(steps=2, batch_size=2, lr=1e-3, width=4, noise_cell_mm=noise_cell_mm)


# ------------------------------------------------------------------------------------- crafted files


def nifti(path: Path, data: np.ndarray, affine=None, qform=None) -> Path:
    import nibabel as nib

    img = nib.Nifti1Image(data, np.eye(4) if affine is None else affine, dtype=data.dtype)
    if qform is not None:
        img.set_qform(qform)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path


def labels_of(kind: str, shape=(24, 20, 12)) -> np.ndarray:
    """A label volume: a 4 x 4 x 3 lesion of `kind`'s value (and type), or 10^5 isolated voxels."""
    if kind == "components":  # every other voxel of a 100 x 100 x 80 grid: 10^5 lesions
        out = np.zeros((100, 100, 80), np.uint8)
        out[::2, ::2, ::2] = 1
        return out
    value, dtype = {
        "uint8": (1, np.uint8),
        "uint32_40000": (40_000, np.uint32),
        "float_half": (0.5, np.float32),
        "float_one_and_half": (1.5, np.float32),
        "negative": (-3, np.int16),
    }[kind]
    out = np.zeros(shape, dtype)
    out[5:9, 5:9, 4:7] = value
    return out


def sparse(path: Path, head: bytes, size: int) -> Path:
    """A file of `size` bytes that is `head` then a hole (nothing on disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def zip_declaring(path: Path, sizes: dict[str, int]) -> Path:
    """A zip whose members {name: size} inflate to that many zero bytes (a few kB per GB on disk)."""
    from tests.helpers.hostile import zip_with_inflating_members

    zip_with_inflating_members(path, {}, sizes)
    return path


def anatomy_maps(path: Path, nan: bool = False) -> Path:
    """Cached maps of a fetched anatomy on the MNI152 grid as the derivation writes them (NaN intensities)."""
    from patch2loc.synth.anatomies import anatomy_1mm

    ref = anatomy_1mm("mni152")
    t1 = np.where(ref.brain, np.float16("nan") if nan else np.float16(0.5), 0).astype(np.float16)
    gm = np.where(ref.brain, 120, 0).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, affine=ref.affine, t1=t1, brain=ref.brain, gm=gm, wm=gm)
    return path


def edit_npz(path: Path, **arrays) -> None:
    z = dict(np.load(path))
    z.update(arrays)
    np.savez(path, **z)


def rewrite_zip(path: Path, change) -> None:
    """Apply change({name: bytes}) to a bundle's members and rehash its manifest (tests/helpers/bundle.rewrite)."""
    from tests.helpers.bundle import rewrite

    rewrite(path, change, rehash=True)


def fold_config(data: bytes, **changes) -> bytes:
    import io

    import torch

    ckpt = torch.load(io.BytesIO(data), weights_only=True)
    ckpt["config"].update(changes)
    out = io.BytesIO()
    torch.save(ckpt, out)
    return out.getvalue()


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path
