"""Merging scoring shards: the merged tables equal the unsharded ones, headers are checked."""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from patch2loc.io import InputError
from patch2loc.shards import merge_csv, merge_dirs


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"subject": [f"s{i}" for i in range(n)], "auprc": rng.random(n), "x": rng.integers(0, 9, n)})


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_merged_shards_equal_the_whole_table(tmp_path, suffix):
    whole = _table(7, 0)
    whole.to_csv(tmp_path / f"whole{suffix}", index=False)
    parts = []
    for k, (a, b) in enumerate([(0, 3), (3, 6), (6, 7)]):
        whole.iloc[a:b].to_csv(tmp_path / f"part{k}{suffix}", index=False)
        parts.append(tmp_path / f"part{k}{suffix}")
    rows = merge_csv(parts, tmp_path / f"merged{suffix}")
    assert rows == 7
    read = (lambda p: gzip.open(p, "rt").read()) if suffix.endswith(".gz") else (lambda p: p.read_text())
    assert read(tmp_path / f"merged{suffix}") == read(tmp_path / f"whole{suffix}")


def test_a_shard_with_another_header_is_named(tmp_path):
    _table(2, 0).to_csv(tmp_path / "a.csv", index=False)
    _table(2, 1).rename(columns={"x": "y"}).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputError, match="b.csv"):
        merge_csv([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()  # nothing half-written is left


def test_heatmap_folders_are_merged_and_clashes_refused(tmp_path):
    for k, names in enumerate([["s1.nii.gz", "s2.nii.gz"], [], ["s3.nii.gz"]]):
        (tmp_path / f"h{k}").mkdir()
        for n in names:
            (tmp_path / f"h{k}" / n).write_text(n)
    assert merge_dirs([tmp_path / f"h{k}" for k in range(3)], tmp_path / "all") == 3
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["s1.nii.gz", "s2.nii.gz", "s3.nii.gz"]
    with pytest.raises(InputError, match="another shard"):
        merge_dirs([tmp_path / "h0"], tmp_path / "all")
