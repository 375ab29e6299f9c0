"""Hostile evaluation inputs (native-space labels, predict --seg) and the cross-fitted tuning's files
(rule merge_score_shards), each case run in a child process through its real entry point
(tests/helpers/hostile_child.py's judge); the caches, settings, bias table and atlas are in
tests/synth/test_battery_caches_and_settings.py. Each surface has its control (expect 0); `check`
holds a run that succeeds to the numbers it must give. Slow: `make test-hostile`."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile_child_fixture import Case, call
from tests.helpers.hostile_surface_files import edit_npz, fifo, labels_of, nifti, zip_declaring
from tests.helpers.hostile_surface_fixture import CLI, FILES, JOB, Checked, script_argv

pytestmark = pytest.mark.hostile

# ------------------------------------------------------------------------- labels and --seg


def _labels(kind: str):
    def build(fix, folder):
        labels = labels_of(kind) if kind != "bytes" else labels_of("uint8")
        image = nifti(folder / "in" / "image.nii.gz", np.random.default_rng(0).random(labels.shape).astype(np.float32))
        seg = folder / "in" / "seg.nii.gz"
        if kind == "bytes":
            seg.write_bytes(os.urandom(4096))
        else:
            nifti(seg, labels)
        return call(f"{FILES}:native_label_counts", image=str(image), seg=str(seg), out=str(folder / "out"))

    return build


def _result(folder: Path, **want) -> str | None:
    path = folder / "out" / "result.json"
    got = json.loads(path.read_text()) if path.exists() else {}
    wrong = {k: got.get(k) for k, v in want.items() if got.get(k) != v}
    return f"result {wrong}, expected {want}" if wrong else None


def _seg(value: float, where=(slice(6, 10), slice(6, 10), slice(1, 3))):
    """predict --seg of `value` at `where` (a lesion; () for none; a whole axial slice)."""

    def build(fix, folder):
        from tests.helpers.safety import SHAPE, make_case, predict_argv

        case = make_case(folder / "in")
        seg = np.zeros(SHAPE, np.float32)
        if where:
            seg[where] = value
        nifti(folder / "in" / "seg.nii.gz", seg, case["affine"])
        argv = predict_argv(case, folder / "out" / "h.nii.gz", "--seg", str(folder / "in" / "seg.nii.gz"))
        return [*CLI, *argv, "--threshold", "0.5"]

    return build


# ------------------------------------------------------------------------- the tuning's files


def _shards(folder: Path) -> dict:
    """Two scoring shards of two volumes each, as score_lesions writes them, and the set's tuning split."""
    from patch2loc.evaluation.dataset.pooled import write_pooled
    from patch2loc.evaluation.dataset.tuned_dice import write_tuning
    from patch2loc.scoring import steps, tuning

    rng, files = (
        np.random.default_rng(0),
        {k: [] for k in ("metrics", "lesions", "patches", "pooled", "tuning", "heatmaps")},
    )
    for shard in (0, 1):
        d = folder / "in" / f"shard{shard}"
        (d / "heatmaps").mkdir(parents=True)
        entries, hists = [], []
        for i in range(2):
            truth = np.zeros((10, 10, 6), bool)
            truth[3:6, 3:6, 2:4] = True
            score = (rng.normal(0, 1, truth.shape) + 3 * truth).astype(np.float32)
            entries.append({"subject": f"s{2 * shard + i}", "shared": tuning.code_histogram(score, truth), "ref": None})
            hists.append(steps.score_histogram(score, truth))
        (d / "metrics.csv").write_text("subject,auprc\n" + "".join(f"{e['subject']},0.5\n" for e in entries))
        (d / "lesions.csv").write_text("subject,lesion\n")
        (d / "patches.csv.gz").write_bytes(gzip.compress(b"subject,x\n"))
        write_pooled(d / "pooled.npz", steps.merge_histograms(hists), {"method": "DAE", "shard": str(shard)})
        write_tuning(d / "tuning.npz", entries)
        names = {"metrics": "metrics.csv", "lesions": "lesions.csv", "patches": "patches.csv.gz", "pooled": "pooled.npz",
                 "tuning": "tuning.npz", "heatmaps": "heatmaps"}  # fmt: skip
        for key, name in names.items():
            files[key].append(str(d / name))
    (folder / "in" / "splits").mkdir()
    val = folder / "in" / "splits" / "WMH_val.csv"
    val.write_text("subject_id,tuning_fold\ns0,0\ns1,1\ns2,0\ns3,1\n")
    return {**files, "tuning_folds": [str(val)]}


