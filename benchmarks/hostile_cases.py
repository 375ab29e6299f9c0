"""The cases of the hostile-input battery (benchmarks/hostile_battery.py) and their fixture.

A case is `@case(item, name)` on a function of a `Kit`: it builds its inputs under `kit.dir/in`,
runs the CLI with `kit.run`, and judges with `kit.refused` / `kit.succeeded` / `kit.find`. The
item labels the case's group ("9" = the first safety battery, "20:4" = case 4 of the second,
"20:L" = the second's LOW list, "ok" = a clean reference). Inputs are tiny and self-made: a finished run
built like tests/helpers/safety.finished_run, a preprocessed 16 x 16 x 4 case, train lists.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from hostile_files import header_only_nifti, nifti, nifti_bomb, zip_bomb_checkpoint

CASES: list = []
TEMP_MARK = ".p2l-tmp-"
REPO_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "PYTHONUTF8": "1"}


def case(item: str, name: str):
    def register(fn):
        CASES.append((item, name, fn))
        return fn

    return register


# --------------------------------------------------------------------------- fixture


def build_fixture(root: Path) -> dict:
    """Built once (about a minute) and reused: a finished run with one T1 fold and its threshold,
    the raw scan it has not seen, a preprocessed case, train lists, and the bombs."""
    marker = root / "fixture.json"
    if marker.exists():
        return _paths(json.loads(marker.read_text()))
    import torch
    from tests.helpers.safety import finished_run, make_case

    from patch2loc.methods.patch2loc.model import Patch2LocNet

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    run, scan = finished_run(root)
    fold = run / "models" / "T1" / "fold0"
    fold.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(
        {
            "model": Patch2LocNet(4).eval().state_dict(),
            "patch_size": 4,
            "modality": "T1",
            "config": {"volume_shape": [32, 32, 20], "modality": "T1"},
        },
        fold / "best.pt",
    )
    scores = run / "scores" / "Patch2Loc" / "T1" / "fold0" / "IXI"
    scores.mkdir(parents=True)
    (scores / "threshold.json").write_text(json.dumps({"threshold": 4.0}))
    c = make_case(root / "case")
    lists = root / "lists"
    rng = np.random.default_rng(0)
    x, y, _ = np.meshgrid(*[np.linspace(-1, 1, s) for s in (24, 24, 6)], indexing="ij")
    brain = (x**2 + y**2 < 0.8).astype(np.uint8)
    for i in range(3):
        nifti(lists / f"sub{i}" / "image.nii.gz", (rng.random(brain.shape) + x + 2 * y).astype(np.float32) * brain)
        nifti(lists / f"sub{i}" / "mask.nii.gz", brain)
    (lists / "train.csv").write_text(
        "image,mask\nsub0/image.nii.gz,sub0/mask.nii.gz\nsub1/image.nii.gz,sub1/mask.nii.gz\n"
    )
    (lists / "val.csv").write_text("image,mask\nsub2/image.nii.gz,sub2/mask.nii.gz\n")
    bombs = root / "bombs"
    bombs.mkdir()
    nifti_bomb(bombs / "bomb.nii.gz", (1024, 1024, 512))
    header_only_nifti(bombs / "header_only.nii.gz", (1024, 1024, 512))
    zip_bomb_checkpoint(bombs / "bomb.pt", 300_000_000)
    paths = {
        "root": root,
        "run": run,
        "raw": scan.image,
        "raw_mask": scan.mask,
        "ckpt": fold / "best.pt",
        "image": c["image"],
        "mask": c["mask"],
        "case_ckpt": c["ckpt"],
        "affine": c["affine"].tolist(),
        "lists": lists,
        "bombs": bombs,
    }
    marker.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in paths.items()}))
    return _paths(json.loads(marker.read_text()))


def _paths(d: dict) -> dict:
    return {k: (np.asarray(v) if k == "affine" else Path(v)) for k, v in d.items()}


# --------------------------------------------------------------------------- argv


def pre(k, *extra, out=None, image=None, mask=None, ckpt=None) -> list:
    """predict on the preprocessed case."""
    return [
        "predict",
        "--checkpoint",
        ckpt or k.fix["case_ckpt"],
        "--image",
        image or k.fix["image"],
        "--mask",
        mask or k.fix["mask"],
        "--out",
        out or k.dir / "out" / "h.nii.gz",
        "--device",
        "cpu",
        "--amp",
        "none",
        "--quiet",
        *extra,
    ]


def raw(k, *extra, out=None, image=None, mask="given", run=None) -> list:
    """predict --from-run on the raw scan (the run's fold models and threshold)."""
    masks = ["--mask", k.fix["raw_mask"] if mask == "given" else mask] if mask else []
    return [
        "predict",
        "--image",
        image or k.fix["raw"],
        *masks,
        "--from-run",
        run or k.fix["run"],
        "--modality",
        "T1",
        "--out",
        out or k.dir / "out" / "h.nii.gz",
        "--device",
        "cpu",
        "--amp",
        "none",
        "--quiet",
        *extra,
    ]


def train(k, *extra, out=None, train_list=None, val_list=None) -> list:
    return [
        "train",
        "--train-list",
        train_list or k.fix["lists"] / "train.csv",
        "--val-list",
        val_list or k.fix["lists"] / "val.csv",
        "--out",
        out or k.dir / "out",
        "--steps",
        "2",
        "--patches",
        "8",
        "--val-every",
        "1",
        "--device",
        "cpu",
        "--num-threads",
        "1",
        "--quiet",
        *extra,
    ]


def pre_outputs(k, stem="h", lesions=False):
    d = k.dir / "out"
    return [
        d / f"{stem}.nii.gz",
        d / f"{stem}_summary.json",
        d / f"{stem}_components.csv",
        *([d / f"{stem}_lesions.nii.gz"] if lesions else []),
    ]


def raw_outputs(k, stem="h"):
    d = k.dir / "out"
    return [
        *pre_outputs(k, stem, lesions=True),
        d / f"{stem}_native.nii.gz",
        d / f"{stem}_native_lesions.nii.gz",
        d / f"{stem}_preprocessed",
    ]


def case_image(k) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    return np.asarray(nib.load(k.fix["image"]).dataobj).astype(np.float32), k.fix["affine"]


def raw_image(k):
    import nibabel as nib

    img = nib.load(k.fix["raw"])
    return np.asarray(img.dataobj), img.affine


def wait_for(folder: Path, what, timeout: float = 300) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if folder.exists() and any(what(p) for p in folder.iterdir()):
            return True
        time.sleep(0.05)
    return False


def signal_when(folder: Path, what, sig: int, delay: float = 0.5):
    """A `signal_after` for Kit.run: send `sig` once something in `folder` satisfies `what`."""

    def send(proc):
        if wait_for(folder, what):
            time.sleep(delay)
            proc.send_signal(sig)

    return send


# --------------------------------------------------------------------------- clean references (first)


@case("ok", "clean_preprocessed")
def _(k):
    k.succeeded(k.run(pre(k, "--png", k.dir / "out" / "h.png")), [*pre_outputs(k), k.dir / "out" / "h.png"])


@case("ok", "clean_from_run")
def _(k):
    res = k.run(raw(k))
    k.succeeded(res, raw_outputs(k))
    if res.rc == 0:
        k.shared["from_run_ml"] = json.loads((k.dir / "out" / "h_summary.json").read_text())["lesion_volume_ml"]


@case("ok", "clean_train")
def _(k):
    k.succeeded(k.run(train(k)), [k.dir / "out" / n for n in ("best.pt", "last.pt", "loss.csv")], lines=20)


@case("20:L", "train_csv_relative_other_cwd")
def _(k):
    k.succeeded(k.run(train(k), cwd=k.dir / "in"), [k.dir / "out" / "last.pt"], lines=20)


# --------------------------------------------------------------------------- group "9"


def refusal(item: str, name: str, needle: str, argv, setup=None, out=None) -> None:
    """Register a case that must be refused: `setup(k)` builds inputs, `argv(k)` is the call."""

    def run(k):
        if setup is not None:
            setup(k)
        k.refused(k.run(argv(k)), needle, out=out(k) if out else None)
        if (k.dir / "witness").exists():  # see witness_pickle
            k.find("HIGH", "a pickle ran code while it was read (its witness file exists)")

    CASES.append((item, name, run))


def inp(k, name: str) -> Path:
    return k.dir / "in" / name


def with_device(k, device: str) -> list:
    argv = pre(k)
    argv[argv.index("--device") + 1] = device
    return argv


def witness_pickle(k, path: Path, **fields) -> None:
    """A torch.save file whose pickle would create `k.dir/witness` when loaded unsafely."""
    import torch

    class Payload:
        def __reduce__(self):
            return (open, (str(k.dir / "witness"), "w"))

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**fields, "payload": Payload()}, path)


