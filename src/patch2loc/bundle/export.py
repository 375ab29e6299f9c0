"""A run's model as a bundle (the `patch2loc export` command: cli/export.py).

Everything comes from the run through `patch2loc.run.layout`: its resolved config (preprocessing,
normalisation and heatmap settings), the modality's landmarks, the atlas the run recorded, each
selected fold's best.pt of the method (Patch2Loc by default, or the DAE: any trained method of
the registry; its weights and fields, without the optimizer and RNG state that only resuming
needs) and the method's unsupervised threshold of that fold. The members are checked as predict
will check them (landmarks, chain settings, weights without running code) before anything is
written; the zip (or folder) appears at --out only when complete. Member dates are fixed, so
exporting the same run twice gives the same bytes.
"""

from __future__ import annotations

import json
import platform
import shutil
import zipfile
from pathlib import Path

from patch2loc import __version__
from patch2loc.bundle import members as M
from patch2loc.bundle.reader import check_contents
from patch2loc.errors import InputError
from patch2loc.run.layout import RunLayout
from patch2loc.registry import DEFAULT_METHOD, METHODS, implementation, require_trained
from patch2loc.files.outputs import check_output
from patch2loc.files.staging import OutputSet
from patch2loc.checks.ranges import NORMALIZE_KEYS, PREPROCESS_KEYS, check_fold_count
from patch2loc.files.staging import owned_temp_folder

# chainfiles and claims (numpy) and checkpoint (torch) are imported where used: `patch2loc --help`
# imports this module.

HEATMAP_KEYS = ("median_size", "stride", "centres")
# What only resuming a training needs: left out of the bundle's weights (a best.pt of about 140 MB
# becomes its 45 MB of weights; the network and its outputs are the same).
TRAINING_STATE = ("optimizer", "rng", "loss_rows")
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: reproducible archives
NEEDS = "patch2loc export needs a run folder (results/<run_name>) whose workflow has trained and scored the models"


def _threshold(path: Path) -> float:
    from patch2loc.run.chainfiles import read_threshold

    try:
        return read_threshold(path, "Re-run the workflow's score_healthy rule.")
    except FileNotFoundError:
        raise InputError(
            f"{path}: no unsupervised threshold for this fold. Run the workflow's score_healthy rule "
            f"for it first ({NEEDS})."
        ) from None


def collect(run: Path, modality: str, method: str, folds: list[int] | None) -> tuple[dict, dict[str, Path | dict]]:
    """(settings.json, {member name: source file, or a checkpoint dict}) of the bundle, every source
    checked."""
    from patch2loc.run.checkpoint import checkpoint_modality, read_checkpoint
    from patch2loc.checks.claims import nifti_claims, regular_file
    from patch2loc.run.chainfiles import check_chain_config, read_run_config

    require_trained(method, "--method", "export")
    layout = RunLayout(run)
    resolved = regular_file(layout.config, "the run's config", f"{NEEDS}.")
    cfg = read_run_config(resolved, ("preprocess", "normalize", "heatmap"), NEEDS)
    check_chain_config(cfg, resolved)
    sources = _landmarks(layout, cfg, modality, resolved)
    for name, path in ((M.ATLAS_IMAGE, layout.atlas_image), (M.ATLAS_MASK, layout.atlas_mask)):
        sources[name] = regular_file(
            path,
            "the run's recorded atlas",
            "Run the workflow's record_atlas rule (with this file as the snakemake target).",
        )
        nifti_claims(path, "the run's recorded atlas")
    trained = layout.fold_checkpoints(modality, method)
    wanted = folds or [int(k) for k in cfg.get("folds", sorted(trained))]
    check_fold_count(len(wanted), run)
    missing = [k for k in wanted if k not in trained]
    if missing or not wanted:
        raise InputError(
            f"{run}: no {method} {modality} best.pt for fold(s) {missing or wanted} (found "
            f"{sorted(trained)}). Train them first, or pass --folds."
        )
    fold_list = []
    for k in wanted:
        ckpt = read_checkpoint(trained[k], method=method)
        if METHODS[method].bounds:  # rebuilt from its settings: held to them as predict holds it
            implementation(method).load(str(trained[k]), "meta")  # the meta device: nothing is allocated
        trained_on = checkpoint_modality(ckpt)
        if trained_on not in (None, modality):
            raise InputError(f"{trained[k]}: trained on {trained_on}, not {modality}. Check the run folder.")
        sources[M.weights_name(k)] = {key: v for key, v in ckpt.items() if key not in TRAINING_STATE}
        fold_list.append(
            {
                "fold": k,
                "weights": M.weights_name(k),
                "threshold": _threshold(Path(layout.threshold(method, modality, f"fold{k}"))),
            }
        )
    if Path(layout.versions).is_file():
        sources[M.VERSIONS] = Path(layout.versions)
    # Only the keys the bundle's settings name (check_chain_config refused unknown preprocess and
    # normalize keys; a run's heatmap block holds more than predict reads).
    settings = {
        "method": method,
        "modality": modality,
        "run_name": str(cfg.get("run_name", run.name))[:200],
        "preprocess": {k: cfg["preprocess"][k] for k in PREPROCESS_KEYS if k in cfg["preprocess"]},
        "normalize": {k: cfg["normalize"][k] for k in NORMALIZE_KEYS if k in cfg["normalize"]},
        "heatmap": {k: cfg["heatmap"][k] for k in HEATMAP_KEYS if k in cfg["heatmap"]},
        "landmarks": M.LANDMARKS if M.LANDMARKS in sources else {c: n for n, c in _contrasts(sources).items()},
        "atlas": {"image": M.ATLAS_IMAGE, "mask": M.ATLAS_MASK},
        "folds": fold_list,
    }
    if M.LANDMARKS not in sources:  # a model of several contrasts records them, the reference first
        settings["contrasts"] = list(_contrasts(sources).values())
    return settings, sources


