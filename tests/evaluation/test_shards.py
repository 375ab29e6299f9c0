"""Merging scoring shards: the merged tables equal the unsharded ones, headers are checked."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from patch2loc.errors import InputError
from patch2loc.evaluation.dataset.shards import merge_csv, merge_dirs


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


def test_snakemake_timestamps_of_the_shards_are_not_linked(tmp_path):
    """A hard-linked .snakemake_timestamp would be touched with the merged folder's own and make the
    shard look newer than the merge (Snakemake then fails the merge job): the demo hit this."""
    (tmp_path / "h0").mkdir()
    (tmp_path / "h0" / "s1.nii.gz").write_text("s1")
    (tmp_path / "h0" / ".snakemake_timestamp").write_text("")
    assert merge_dirs([tmp_path / "h0"], tmp_path / "all") == 1
    assert [p.name for p in (tmp_path / "all").iterdir()] == ["s1.nii.gz"]
