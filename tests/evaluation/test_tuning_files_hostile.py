"""The cross-fitted tuning's files as merge_score_shards reads them, crafted: every shard's tuning.npz and
pooled.npz, and the split's <set>_val.csv. A file that is not what a scoring job writes is one line
naming it (InputError), the merged metrics untouched; a well-formed one can never give a Dice above 1."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pandas as pd
import pytest

from patch2loc.data.subjects import tuning_folds
from patch2loc.errors import InputError
from patch2loc.evaluation.dataset import pooled as P
from patch2loc.evaluation.dataset import tuned_dice as T
from patch2loc.scoring import steps, tuning


def _entries(n: int = 4, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        truth = np.zeros((8, 8, 6), bool)
        truth[2:5, 2:5, 2:4] = True
        score = rng.normal(0, 1, truth.shape).astype(np.float32) + (2 + i) * truth
        out.append({"subject": f"s{i}", "shared": tuning.code_histogram(score, truth), "ref": None})
    return out


def _shards(folder, entries=None) -> tuple[list, object]:
    """Two shards' tuning files and the merged metrics csv they belong to."""
    entries = entries or _entries()
    T.write_tuning(folder / "a.npz", entries[:2])
    T.write_tuning(folder / "b.npz", entries[2:])
    metrics = folder / "metrics.csv"
    pd.DataFrame({"subject": [e["subject"] for e in entries], "dice": 0.5}).to_csv(metrics, index=False)
    return [folder / "a.npz", folder / "b.npz"], metrics


FOLDS = {"s0": 0, "s1": 1, "s2": 0, "s3": 1}


def _edited(path, **arrays) -> None:
    z = dict(np.load(path))
    z.update(arrays)
    for name in [k for k, v in arrays.items() if v is None]:
        del z[name]
    np.savez(path, **z)


def _refused(paths, metrics, needle: str, folds=FOLDS) -> str:
    before = metrics.read_bytes()
    with pytest.raises(InputError, match=needle) as caught:
        T.merge_tuning(paths, metrics, folds)
    assert metrics.read_bytes() == before  # nothing merged
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_the_control_merges_and_every_dice_lies_within_zero_and_one(tmp_path):
    paths, metrics = _shards(tmp_path)
    assert T.merge_tuning(paths, metrics, FOLDS) == 4
    assert pd.read_csv(metrics)["dice_val"].between(0, 1).all()


def test_negative_voxel_counts_no_longer_give_a_dice_above_one(tmp_path):
    """Before: 'other' counts negated gave dice_val 3.3 and -2.5 with exit 0."""
    paths, metrics = _shards(tmp_path)
    z = np.load(paths[0])
    _edited(paths[0], shared_other=-z["shared_other"])
    _refused(paths, metrics, r"a\.npz.*other voxel counts")


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda z: {"shared_codes": z["shared_codes"][::-1].copy()}, "ascending"),
        (lambda z: {"shared_offsets": z["shared_offsets"] + 1}, "offsets"),
        (lambda z: {"shared_lesion": np.full_like(z["shared_lesion"], 2**40)}, "lesion voxel counts"),
        (lambda z: {"shared_lesion": z["shared_lesion"].astype(np.float64)}, "float64, not int64"),
        (lambda z: {"subjects": np.array(["s0", "s0"])}, "listed twice"),
        (lambda z: {"shared_present": np.array([True, False])}, "offsets|shared-protocol"),
        (lambda z: {"ref_codes": None}, "missing"),
        (lambda z: {"extra": np.zeros(3)}, "unexpected"),
    ],
)
def test_a_crafted_tuning_file_is_one_line_naming_it(tmp_path, change, needle):
    paths, metrics = _shards(tmp_path)
    _edited(paths[0], **change(np.load(paths[0])))
    _refused(paths, metrics, needle)