def _landmarks(layout: RunLayout, cfg: dict, modality: str, resolved: Path) -> dict[str, Path]:
    """{member: the run's landmarks file}: landmarks.npy for a one-contrast model (its bytes as ever),
    landmarks/<contrast>.npy for each contrast of a model of several (config `inputs`)."""
    from patch2loc.checks.claims import regular_file
    from patch2loc.run.chainfiles import check_landmarks
    from patch2loc.data.inputs import input_contrasts

    contrasts = input_contrasts(cfg, modality, f"{resolved}: `inputs`")
    names = [M.LANDMARKS] if len(contrasts) == 1 else [M.contrast_landmarks(c) for c in contrasts]
    sources = {}
    for name, contrast in zip(names, contrasts):
        sources[name] = regular_file(layout.landmarks(contrast), f"the run's {contrast} landmarks", f"{NEEDS}.")
        check_landmarks(sources[name])
    return sources


def _contrasts(sources: dict) -> dict[str, str]:
    """{landmarks member: its contrast} of a multi-contrast bundle's sources, in the input's order."""
    return {n: n.removeprefix("landmarks/").removesuffix(".npy") for n in sources if n.startswith("landmarks/")}


def _created() -> dict:
    import numpy
    import torch

    return {
        "patch2loc": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }


def _stage(folder: Path, settings: dict, sources: dict[str, Path | dict], out: Path) -> None:
    """The members written into `folder`, then checked as predict will check them (reader.check_contents),
    so that export never writes a bundle predict refuses."""
    from patch2loc.run.checkpoint import save_checkpoint

    for name, src in sources.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, dict):
            save_checkpoint(folder / name, src)
        else:
            shutil.copyfile(src, folder / name)
    (folder / M.SETTINGS).write_text(json.dumps(settings, indent=1, sort_keys=True), encoding="utf-8")
    manifest = M.make_manifest(folder, [*sources, M.SETTINGS], settings["method"], settings["modality"], _created())
    (folder / M.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    try:
        M.check_total(out, manifest["members"])
        check_contents(out, folder)
    except InputError as exc:  # the run's files passed collect's checks, but not predict's: say so
        text = str(exc).replace(f"; {M.REFUSED}. {M.FIX}", "").rstrip(".")
        raise InputError(
            f"{text}: predict would refuse this bundle, so nothing was written. Fix the run's file it comes from."
        ) from None


def _zip(folder: Path, dest: Path) -> None:
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(dest, "w") as archive:
        for name in [M.MANIFEST, *(n for n in names if n != M.MANIFEST)]:
            info = zipfile.ZipInfo(name, FIXED_DATE)
            info.external_attr = 0o644 << 16
            # weights (a zip) and NIfTI (gzip) are compressed already
            info.compress_type = zipfile.ZIP_STORED if name.endswith((".pt", ".gz")) else zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as out, open(folder / name, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)


def export_bundle(
    run: str | Path, modality: str, out: str | Path, method: str = DEFAULT_METHOD, folds: list[int] | None = None
) -> Path:
    """Write the bundle of `run`'s `modality` model to `out` (a .zip, else a folder); returns out."""
    run, out = Path(run), Path(out)
    as_zip = out.name.lower().endswith(".zip")
    if out.exists():
        raise InputError(f"{out}: --out exists; a bundle never replaces a file or folder. Choose another --out.")
    check_output(out, "--out", (".zip",) if as_zip else (), {"RUN": run}, folder=not as_zip)
    if not as_zip and Path(out).resolve().is_relative_to(run.resolve()):
        raise InputError(f"{out}: --out is inside the run folder {run}. Choose a folder outside it.")
    settings, sources = collect(run, modality, method, folds)
    with OutputSet() as outs:  # --out appears complete, or not at all (Ctrl-C included)
        if as_zip:
            staged_zip = outs.file(out)  # makes out's folder when missing
            # the members beside --out, in a folder owned by this process: a killed export's is
            # removed by the next export to the same --out (staging.remove_stale_temps)
            scratch = owned_temp_folder(out)
            try:
                _stage(scratch, settings, sources, out)
                _zip(scratch, staged_zip)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        else:
            _stage(outs.folder(out), settings, sources, out)
    return out