def _zero_image(k):
    nifti(inp(k, "zero.nii.gz"), np.zeros((16, 16, 4), np.float32), k.fix["affine"])


def _nan_image(k):
    data, affine = case_image(k)
    data[3, 3, 1] = np.nan
    nifti(inp(k, "nan.nii.gz"), data, affine)


def _not_ours(k):
    (inp(k, "mine_preprocessed")).mkdir()
    (inp(k, "mine_preprocessed") / "notes.txt").write_text("my own work")


def _copied_run(k):
    """A run folder copied without its recorded atlas (a run records the atlas it registered to
    inside itself, so a whole copy works; a partial one must be refused)."""
    shutil.copytree(k.fix["run"], inp(k, "copy"))
    shutil.rmtree(inp(k, "copy") / "atlas")


def _truncated_resume(k):
    k.run(train(k, "--steps", "1", out=inp(k, "run")))
    last = inp(k, "run") / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])


def _other_shape_val(k):
    nifti(inp(k, "v.nii.gz"), np.random.default_rng(1).random((24, 24, 4)).astype(np.float32))
    mask = np.zeros((24, 24, 4), np.uint8)
    mask[4:20, 4:20] = 1  # a brain-like mask: an all-ones one would add its own (right) warning line
    nifti(inp(k, "vm.nii.gz"), mask)
    inp(k, "val.csv").write_text("image,mask\nv.nii.gz,vm.nii.gz\n")


