"""The figures' chunked reads of the patch tables agree with the all-in-memory selections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from patch2loc.evaluation.patches.statistics import classify, location_with_both
from patch2loc.errors import InputError
from patch2loc.evaluation.patches.stream import rows_at_best_location, sample_classes


def _patches(fold: int, n: int, seed: int, dataset: str = "MSLUB") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "dataset": dataset,
            "fold": fold,
            "subject": [f"s{i % 7}" for i in range(n)],
            "z": rng.integers(0, 4, n),
            "x": rng.integers(0, 3, n) * 8 + 4,
            "y": rng.integers(0, 3, n) * 8 + 4,
            "lesion_fraction": rng.choice([0.0, 0.05, 0.5, 0.95, 1.0], n),
            "log_error": rng.normal(0, 1, n),
            "row": np.arange(n) + 10_000 * seed,
        }
    )


@pytest.fixture()
def files(tmp_path):
    paths = []
    for k, (fold, dataset) in enumerate([(1, "MSLUB"), (0, "MSLUB"), (0, "WMH"), (1, "MSLUB")]):
        path = tmp_path / f"p{k}.csv.gz"
        _patches(fold, 700, k, dataset).to_csv(path, index=False)
        paths.append(path)
    return paths


def _pooled(files, dataset="MSLUB"):
    table = pd.concat([pd.read_csv(p) for p in files], ignore_index=True)
    return table[table["dataset"] == dataset].reset_index(drop=True)


def test_sample_counts_every_row_and_keeps_at_most_max_points(files):
    pooled = _pooled(files)
    cls = classify(pooled["lesion_fraction"].to_numpy())
    sample, counts = sample_classes(files, "MSLUB", max_points=150, chunksize=97)
    assert counts == {"normal": int((cls == "normal").sum()), "abnormal": int((cls == "abnormal").sum())}
    got = classify(sample["lesion_fraction"].to_numpy())
    assert (got == "normal").sum() == 150 and (got == "abnormal").sum() == 150 and not (got == "mixed").any()
    assert set(sample["row"]) <= set(pooled["row"])  # real rows of this dataset, none invented
    assert len({r // 10_000 for r in sample["row"]}) == 3  # drawn from every MSLUB file, not the first
    again, _ = sample_classes(files, "MSLUB", max_points=150, chunksize=311)
    assert set(again["row"]) == set(sample["row"])  # the same sample whatever the chunk size


def test_sample_of_a_small_class_is_the_whole_class(files):
    pooled = _pooled(files)
    cls = classify(pooled["lesion_fraction"].to_numpy())
    sample, _ = sample_classes(files, "MSLUB", max_points=10**6, chunksize=50)
    expected = pooled[cls != "mixed"].sort_values("row").reset_index(drop=True)
    assert_frame_equal(sample.sort_values("row").reset_index(drop=True), expected)


def test_best_location_rows_equal_the_pooled_choice(files):
    pooled = _pooled(files)
    fold0 = pooled[pooled["fold"] == pooled["fold"].min()]
    z, x, y = location_with_both(fold0)
    expected = fold0[(fold0["z"] == z) & (fold0["x"] == x) & (fold0["y"] == y)]
    rows, where = rows_at_best_location(files, "MSLUB", chunksize=64)
    assert where == (z, x, y)
    assert_frame_equal(
        rows.sort_values("row").reset_index(drop=True), expected.sort_values("row").reset_index(drop=True)
    )


def test_a_dataset_without_patches_is_named(files):
    with pytest.raises(InputError, match="ATLAS_v2"):
        sample_classes(files, "ATLAS_v2")
    with pytest.raises(InputError, match="ATLAS_v2"):
        rows_at_best_location(files, "ATLAS_v2")
