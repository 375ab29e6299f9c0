"""`patch2loc predict` with a model of several contrasts (config `inputs: {T1T2:
[T1, T2]}`): --image is the reference (T1) scan, --contrast T2=FILE the other; each contrast goes
through the run's chain for it (its own landmarks), the contrasts are stacked as the workflow stacks
them, and the map equals the workflow's score of that stack. A missing, unknown or misplaced
contrast is one line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import yaml
from tests.helpers.checkpoints import NORMALISED, as_written
from tests.helpers.safety import finished_run, make_case, predict_argv, refused

from patch2loc import cli
from patch2loc.run.layout import RunLayout
from patch2loc.registry import DEFAULT_METHOD, implementation
from patch2loc.methods.patch2loc.model import Patch2LocNet

SPACING = 4.0


@pytest.fixture(scope="module")
def t1t2(tmp_path_factory):
    """helpers.safety.finished_run made a run of two contrasts: T2 scans of the same subjects, their
    landmarks, `inputs: {T1T2: [T1, T2]}` and one fold's two-channel model (about a minute)."""
    from patch2loc.preprocessing.normalize import fit_landmarks
    from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan
    from patch2loc.synth import demo_subject_ids, synthesize_scan

    base = tmp_path_factory.mktemp("t1t2")
    run, t1 = finished_run(base)
    layout = RunLayout(run)
    cfg = yaml.safe_load((run / "config.resolved.yaml").read_text())
    cfg["inputs"] = {"T1": ["T1"], "T2": ["T2"], "T1T2": ["T1", "T2"]}
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
    t2 = [
        synthesize_scan("IXI", "T2", s, base / "raw", seed=i, spacing=SPACING)
        for i, s in enumerate(demo_subject_ids("IXI", 3))
    ]
    pcfg = PreprocessConfig.from_config(cfg["preprocess"], skull_strip="provided")
    for scan in t2[:2]:
        preprocess_scan(scan, layout.atlas_image, layout.atlas_mask, base / "preT2" / scan.subject, pcfg)
    fit_landmarks(
        [base / "preT2" / s.subject / "image.nii.gz" for s in t2[:2]],
        [base / "preT2" / s.subject / "mask.nii.gz" for s in t2[:2]],
        run / "landmarks" / "T2.npy",
    )
    torch.manual_seed(0)
    ckpt = Path(layout.checkpoint("T1T2", 0))
    ckpt.parent.mkdir(parents=True)
    config = {"channels": 2, "intensity_range": NORMALISED, "intensity_ranges": [NORMALISED] * 2}
    weights = {"model": Patch2LocNet(4, channels=2).eval().state_dict(), "patch_size": 4, "config": config}
    torch.save(as_written(weights, grid=(32, 32, 20), modality="T1T2"), ckpt)
    threshold = Path(layout.threshold(DEFAULT_METHOD, "T1T2", "fold0"))  # as score_healthy leaves it
    threshold.parent.mkdir(parents=True, exist_ok=True)
    threshold.write_text(json.dumps({"threshold": 0.5}))
    return base, run, t1, t2[2], cfg


def _argv(run, t1, out, *extra, t2=None, masks=True):
    more = [] if t2 is None else ["--contrast", f"T2={t2.image}"]
    more += ["--contrast-mask", f"T2={t2.mask}"] if t2 is not None and masks else []
    return predict_argv(
        None,
        out,
        *more,
        *extra,
        image=t1.image,
        mask=t1.mask if masks else False,
        ckpt=False,
        from_run=run,
        modality="T1T2",
    )


def _workflow_stack(run, cfg, scans: dict, folder):
    """What the workflow's rules make of one subject: each contrast preprocessed and normalised with
    its own landmarks (preprocess, normalize_scan), then stacked (stack_lesion_contrasts)."""
    import SimpleITK as sitk

    from patch2loc.preprocessing.normalize import normalize_scan
    from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan
    from patch2loc.preprocessing.stack import stack_contrasts

    layout = RunLayout(run)
    pcfg = PreprocessConfig.from_config(cfg["preprocess"], skull_strip="provided")
    images, masks = [], []
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # as the workflow's preprocessing rule runs
    for contrast, scan in scans.items():
        out = folder / contrast
        preprocess_scan(scan, layout.atlas_image, layout.atlas_mask, out, pcfg)
        normalize_scan(
            out / "uncropped.nii.gz",
            out / "uncropped_mask.nii.gz",
            layout.landmarks(contrast),
            out / "normalized.nii.gz",
            percentile=cfg["normalize"]["percentile"],
            target_shape=cfg["preprocess"]["target_shape"],
        )
        images.append(out / "normalized.nii.gz")
        masks.append(out / "mask.nii.gz")
    stack_contrasts(images, masks, folder / "stack.nii.gz", folder / "stack_mask.nii.gz")
    return folder / "stack.nii.gz", folder / "stack_mask.nii.gz"


