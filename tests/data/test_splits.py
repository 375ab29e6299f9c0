"""Split lists: leakage removed, T2 filter, committed csvs consistent with the reference."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from patch2loc.errors import InputError
from patch2loc.data.splits import build_splits, load_subjects

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path("/work/shared/reference")


def _toy_reference(tmp_path: Path) -> tuple[Path, Path]:
    rows = (
        [("IXI", f"S{i}", "train", 0) for i in range(6)]  # S4, S5 also in test: leakage
        + [("IXI", "S6", "val", 0), ("IXI", "S0", "val", 0)]  # S0 also in train
        + [("IXI", f"S{i}", "train", 1) for i in (2, 3, 6)]
        + [("IXI", "S0", "val", 1), ("IXI", "S5", "val", 1)]  # S5 in test
        + [("IXI", s, "test", None) for s in ("S4", "S5", "S7")]
        + [("IXI", "S7", "test", None)]  # duplicated row
        + [("Brats21", "BraTS2021_00001", "test", None), ("WMH", "GE3T_100", "test", None)]
    )
    ref = tmp_path / "ref.csv"
    pd.DataFrame(rows, columns=["dataset", "subject_id", "split", "fold"]).to_csv(ref, index=False)
    t2 = tmp_path / "t2.csv"
    pd.DataFrame({"subject_id": ["S0", "S1", "S2", "S4", "S6"]}).to_csv(t2, index=False)
    return ref, t2


def test_leakage_removed_on_toy_lists(tmp_path, capsys):
    ref, t2 = _toy_reference(tmp_path)
    out = tmp_path / "splits"
    removed = build_splits(ref, t2, out)
    assert load_subjects(out, "IXI", "train", fold=0) == ["S0", "S1", "S2", "S3"]
    assert load_subjects(out, "IXI", "val", fold=0) == ["S6"]
    assert load_subjects(out, "IXI", "train", fold=1) == ["S2", "S3", "S6"]
    assert load_subjects(out, "IXI", "val", fold=1) == ["S0"]
    assert load_subjects(out, "IXI", "test") == ["S4", "S5", "S7"]
    assert load_subjects(out, "IXI", "train", fold=0, modality="T2") == ["S0", "S1", "S2"]
    assert load_subjects(out, "BraTS21") == ["BraTS2021_00001"]  # authors' name mapped
    assert load_subjects(out, "WMH") == ["GE3T_100"]
    assert sorted(map(tuple, removed[["subject_id", "fold", "dropped_from"]].values.tolist())) == [
        ("S0", 0, "val"),
        ("S4", 0, "train"),
        ("S5", 0, "train"),
        ("S5", 1, "val"),
    ]
    assert "fold 0: 2 from train (in IXI test list); 1 from val" in capsys.readouterr().out
    assert len(pd.read_csv(out / "removed.csv")) == 4


def test_missing_split_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="MSLUB.csv"):
        load_subjects(tmp_path, "MSLUB")


@pytest.mark.skipif(not (REFERENCE / "splits_reference.csv").exists(), reason="reference csv not here")
def test_committed_splits_match_reference(tmp_path):
    """splits/ is what build_splits makes from the reference, and has no leakage left."""
    build_splits(REFERENCE / "splits_reference.csv", REFERENCE / "ixi_t2_available.csv", tmp_path)
    for name in ("IXI", "BraTS21", "MSLUB", "ATLAS_v2", "WMH", "removed"):
        assert (tmp_path / f"{name}.csv").read_text() == (REPO / "splits" / f"{name}.csv").read_text()
    ref = pd.read_csv(REFERENCE / "splits_reference.csv")
    ixi_test = set(ref[(ref.dataset == "IXI") & (ref.split == "test")].subject_id)
    for fold in range(5):
        train = set(load_subjects(REPO / "splits", "IXI", "train", fold=fold))
        val = set(load_subjects(REPO / "splits", "IXI", "val", fold=fold))
        assert not (train | val) & ixi_test and not train & val
        ref_train = set(ref[(ref.dataset == "IXI") & (ref.split == "train") & (ref.fold == fold)].subject_id)
        assert 7 <= len(ref_train & ixi_test) <= 9 and train == ref_train - ixi_test