def test_a_truncated_file_a_folder_and_a_pipe_are_one_line(tmp_path):
    """Before: a truncated tuning.npz ended in zipfile's BadZipFile traceback."""
    paths, metrics = _shards(tmp_path)
    data = paths[0].read_bytes()
    paths[0].write_bytes(data[: len(data) // 2])
    _refused(paths, metrics, r"a\.npz.*not a readable \.npz")
    paths[0].unlink()
    paths[0].mkdir()
    _refused(paths, metrics, "folder")
    paths[0].rmdir()
    os.mkfifo(paths[0])
    _refused(paths, metrics, "FIFO")


def test_a_file_declaring_more_than_the_memory_budget_is_refused_unread(tmp_path, monkeypatch):
    paths, metrics = _shards(tmp_path)
    with zipfile.ZipFile(paths[1], "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("pad.npy", bytes(3 << 20))  # 3 MB of zeros, a few kB on disk
    monkeypatch.setenv("PATCH2LOC_MEMORY_BUDGET_MB", "2")
    _refused(paths, metrics, r"b\.npz.*declare 3 MB.*PATCH2LOC_MEMORY_BUDGET_MB")


def test_a_subject_in_two_shards_or_missing_from_the_metrics_is_refused(tmp_path):
    entries = _entries()
    paths, metrics = _shards(tmp_path, entries)
    T.write_tuning(paths[1], [entries[1], entries[3]])  # s1 in both shards (and s2 in none)
    _refused(paths, metrics, r"'s1' is in .*a\.npz too")
    T.write_tuning(paths[1], [entries[2], {**entries[3], "subject": "intruder"}])
    _refused(paths, metrics, "differ.*intruder")


def _val_csv(folder, text: str | bytes):
    path = folder / "WMH_val.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_a_subject_listed_twice_in_the_tuning_split_is_refused(tmp_path):
    """Before: the second line's fold silently replaced the first's."""
    _val_csv(tmp_path, "subject_id,tuning_fold\na,0\nb,1\na,1\n")
    with pytest.raises(InputError, match=r"WMH_val\.csv: line 4: subject 'a' is listed twice"):
        tuning_folds(tmp_path, "WMH")


@pytest.mark.parametrize(
    "text, needle",
    [
        ("subject_id,tuning_fold\na,one\n", "line 2 needs"),
        ("subject_id,tuning_fold\na,-1\n", "line 2 needs"),
        ("subject_id,tuning_fold\na,²\n", "line 2 needs"),
        ("subject_id,tuning_fold\n,0\n", "line 2 needs"),
        ("subject,fold\na,0\n", "line 2 needs"),
        (b"subject_id,tuning_fold\n\xff\xfe,0\n", "UTF-8"),
    ],
)
def test_a_malformed_tuning_split_is_one_line(tmp_path, text, needle):
    _val_csv(tmp_path, text)
    with pytest.raises(InputError, match=needle):
        tuning_folds(tmp_path, "WMH")


def test_a_huge_or_special_tuning_split_is_refused_unread(tmp_path):
    path = _val_csv(tmp_path, "subject_id,tuning_fold\n")
    with open(path, "r+b") as f:
        f.truncate(1 << 30)  # 1 GB, a hole
    with pytest.raises(InputError, match="WMH_val.csv: the tuning split is 1,073,741,824 bytes, more than"):
        tuning_folds(tmp_path, "WMH")
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(InputError, match="regular file"):
        tuning_folds(tmp_path, "WMH")


def _pooled(folder, name="p.npz", values=None, meta=None):
    rng = np.random.default_rng(0)
    score = rng.normal(0, 1, (6, 6, 4)).astype(np.float32)
    hist = steps.score_histogram(score, score > 1)
    P.write_pooled(folder / name, hist if values is None else values, meta or {"method": "DAE", "shard": "0"})
    return folder / name


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda z: {"lesion": -z["lesion"]}, "lesion voxel counts"),
        (lambda z: {"values": z["values"][::-1].copy()}, "ascending"),
        (lambda z: {"values": np.full_like(z["values"], np.nan)}, "ascending"),
        (lambda z: {"meta": np.array("[1, 2]")}, "meta is not a JSON object"),
        (lambda z: {"meta": np.array("[" * 100 + "]" * 100)}, "JSON object"),
        (lambda z: {"other": z["other"][:1].copy()}, "counts"),
    ],
)
def test_a_crafted_pooled_file_is_one_line(tmp_path, change, needle):
    path = _pooled(tmp_path)
    _edited(path, **change(np.load(path)))
    with pytest.raises(InputError, match=needle):
        P.merge_pooled([path], tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_pooled_shards_of_another_method_are_not_summed(tmp_path):
    a = _pooled(tmp_path, "a.npz")
    b = _pooled(tmp_path, "b.npz", meta={"method": "AE", "shard": "1"})
    with pytest.raises(InputError, match=r"b\.npz.*differ from the first shard"):
        P.merge_pooled([a, b], tmp_path / "out.npz")
    c = _pooled(tmp_path, "c.npz", meta={"method": "DAE", "shard": "1"})
    assert P.merge_pooled([a, c], tmp_path / "out.npz") == 2 * 6 * 6 * 4