@pytest.mark.slow
def test_predict_of_a_two_contrast_model_is_the_workflow_map_of_its_stack(t1t2, tmp_path):
    from patch2loc.preprocessing.stack import load_stacked_case
    from patch2loc.scoring import ScanSettings, score_scan

    base, run, t1, t2, cfg = t1t2
    out = tmp_path / "o" / "s.nii.gz"
    assert cli.main(_argv(run, t1, out, t2=t2)) == 0
    stack, mask = _workflow_stack(run, cfg, {"T1": t1, "T2": t2}, tmp_path / "wf")
    case = load_stacked_case(stack, mask)
    assert case.image.data.shape[0] == 2
    model, _ = implementation(DEFAULT_METHOD).load(str(RunLayout(run).checkpoint("T1T2", 0)), torch.device("cpu"))
    options = {"stride": 1, "batch_size": 8192, "amp": "none", "centres": "dilated"}
    expected = score_scan(
        DEFAULT_METHOD, [model], case.image.data, case.mask, ScanSettings(median_size=3, device="cpu", options=options)
    )
    heat = nib.load(out).get_fdata()
    assert heat.shape == case.mask.shape
    np.testing.assert_allclose(heat, expected.score, atol=1e-5)
    assert np.abs(heat).max() > 0
    native = nib.load(tmp_path / "o" / "s_native.nii.gz")  # on the reference (T1) scan's own grid
    raw_t1 = nib.load(t1.image)
    assert native.shape == raw_t1.shape and np.allclose(native.affine, raw_t1.affine)
    owner = json.loads((tmp_path / "o" / "s_preprocessed" / "predict.json").read_text())
    assert owner["modality"] == "T1T2" and owner["contrasts"] == {"T2": str(t2.image.resolve())}


@pytest.mark.slow
def test_a_missing_unknown_or_misplaced_contrast_is_one_line_and_nothing_written(t1t2, tmp_path, capsys):
    base, run, t1, t2, _ = t1t2
    out = tmp_path / "o" / "s.nii.gz"
    line = refused(_argv(run, t1, out), "--contrast T2=FILE", base, capsys)
    assert str(t1.image) in line
    wrong = [*_argv(run, t1, out, t2=t2), "--contrast", f"FLAIR={t2.image}"]
    assert "not FLAIR" in refused(wrong, "drop it", base, capsys)
    ref = [*_argv(run, t1, out, t2=t2), "--contrast", f"T1={t1.image}"]
    assert "reference contrast" in refused(ref, "--image", base, capsys)
    no_mask = [a for a in _argv(run, t1, out, t2=t2) if a not in ("--contrast-mask", f"T2={t2.mask}")]
    refused(no_mask, "--contrast-mask T2=FILE", base, capsys)
    two = _argv(run, t1, tmp_path / "o", "--skull-strip", "none", "--image", str(t2.image), t2=t2, masks=False)
    refused(two, "one subject per call", base, capsys)
    assert not (tmp_path / "o").exists()


