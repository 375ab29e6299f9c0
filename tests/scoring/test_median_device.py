"""The scoring core's median filter on a device (scoring/median.py) against SciPy's on the CPU: the
same float32 value on every voxel of the mask, borders included, for the volumes a scoring meets
and the ones it should not (tiny axes, constant regions, extreme values, even windows). The torch
code runs here on the CPU; on a GPU it is the same code (tests/gpu/test_cuda.py runs it there)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from patch2loc.scoring import postprocess
from patch2loc.scoring.median import reflect_index, masked_median, on_device

CPU = torch.device("cpu")


def scipy_then_mask(score: np.ndarray, mask: np.ndarray, window: tuple[int, ...]) -> np.ndarray:
    return ndimage.median_filter(score.astype(np.float32), size=window) * mask


def crafted(kind: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.standard_normal(shape).astype(np.float32)
    if kind == "constant_regions":  # plateaus with sharp edges: many equal values in a window
        out = np.zeros(shape, np.float32)
        out[: shape[0] // 2] = 3.0
        out[..., : shape[-1] // 3] = -1.5
        return out
    if kind == "extremes":  # finite values from the float32 range's ends beside ordinary ones
        values = np.array([np.finfo(np.float32).max, -np.finfo(np.float32).max, 1e-38, -1e-38, 0.0, 1.0], np.float32)
        return rng.choice(values, size=shape)
    if kind == "ties":  # few distinct values: the rank, not an average, decides
        return rng.integers(0, 3, size=shape).astype(np.float32)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["noise", "constant_regions", "extremes", "ties"])
@pytest.mark.parametrize("shape", [(13, 11, 9), (7, 9, 12), (2, 3, 9), (1, 1, 1), (20, 17, 4)])
def test_every_voxel_equals_scipy_with_a_full_mask(kind, shape):
    score = crafted(kind, shape)
    mask = np.ones(shape, bool)
    np.testing.assert_array_equal(masked_median(score, mask, (7, 7, 7), CPU), scipy_then_mask(score, mask, (7,) * 3))


@pytest.mark.parametrize("window", [(3, 3, 3), (5, 5, 5), (4, 4, 4), (6, 2, 3), (5, 5, 1)])
def test_other_windows_and_even_sides_equal_scipy(window):
    score = crafted("noise", (12, 10, 8), seed=1)
    mask = np.ones(score.shape, bool)
    np.testing.assert_array_equal(masked_median(score, mask, window, CPU), scipy_then_mask(score, mask, window))


def test_masked_voxels_equal_scipy_and_the_rest_is_zero():
    rng = np.random.default_rng(2)
    score = rng.standard_normal((24, 22, 15)).astype(np.float32) * 5
    mask = rng.random(score.shape) < 0.3
    mask[0], mask[:, -1] = True, True  # borders inside the mask
    got = masked_median(score, mask, (7, 7, 7), CPU)
    np.testing.assert_array_equal(got[mask], scipy_then_mask(score, mask, (7,) * 3)[mask])
    assert not got[~mask].any()
    assert got.dtype == np.float32


def test_chunks_do_not_change_the_result(monkeypatch):
    from patch2loc.scoring import median

    score = crafted("noise", (15, 14, 13), seed=3)
    mask = np.ones(score.shape, bool)
    whole = masked_median(score, mask, (7, 7, 7), CPU)
    monkeypatch.setattr(median, "CHUNK_VOXELS", 97)
    np.testing.assert_array_equal(masked_median(score, mask, (7, 7, 7), CPU), whole)


@pytest.mark.parametrize("n,before,after", [(5, 3, 3), (2, 3, 3), (1, 3, 3), (4, 9, 2)])
def test_padding_is_scipys_reflect(n, before, after):
    axis = np.arange(n)
    expected = np.pad(axis, (before, after), mode="symmetric")  # pads longer than the axis reflect again
    np.testing.assert_array_equal(reflect_index(n, before, after, CPU).numpy(), expected)


def test_postprocess_keeps_scipy_on_the_cpu_and_for_non_finite_maps():
    score = crafted("noise", (9, 9, 9))
    mask = np.ones(score.shape, bool)
    assert not on_device(None, score) and not on_device(CPU, score)
    assert not on_device(torch.device("cuda"), np.array([np.nan], np.float32))
    np.testing.assert_array_equal(postprocess(score, mask, 7), scipy_then_mask(score, mask, (7,) * 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_postprocess_equals_the_cpu_path():
    rng = np.random.default_rng(4)
    score = rng.standard_normal((40, 36, 30)).astype(np.float32)
    mask = rng.random(score.shape) < 0.5
    got = postprocess(score, mask, 7, torch.device("cuda"))
    np.testing.assert_array_equal(got, postprocess(score, mask, 7))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_filters_on_a_side_stream_beside_other_work_equal_the_cpu_path():
    """A scoring job's finishing thread filters volume i on a stream of its own while the caller's
    thread keeps the default stream busy (volume i + 1's network): every map equals SciPy's."""
    from patch2loc.evaluation.dataset.pipeline import pipelined
    from patch2loc.scoring.median import side_stream

    rng = np.random.default_rng(6)
    scores = [rng.standard_normal((48, 40, 30)).astype(np.float32) for _ in range(6)]
    mask = rng.random(scores[0].shape) < 0.5
    busy = torch.randn(2048, 2048, device="cuda")

    def score(i, case):  # the default stream's work, as a network's
        for _ in range(20):
            busy.copy_(busy @ busy / 2048)
        return scores[i]

    def finish(i, case, score):
        with side_stream(torch.device("cuda")):
            return postprocess(score, mask, 7, torch.device("cuda"))

    got = pipelined(range(6), lambda i: None, score, lambda i, c, s: s, finish=finish)
    for i, map_ in enumerate(got):
        np.testing.assert_array_equal(map_, postprocess(scores[i], mask, 7))


def test_the_side_stream_is_a_null_context_off_a_gpu():
    from patch2loc.scoring.median import side_stream

    for device in (None, CPU):
        with side_stream(device) as entered:
            assert entered is None


def test_the_filter_runs_on_the_gpu_the_scoring_named_and_else_on_the_cpu():
    from patch2loc.scoring.median import filter_device

    assert filter_device("cpu") is None
    auto = filter_device(None)
    assert (auto is None) == (not torch.cuda.is_available())
    if torch.cuda.is_available():
        assert filter_device("cuda:0") == torch.device("cuda:0")


@pytest.mark.parametrize("how", ["median", "sort"])
@pytest.mark.parametrize("kind", ["noise", "constant_regions", "extremes", "ties"])
def test_every_reduction_the_benchmark_compares_equals_scipy(how, kind):
    score = crafted(kind, (11, 9, 8), seed=2)
    mask = np.ones(score.shape, bool)
    got = masked_median(score, mask, (7, 7, 7), CPU, how)
    np.testing.assert_array_equal(got, scipy_then_mask(score, mask, (7,) * 3))


def test_torchs_lower_median_is_refused_for_an_even_window():
    score = crafted("noise", (8, 8, 8))
    with pytest.raises(ValueError, match="odd windows only"):
        masked_median(score, np.ones(score.shape, bool), (4, 4, 4), CPU, "median")