def _merge(edit=None):
    def build(fix, folder):
        inputs = _shards(folder)
        if edit is not None:
            edit(folder, inputs)
        out = folder / "out"
        outputs = {k: str(out / n) for k, n in (("metrics", "metrics.csv"), ("lesions", "lesions.csv"),
                   ("patches", "patches.csv.gz"), ("pooled", "pooled.npz"), ("heatmaps", "heatmaps"))}  # fmt: skip
        return script_argv(folder, "merge_score_shards.py", rule="merge_score_shards", input=inputs, output=outputs,
                           wildcards={"dataset": "WMH"})  # fmt: skip

    return build


def _tuned_dice(folder: Path) -> str | None:
    import pandas as pd

    dice = pd.read_csv(folder / "out" / "metrics.csv")["dice_val"]
    return None if dice.notna().all() and dice.between(0, 1).all() else f"dice_val {dice.tolist()}"


def _negative(folder, inputs):
    z = np.load(inputs["tuning"][0])
    edit_npz(Path(inputs["tuning"][0]), shared_other=-z["shared_other"])


def _truncated(folder, inputs):
    path = Path(inputs["tuning"][0])
    path.write_bytes(path.read_bytes()[:200])


def _declares(folder, inputs):
    zip_declaring(Path(inputs["tuning"][1]), {"subjects.npy": 3 << 30, "shared_codes.npy": 3 << 30})


def _fifo(folder, inputs):
    Path(inputs["tuning"][0]).unlink()
    fifo(Path(inputs["tuning"][0]))


def _twice(folder, inputs):
    Path(inputs["tuning_folds"][0]).write_text("subject_id,tuning_fold\ns0,0\ns1,1\ns2,0\ns3,1\ns0,1\n")


def _two_shards(folder, inputs):
    shutil.copy(inputs["tuning"][0], inputs["tuning"][1])


def _meta(folder, inputs):
    edit_npz(Path(inputs["pooled"][1]), meta=np.array("[1, 2]"))


# torch's compiled kernels (the lesion-wise components) cache into TMPDIR unless told otherwise
LABELS = {"env": {"TORCHINDUCTOR_CACHE_DIR": "out/inductor"}}


def _scored_labels(name: str, kind: str, **expected) -> Checked:
    """A label image of `kind` the metrics take (exit 0), with the result `expected` (_result's keys)."""
    return Checked(name, "labels", _labels(kind), expect=0, check=lambda d: _result(d, **expected), **LABELS)


CASES = [
    _scored_labels("label_control", "uint8", lesion_voxels=48),
    _scored_labels("label_uint32_40000", "uint32_40000", lesion_voxels=48),
    Case("label_float_half", "labels", _labels("float_half"), needle="whole numbers"),
    Case("label_float_one_and_half", "labels", _labels("float_one_and_half"), needle="whole numbers"),
    Case("label_negative", "labels", _labels("negative"), needle="-3"),
    Case("label_random_bytes", "labels", _labels("bytes"), needle="seg.nii.gz"),
    _scored_labels("label_1e5_components", "components", lesions=100_000),
    Case("seg_control", "labels", _seg(1.0), expect=0),
    Case("seg_float_half", "labels", _seg(0.5), needle="whole numbers"),
    Case("seg_empty", "labels", _seg(1.0, ()), expect=0),
    Case("seg_whole_slice", "labels", _seg(1.0, (slice(None), slice(None), 2)), expect=0),
    Checked("tuning_control", "tuning", _merge(), expect=0, check=_tuned_dice, **JOB),
    Case("tuning_negative_counts", "tuning", _merge(_negative), needle="voxel counts", **JOB),
    Case("tuning_truncated", "tuning", _merge(_truncated), needle="tuning.npz", **JOB),
    Case("tuning_declares_6gb", "tuning", _merge(_declares), needle="memory budget", **JOB),
    Case("tuning_fifo", "tuning", _merge(_fifo), needle="FIFO", timeout=60, **JOB),
    Case("tuning_val_subject_twice", "tuning", _merge(_twice), needle="twice", **JOB),
    Case("tuning_subject_in_two_shards", "tuning", _merge(_two_shards), needle="too", **JOB),
    Case("pooled_meta_not_object", "tuning", _merge(_meta), needle="meta", **JOB),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_passes(case, hostile_entry):
    """A refusal: exit 2, one line naming the file and the fix, nothing written or left, inputs unchanged, under 1.5 GB; a control or an accepted input: exit 0, and its check of the numbers holds."""
    hostile_entry.check(case, CASES, timeout=180.0)