def test_a_contrast_flag_for_a_model_of_one_contrast_is_refused(tmp_path, capsys):
    c = make_case(tmp_path / "in")
    argv = predict_argv(c, tmp_path / "o" / "h.nii.gz", "--contrast", f"T2={c['image']}")
    refused(argv, "drop --contrast", tmp_path, capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_two_contrast_bundle_records_its_contrasts_and_predicts_as_its_run(t1t2, tmp_path):
    from patch2loc.bundle.export import export_bundle
    from patch2loc.bundle.reader import open_bundle

    base, run, t1, t2, _ = t1t2
    bundle = export_bundle(run, "T1T2", tmp_path / "t1t2.zip")
    with open_bundle(bundle) as b:
        assert b.settings["modality"] == "T1T2" and b.settings["contrasts"] == ["T1", "T2"]
        assert {c: p.read_bytes() for c, p in b.landmarks().items()} == {
            c: (run / "landmarks" / f"{c}.npy").read_bytes() for c in ("T1", "T2")
        }
    outs = {}
    for how in ("run", "bundle"):
        out = tmp_path / how / "s.nii.gz"
        argv = _argv(run, t1, out, t2=t2)
        if how == "bundle":  # the bundle instead of the run's folder and modality
            cut = argv.index("--from-run")
            argv = [*argv[:cut], *argv[cut + 4 :], "--model", str(bundle)]
        assert cli.main(argv) == 0
        outs[how] = {n: nib.load(tmp_path / how / n).get_fdata() for n in ("s.nii.gz", "s_native.nii.gz")}
        assert json.loads((tmp_path / how / "s_summary.json").read_text())["threshold"] == 0.5
    for name in outs["run"]:
        np.testing.assert_array_equal(outs["bundle"][name], outs["run"][name])
    with pytest.raises(Exception, match="has no model input 'T3'|no model input"):
        export_bundle(run, "T3", tmp_path / "t3.zip")


def test_contrasts_that_do_not_stack_after_registration_are_one_line_and_nothing_written(tmp_path, monkeypatch, capsys):
    """The copied "preprocessing" of tests/helpers/bids.py, with the T2's grid shifted by a voxel:
    stack_contrasts' grid check, said with the flag that named the scan."""
    pytest.importorskip("bids")
    from tests.helpers.bids import SPACING, crop_prepare, make_bundle

    from patch2loc.bids.demo import write_demo_bids

    raw = write_demo_bids(tmp_path / "raw", spacing=SPACING)
    bundle = make_bundle(tmp_path / "model", "T1T2", ("T1", "T2"))

    def shifted(self, image, mask, out_dir, subject, skull_strip=None):
        made = crop_prepare(self, image, mask, out_dir, subject, skull_strip)
        if self.modality == "T2":
            img = nib.load(made[0])
            affine = img.affine.copy()
            affine[0, 3] += SPACING
            nib.save(nib.Nifti1Image(np.asarray(img.dataobj), affine), made[0])
        return made

    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", shifted)
    anat, masks = raw / "sub-02" / "anat", raw / "derivatives" / "masks" / "sub-02" / "anat"
    argv = [
        *("predict", "--model", str(bundle), "--image", str(anat / "sub-02_T1w.nii.gz")),
        *("--mask", str(masks / "sub-02_space-T1w_desc-brain_mask.nii.gz")),
        *("--contrast", f"T2={anat / 'sub-02_T2w.nii.gz'}"),
        *("--contrast-mask", f"T2={masks / 'sub-02_space-T2w_desc-brain_mask.nii.gz'}"),
        *("--out", str(tmp_path / "o" / "s.nii.gz"), "--device", "cpu", "--quiet"),
    ]
    line = refused(argv, "do not stack with the reference scan", raw, capsys)
    assert "--contrast T2" in line and "sub-02_T2w.nii.gz" in line and "grid" in line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_each_contrast_is_checked_against_its_own_training_range():
    """checks.intensities.recorded_range: contrast c of a stack is read against `intensity_ranges[c]`,
    the first against `intensity_range` too when a checkpoint has no list."""
    from patch2loc.checks.intensities import check_training_range, recorded_range
    from patch2loc.errors import InputError

    ranges = [{"p1": 0.0, "p99": 1.2}, {"p1": 100.0, "p99": 200.0}]
    models = [("m.pt", {"config": {"intensity_range": ranges[0], "intensity_ranges": ranges}})]
    assert [recorded_range(models[0][1], c) for c in (0, 1)] == ranges
    old = [("old.pt", {"config": {"intensity_range": ranges[0]}})]
    assert recorded_range(old[0][1], 0) == ranges[0]
    assert recorded_range(old[0][1], 1) is None
    brain = np.ones((4, 4, 4), bool)
    normalised = np.linspace(0.1, 1.0, 64, dtype=np.float32).reshape(4, 4, 4)
    check_training_range(normalised, brain, models, "t1.nii.gz", False, contrast=0)
    with pytest.raises(InputError, match="t2.nii.gz: its in-brain intensities"):
        check_training_range(normalised, brain, models, "t2.nii.gz", False, contrast=1)


@pytest.mark.slow
def test_a_second_contrast_outside_its_training_range_is_refused_naming_its_file(t1t2, tmp_path, capsys):
    import shutil

    base, run, t1, t2, _ = t1t2
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    ckpt_path = Path(RunLayout(copy).checkpoint("T1T2", 0))
    ckpt = torch.load(ckpt_path, weights_only=False)
    normal = {"p1": 0.0, "p99": 1.2}  # a normalised scan's in-brain range (98th percentile = 1)
    for t2_range, refusing in ((normal, False), ({"p1": 100.0, "p99": 200.0}, True)):
        ckpt["config"].update(intensity_range=normal, intensity_ranges=[normal, t2_range])
        torch.save(ckpt, ckpt_path)
        out = tmp_path / f"o{refusing}" / "s.nii.gz"
        if refusing:
            assert f"{t2.image} (T2): its in-brain intensities" in refused(
                _argv(copy, t1, out, t2=t2), "--force", base, capsys
            )
            assert not out.parent.exists()
        else:
            assert cli.main(_argv(copy, t1, out, t2=t2)) == 0