NONE = lambda k: k.dir / "none"  # noqa: E731  (the refusal writes into an input folder: nothing to look at)
refusal("9", "out_is_the_image", "same file", lambda k: pre(k, out=k.fix["image"]))
refusal("9", "out_is_the_mask", "same file", lambda k: pre(k, out=k.fix["mask"]))
refusal("9", "png_is_the_image", "image.nii.gz", lambda k: pre(k, "--png", k.fix["image"]))
refusal(
    "9",
    "out_symlink_to_image",
    "same file",
    lambda k: pre(k, out=inp(k, "alias.nii.gz")),
    setup=lambda k: os.symlink(k.fix["image"], inp(k, "alias.nii.gz")),
    out=NONE,
)
refusal(
    "9",
    "out_hardlink_to_image",
    "same file",
    lambda k: pre(k, out=inp(k, "hard.nii.gz")),
    setup=lambda k: os.link(k.fix["image"], inp(k, "hard.nii.gz")),
    out=NONE,
)
refusal(
    "9",
    "crafted_pickle_checkpoint",
    "refused",
    lambda k: pre(k, ckpt=inp(k, "evil.pt")),
    setup=lambda k: witness_pickle(k, inp(k, "evil.pt"), model={}, patch_size=2),
)
refusal("9", "out_suffix_png", "must end in", lambda k: pre(k, out=k.dir / "out" / "h.png"))
refusal(
    "9",
    "out_existing_folder",
    "existing folder",
    lambda k: pre(k, out=k.dir / "out" / "d.nii.gz"),
    setup=lambda k: (k.dir / "out" / "d.nii.gz").mkdir(parents=True),
    out=lambda k: k.dir / "out" / "d.nii.gz",
)
refusal(
    "9",
    "out_parent_is_a_file",
    "not a folder",
    lambda k: pre(k, out=inp(k, "afile") / "h.nii.gz"),
    setup=lambda k: inp(k, "afile").write_text("x"),
    out=NONE,
)
refusal("9", "png_wrong_suffix", ".png", lambda k: pre(k, "--png", k.dir / "out" / "h.nii"))
refusal("9", "device_unknown", "unknown device", lambda k: with_device(k, "gpu"))
refusal("9", "device_cuda_7", "cuda", lambda k: with_device(k, "cuda:7"))
refusal(
    "9", "all_zero_preprocessed_image", "constant", lambda k: pre(k, image=inp(k, "zero.nii.gz")), setup=_zero_image
)
refusal("9", "t1_model_t2_flag", "trained on T1", lambda k: pre(k, "--modality", "T2"))
refusal("9", "image_missing", "not found", lambda k: pre(k, image=inp(k, "nope.nii.gz")))
refusal(
    "9",
    "image_corrupt",
    "bad.nii.gz",
    lambda k: pre(k, image=inp(k, "bad.nii.gz")),
    setup=lambda k: inp(k, "bad.nii.gz").write_bytes(b"not a nifti at all"),
)
refusal("9", "image_with_nan", "NaN", lambda k: pre(k, image=inp(k, "nan.nii.gz")), setup=_nan_image)
refusal(
    "9",
    "mask_other_shape",
    "shape",
    lambda k: pre(k, mask=inp(k, "m.nii.gz")),
    setup=lambda k: nifti(inp(k, "m.nii.gz"), np.ones((16, 16, 3), np.uint8), k.fix["affine"]),
)
refusal(
    "9",
    "mask_empty",
    "empty",
    lambda k: pre(k, mask=inp(k, "m.nii.gz")),
    setup=lambda k: nifti(inp(k, "m.nii.gz"), np.zeros((16, 16, 4), np.uint8), k.fix["affine"]),
)
refusal(
    "9",
    "checkpoint_text_file",
    "cannot be read",
    lambda k: pre(k, ckpt=inp(k, "m.pt")),
    setup=lambda k: inp(k, "m.pt").write_text("hello"),
)
refusal("9", "checkpoint_missing", "not found", lambda k: pre(k, ckpt=inp(k, "none.pt")))
refusal(
    "9",
    "from_run_folder_not_ours",
    "something other than patch2loc",
    lambda k: raw(k, out=inp(k, "mine.nii.gz")),
    setup=_not_ours,
    out=NONE,
)
refusal(
    "9",
    "from_run_corrupt_checkpoint",
    "cannot be read",
    lambda k: raw(k, "--checkpoint", inp(k, "bad.pt")),
    setup=lambda k: inp(k, "bad.pt").write_bytes(b"\x80\x04garbage"),
)
refusal("9", "from_run_copied_without_atlas", "atlas", lambda k: raw(k, run=inp(k, "copy")), setup=_copied_run)
refusal(
    "9",
    "train_truncated_last_pt",
    "resume state",
    lambda k: train(k, out=inp(k, "run")),
    setup=_truncated_resume,
    out=NONE,
)
refusal(
    "9",
    "train_crafted_last_pt",
    "refused",
    lambda k: train(k, out=inp(k, "run")),
    setup=lambda k: witness_pickle(k, inp(k, "run") / "last.pt", model={}, patch_size=3),
    out=NONE,
)
refusal(
    "9",
    "train_empty_mask_cell",
    "empty 'mask' cell",
    lambda k: train(k, train_list=inp(k, "t.csv")),
    setup=lambda k: inp(k, "t.csv").write_text(f"image,mask\n{k.fix['lists'] / 'sub0' / 'image.nii.gz'},\n"),
)
refusal("9", "train_patches_1", "--patches", lambda k: train(k, "--patches", "1"))
refusal("9", "train_out_is_the_csv", "not a folder", lambda k: train(k, out=k.fix["lists"] / "train.csv"), out=NONE)
refusal(
    "9",
    "train_val_other_shape",
    "validation volume",
    lambda k: train(k, val_list=inp(k, "val.csv")),
    setup=_other_shape_val,
)


@case("9", "from_run_no_mask_no_hdbet")
def _(k):
    k.refused(k.run(raw(k, mask=None), env={"PATH": "/usr/bin:/bin"}), "HD-BET")
