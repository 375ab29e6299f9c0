"""The scoring core (`patch2loc.scoring`): one path from a model and a scan to an anomaly map.

What the method boundary must show: for every method of the registry (a method added later is covered
without touching this file), the workflow's scoring (`evaluation.dataset.score_dataset`, what the scoring rules
run) and predict's (`patch2loc predict` for a trained method; predict's per-scan code `run_scan`
for one without a model, which the command line refuses) write byte-equal heatmaps for the same
model and scan. The models are trained here for two steps with the method's own block of
config/demo.yaml, so the maps are a real model's, not an untrained network's.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from patch2loc import cli
from patch2loc.evaluation.dataset.score_dataset import Scan, ScoringConfig, score_lesions
from patch2loc.registry import REGISTRY, implementation
from patch2loc.run.configfiles import load as load_configfiles
from tests.helpers.published import fake_published
from patch2loc.scoring import ScanSettings, lesion_mask, mean_threshold, postprocess, score_scan

REPO = Path(__file__).resolve().parents[2]
DEMO = load_configfiles([REPO / "config" / "demo.yaml"])
SHAPE = (32, 32, 12)  # the DAE's UNet halves the slice four times


def _volume(folder: Path, seed: int) -> tuple[Path, Path, Path]:
    """A smooth brain-like image, its brain mask and a lesion mask, as NIfTI files."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, n) for n in SHAPE), indexing="ij")
    brain = (x**2 + y**2 + (z / 1.2) ** 2) < 0.8
    image = (0.6 + 0.2 * np.cos(3 * x) * np.sin(2 * y) + 0.05 * rng.standard_normal(SHAPE)) * brain
    seg = ((x - 0.2) ** 2 + (y + 0.1) ** 2 + z**2 < 0.06) & brain
    image[seg] += 0.5
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in (
        ("image", image.astype(np.float32)),
        ("mask", brain.astype(np.uint8)),
        ("seg", seg.astype(np.uint8)),
    ):
        nib.save(nib.Nifti1Image(data, affine), folder / f"{name}.nii.gz")
        paths.append(folder / f"{name}.nii.gz")
    return tuple(paths)


def _trained(method, folder: Path, monkeypatch) -> Path:
    """best.pt of `method` trained for two steps with its demo block (a method on published networks:
    on random stand-ins, tests/helpers/published.py)."""
    block = {**DEMO[method.config], "steps": 2, "val_every": 1, "val_batches": 1, "threads": 1}
    if method.pretrained:
        fake_published(method.pretrained, folder / "pretrained", monkeypatch)
        block["pretrained_home"] = str(folder / "pretrained")
    if "warmup_steps" in block:  # the demo's warm-up (Patch2Loc: 50 steps) must end before the last step
        block["warmup_steps"] = 0
    for key, value in block.items():  # a pre-training's own block (cDDPM's `pretrain:`): two steps too
        if isinstance(value, dict) and "steps" in value:
            block[key] = {**value, "steps": 2, "val_every": 1, "val_batches": 1}
    pairs = [_volume(folder / f"train{i}", seed=10 + i)[:2] for i in range(2)]
    implementation(method.name).train_from_files(
        pairs[:1], pairs[1:], block, folder / "model", modality="T1", threads=1, progress=False
    )
    return folder / "model" / "best.pt"


def _map(path: Path) -> bytes:
    return np.asarray(nib.load(path).dataobj).tobytes()


