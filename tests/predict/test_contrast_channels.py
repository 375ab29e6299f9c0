"""The wrong scan in a contrast channel of a T1T2 model (checks/contrasts.py): the same file or the same
bytes in two channels and the BIDS names of two subjects, refused before any registration; after the
registration, a slab that covers little of the reference's brain, and swapped contrasts (each channel's
tissue order), refused, or warned with --skip-tissue-order; a genuine pair still scored, its summary
naming every scan and mask. Each refusal: one line, exit 2, nothing written, no input changed."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pytest

from tests.helpers.safety import refused

from patch2loc import cli
from patch2loc.checks.intensities import ScanWarning

pytest.importorskip("bids")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from tests.helpers.bids import demo_t1t2

    return demo_t1t2(tmp_path_factory.mktemp("channels"))


@pytest.fixture
def case(made, tmp_path, monkeypatch):
    """sub-02's four files and sub-01's T2 copied under tmp_path/in, and the argv that scores them; the
    registration is tests/helpers/bids.py's crop (the checks read its outputs as the chain's)."""
    from tests.helpers.bids import crop_prepare

    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", crop_prepare)
    raw, bundle = made
    anat, masks = raw / "sub-02" / "anat", raw / "derivatives" / "masks" / "sub-02" / "anat"
    other = raw / "sub-01" / "ses-1" / "anat" / "sub-01_ses-1_T2w.nii.gz"
    files = {
        "t1": anat / "sub-02_T1w.nii.gz",
        "t1_mask": masks / "sub-02_space-T1w_desc-brain_mask.nii.gz",
        "t2": anat / "sub-02_T2w.nii.gz",
        "t2_mask": masks / "sub-02_space-T2w_desc-brain_mask.nii.gz",
        "other_t2": other,
    }
    (tmp_path / "in").mkdir()
    files = {k: shutil.copy(v, tmp_path / "in" / v.name) for k, v in files.items()}
    files["bundle"] = shutil.copy(bundle, tmp_path / "in" / bundle.name)

    def argv(*extra, **given):
        f = {**files, **given}
        return [
            *("predict", "--model", str(f["bundle"]), "--image", str(f["t1"]), "--mask", str(f["t1_mask"])),
            *("--contrast", f"T2={f['t2']}", "--contrast-mask", f"T2={f['t2_mask']}"),
            *("--out", str(tmp_path / "out" / "s.nii.gz"), "--device", "cpu", "--quiet", *extra),
        ]

    return files, argv


def _no_registration(*args, **kwargs):
    raise AssertionError("a registration started before the channels' files were checked")


def test_the_same_file_in_both_channels_is_refused_before_registration(case, tmp_path, capsys, monkeypatch):
    files, argv = case
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_registration)
    line = refused(argv(t2=files["t1"], t2_mask=files["t1_mask"]), "is the same file as --image", tmp_path, capsys)
    assert "--contrast T2" in line


def test_a_copy_of_the_reference_scan_is_the_same_scan(case, tmp_path, capsys, monkeypatch):
    files, argv = case
    copy = shutil.copy(files["t1"], tmp_path / "in" / "renamed_t2.nii.gz")
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_registration)
    refused(argv(t2=copy, t2_mask=files["t1_mask"]), "same scan (the same bytes)", tmp_path, capsys)


def test_another_subjects_scan_by_its_bids_name_is_refused(case, tmp_path, capsys, monkeypatch):
    files, argv = case
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_registration)
    line = refused(argv(t2=files["other_t2"]), "different subjects", tmp_path, capsys)
    assert "--image sub-02" in line and "--contrast T2 sub-01" in line


def test_a_slab_covering_a_few_slices_is_refused_before_registration(case, tmp_path, capsys, monkeypatch):
    """An affine registration stretches a slab over the whole atlas: its brain is measured in mL before."""
    files, argv = case
    t2, mask = nib.load(files["t2"]), nib.load(files["t2_mask"])
    keep = np.zeros(t2.shape, bool)
    middle = t2.shape[2] // 2
    keep[:, :, middle - 3 : middle + 3] = True  # six 6 mm slices of the brain
    slab = tmp_path / "in" / "slab_T2w.nii.gz"
    slab_mask = tmp_path / "in" / "slab_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.where(keep, np.asarray(t2.dataobj), 0).astype(np.float32), t2.affine), slab)
    nib.save(nib.Nifti1Image((keep & (np.asarray(mask.dataobj) > 0)).astype(np.uint8), t2.affine), slab_mask)
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_registration)
    line = refused(argv(t2=slab, t2_mask=slab_mask), "--contrast-mask T2's brain mask holds", tmp_path, capsys)
    assert line.startswith(f"patch2loc predict: error: {slab_mask}: ") and "at least 60% needed" in line


def test_swapped_contrasts_are_refused_by_their_tissue_order(case, tmp_path, capsys):
    files, argv = case
    swapped = argv(t1=files["t2"], t1_mask=files["t2_mask"], t2=files["t1"], t2_mask=files["t1_mask"])
    line = refused(swapped, "tissue order is not a T1's", tmp_path, capsys)
    assert "--image" in line and "--skip-tissue-order" in line


def test_skip_tissue_order_scores_swapped_contrasts_with_one_warning(case, tmp_path, capsys):
    files, argv = case
    swapped = argv(
        "--skip-tissue-order", t1=files["t2"], t1_mask=files["t2_mask"], t2=files["t1"], t2_mask=files["t1_mask"]
    )
    capsys.readouterr()
    with pytest.warns(ScanWarning) as said:  # the command line prints each as one line
        assert cli.main(swapped) == 0
    lines = [str(w.message) for w in said if "tissue order" in str(w.message)]
    assert len(lines) == 2, lines  # one per channel, each naming its flag and file
    assert lines[0].startswith(f"--image {files['t2']}: its tissue order is not a T1's")
    assert lines[1].startswith(f"--contrast T2 {files['t1']}: its tissue order is not a T2's")


def test_a_genuine_pair_is_scored_and_its_summary_names_every_scan_and_mask(case, tmp_path, capsys):
    files, argv = case
    capsys.readouterr()
    assert cli.main(argv()) == 0
    assert capsys.readouterr().err == ""
    summary = json.loads((tmp_path / "out" / "s_summary.json").read_text())
    scans = summary["inputs"]["scans"]
    assert scans["T1"] == {"image": str(files["t1"]), "mask": str(files["t1_mask"])}
    assert scans["T2"] == {"image": str(files["t2"]), "mask": str(files["t2_mask"])}
    channels = summary["inputs"]["channels"]
    assert channels["contrasts"] == ["T1", "T2"] and min(channels["coverage"]) >= 0.6
    assert channels["rim_contrast"][0] < 0 < channels["rim_contrast"][1]


def _brain(shape=(24, 24, 16)):
    x, y, z = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    depth = 1 - np.sqrt(x**2 + y**2 + z**2)
    return depth > 0.1, depth


def test_the_rim_contrast_reads_t1_and_t2_order():
    from patch2loc.checks.contrasts import rim_contrast

    brain, depth = _brain()
    t1 = np.where(brain, depth, 0).astype(np.float32)  # brighter inside (white matter), darker at the rim
    assert rim_contrast(t1, brain) < -0.05 < 0.05 < rim_contrast(-t1, brain)


def test_channels_refuse_a_monotone_copy_and_a_wrong_order_in_memory():
    from patch2loc.checks.contrasts import ChannelProblem, check_channels

    brain, depth = _brain()
    t1 = np.where(brain, depth, 0).astype(np.float32)
    t2 = np.where(brain, 1 - depth + 0.01 * np.random.default_rng(0).normal(size=depth.shape), 0).astype(np.float32)
    assert check_channels([t1, t2], [brain, brain], ["T1", "T2"], ["a", "b"])["tissue_order_checked"]
    with pytest.raises(ChannelProblem, match="b: its voxels follow a's one for one"):
        check_channels([t1, 2 * t1 + 1], [brain, brain], ["T1", "T2"], ["a", "b"])
    with pytest.raises(ChannelProblem, match="a: its tissue order is not a T1's"):
        check_channels([t2, t1], [brain, brain], ["T1", "T2"], ["a", "b"])
    half = brain.copy()
    half[:, :, : brain.shape[2] // 2] = False  # registered, but covering half the reference's brain
    with pytest.raises(ChannelProblem, match=r"b: after registration its brain mask covers 5\d\.\d% of the reference"):
        check_channels([t1, t2], [brain, half], ["T1", "T2"], ["a", "b"])


def test_the_workflows_stacking_checks_the_channels_it_is_named(tmp_path):
    """workflow/scripts/stack_contrasts.py passes the input's contrasts (config `inputs`): swapped channels are
    refused there too, and nothing is written; without names (a stack of unknown contrasts) nothing is checked."""
    from patch2loc.checks.contrasts import ChannelProblem
    from patch2loc.preprocessing.stack import stack_contrasts

    brain, depth = _brain()
    t1 = np.where(brain, depth, 0).astype(np.float32)
    files = {}
    for name, data in (("t1", t1), ("t2", np.where(brain, 1.2 - depth, 0).astype(np.float32)), ("m", brain)):
        files[name] = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(data.astype(np.float32 if name != "m" else np.uint8), np.eye(4)), files[name])
    out = tmp_path / "stack.nii.gz", tmp_path / "stack_mask.nii.gz"
    with pytest.raises(ChannelProblem, match="T1 .*t2.nii.gz: its tissue order is not a T1's"):
        stack_contrasts([files["t2"], files["t1"]], [files["m"]] * 2, *out, contrasts=["T1", "T2"],
                        labels=[f"T1 {files['t2']}", f"T2 {files['t1']}"])  # fmt: skip
    assert not any(p.exists() for p in out)
    stack_contrasts([files["t1"], files["t2"]], [files["m"]] * 2, *out, contrasts=["T1", "T2"])
    assert nib.load(out[0]).shape == (*brain.shape, 2)