@pytest.mark.parametrize("method", REGISTRY, ids=[m.name for m in REGISTRY])
def test_workflow_and_predict_write_byte_equal_heatmaps(method, tmp_path, monkeypatch):
    image, mask, seg = _volume(tmp_path / "scan", seed=0)
    checkpoint = _trained(method, tmp_path, monkeypatch) if method.trains else None
    heatmap = DEMO["heatmap"]
    median = str(heatmap["median_size"])

    # The workflow: what the scoring rules run (workflow/scripts/score_dataset.py).
    # the kept heatmaps are atlas-space in either evaluate.space; atlas: this scan has no raw files
    cfg = ScoringConfig.from_workflow(
        heatmap, {**DEMO["evaluate"], "keep_heatmaps": -1, "space": "atlas"}, device="cpu"
    )
    model = implementation(method.name).load(str(checkpoint), "cpu")[0] if method.trains else None
    meta = {"method": method.name, "modality": "T1", "fold": "0", "dataset": "BraTS21"}
    score_lesions(method.name, [Scan("s", str(image), str(mask), str(seg))], cfg, meta, 0.5, tmp_path / "wf", model)

    # predict, with the flags that match the workflow's `heatmap:` block.
    argv = [
        "predict",
        "--image",
        str(image),
        "--mask",
        str(mask),
        "--out",
        str(tmp_path / "pr" / "s.nii.gz"),
        "--stride",
        str(heatmap["stride"]),
        "--batch-size",
        str(heatmap["batch_size"]),
        "--amp",
        heatmap["amp"],
        "--centres",
        heatmap["centres"],
        "--median-size",
        median,
        "--device",
        "cpu",
        "--quiet",
    ]
    if method.trains:
        assert cli.main(argv + ["--method", method.name, "--checkpoint", str(checkpoint)]) == 0
    else:  # the command line refuses a method without a model: its per-scan code, as the command calls it
        from patch2loc.predict.ensemble import Member
        from patch2loc.predict.inputs import ScanInput
        from patch2loc.predict.models import score_settings
        from patch2loc.predict.scan import Context, Job, run_scan

        from patch2loc.predict.request import PredictRequest, ScoringFlags

        request = PredictRequest.from_args(cli.build_parser().parse_args(argv))
        scoring = ScoringFlags(
            request.stride,
            request.batch_size,
            request.amp,
            request.centres,
            request.median_size,
            request.no_postprocess,
        )
        (tmp_path / "pr").mkdir()
        job = Job(ScanInput("s", image, mask), tmp_path / "pr" / "s.nii.gz", tmp_path / "pr" / "s", None, False, False)
        ctx = Context(
            [Member(Path("none"), None, {}, None)],
            None,
            None,
            "none",
            score_settings(scoring, "cpu", False),
            False,
            method=method.name,
        )
        run_scan(job, ctx)

    workflow_map, predict_map = _map(tmp_path / "wf" / "s.nii.gz"), _map(tmp_path / "pr" / "s.nii.gz")
    assert len(workflow_map) == 4 * np.prod(SHAPE)  # float32, the whole volume
    assert workflow_map == predict_map
    assert np.frombuffer(workflow_map, np.float32).std() > 0  # a map, not a constant


def test_folds_are_averaged_raw_then_post_processed_once():
    rng = np.random.default_rng(3)
    image = rng.random((12, 12, 6)).astype(np.float32)
    mask = np.zeros(image.shape, bool)
    mask[2:10, 2:10, 1:5] = True
    settings = ScanSettings(median_size=3)
    one = score_scan("Thresh", [None], image, mask, settings)
    np.testing.assert_array_equal(one.score, postprocess(image * mask, mask, 3))
    assert one.patches is None and set(one.raw) == {"score"}
    # two identical models: exactly one model's map; the mean is taken before the median filter
    assert score_scan("Thresh", [None, None], image, mask, settings).score.tobytes() == one.score.tobytes()
    raw = score_scan("Thresh", [None], image, mask, ScanSettings(postprocess=False))
    np.testing.assert_array_equal(raw.score, image * mask)
    with pytest.raises(ValueError, match="no model"):
        score_scan("Thresh", [], image, mask, settings)


def test_the_mean_of_different_folds_is_the_mean_of_their_raw_maps(monkeypatch):
    from patch2loc.methods.thresh import method as thresh

    image = np.arange(4 * 4 * 3, dtype=np.float32).reshape(4, 4, 3)
    mask = np.ones(image.shape, bool)
    monkeypatch.setattr(thresh, "score", lambda model, image, mask, settings: {"score": image * model, "patches": 5})
    mean = score_scan("Thresh", [1.0, 3.0], image, mask, ScanSettings(median_size=1))
    np.testing.assert_array_equal(mean.score, image * 2.0)
    assert mean.patches == 10


def test_post_processing_is_the_median_then_the_mask():
    score = np.zeros((9, 9, 9), np.float32)
    score[4, 4, 4] = 100.0  # an isolated spike is removed by the median
    score[:, :, 6:] = 5.0
    mask = np.ones((9, 9, 9), bool)
    mask[0] = False
    out = postprocess(score, mask, median_size=7)
    assert out[4, 4, 4] == 0.0 and (out[0] == 0).all()
    from scipy import ndimage

    np.testing.assert_array_equal(out, ndimage.median_filter(score, size=7) * mask)


def test_thresholds_of_folds_and_lesion_masks():
    assert mean_threshold([1.0, 2.0]) == 1.5
    assert mean_threshold([1.0, None]) is None and mean_threshold([]) is None
    score = np.array([[[0.1, 0.9, 0.7]]], np.float32)
    brain = np.array([[[True, True, False]]])
    assert lesion_mask(score, brain, 0.5).tolist() == [[[0, 1, 0]]]


def test_predict_hands_its_scoring_flags_to_the_method_as_options():
    from patch2loc.predict.models import method_flags, score_settings

    from patch2loc.predict.request import ScoringFlags

    args = ScoringFlags(
        stride=2,
        batch_size=64,
        amp="none",
        centres="mask",
        median_size=5,
        no_postprocess=True,
    )
    settings = score_settings(args, "cpu", progress=False)
    assert settings.options == {"stride": 2, "batch_size": 64, "amp": "none", "centres": "mask"}
    assert settings.median_size == 5 and not settings.postprocess
    assert method_flags("Patch2Loc", args) == {"stride": 2, "centres": "mask", "amp": "none"}
    assert method_flags("DAE", args) == {"stride": None, "centres": None, "amp": None}  # it reads none of them
