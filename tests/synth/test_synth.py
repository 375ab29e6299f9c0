"""Tests of the synthetic demo data (patch2loc.synth), at the demo's 2 mm spacing."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import average_precision_score

pytest.importorskip("nilearn")

from patch2loc import synth  # noqa: E402
from patch2loc.data.layouts import LESION_DATASETS, MODALITIES, raw_paths  # noqa: E402
from patch2loc.files.io import load_volume  # noqa: E402

SPACING = 4.0  # coarse voxels keep most tests at about a second
DEMO_SPACING = 2.0  # the demo's own spacing, for the lesion properties that depend on it


def test_demo_ids_are_deterministic_unique_and_parse():
    for dataset in MODALITIES:
        ids = synth.demo_subject_ids(dataset, 5)
        assert ids == synth.demo_subject_ids(dataset, 5)
        assert len(set(ids)) == 5
        assert synth.demo_subject_ids(dataset, 7)[:5] == ids  # more subjects keep the first ones
        for subject in ids:
            paths = raw_paths(dataset, "/raw", subject, MODALITIES[dataset][0])
            key = subject.replace("_", "/") if dataset == "WMH" else subject  # WMH: <site>/<id>/
            assert key in str(paths.image) and paths.image.parts[:3] == ("/", "raw", dataset)
    assert synth.demo_subject_ids("IXI", 4) == [
        "IXI900-Guys-1000",
        "IXI901-HH-1001",
        "IXI902-IOP-1002",
        "IXI903-Guys-1003",
    ]  # IXI's sites, in turn
    atlas = raw_paths("ATLAS_v2", "/raw", synth.demo_subject_ids("ATLAS_v2", 1)[0], "T1")
    assert "/R099/" in str(atlas.image)
    wmh = raw_paths("WMH", "/raw", synth.demo_subject_ids("WMH", 1)[0], "T1")
    assert wmh.image.parts[-4:-2] == ("Demo", "01")
    with pytest.raises(ValueError):
        synth.demo_subject_ids("IXI", 101)
    with pytest.raises(ValueError):
        synth.demo_subject_ids("OASIS", 1)


def test_demo_ixi_sites_keep_each_brain_and_demographics_have_ixis_columns(tmp_path):
    from patch2loc.data.demographics import COLUMNS, read_ixi_demographics

    # the seed of a demo IXI id is that of its name before sites were added: the brains stay the same
    assert synth.subject_seed(7, "IXI", "IXI912-Guys-1012") == zlib.crc32(b"7/IXI/IXI912-Demo-1012")
    assert synth.subject_seed(7, "IXI", "IXI101-Guys-1100") == zlib.crc32(b"7/IXI/IXI101-Guys-1100")  # not a demo id
    ids = synth.demo_subject_ids("IXI", 6)
    table = synth.ixi_demographics(ids, seed=7)
    assert tuple(table.columns) == COLUMNS and table["IXI_ID"].tolist() == list(range(900, 906))
    assert table["SEX_ID"].isin([1, 2]).all() and table["AGE"].between(20, 86).all()
    assert table.equals(synth.ixi_demographics(ids, seed=7))  # deterministic
    path = synth.write_ixi_demographics_csv(ids, 7, tmp_path / "IXI.csv")
    read = read_ixi_demographics(path)
    assert read["ixi_id"].tolist() == list(range(900, 906)) and set(read["sex"]) <= {"M", "F"}
    assert read["age"].tolist() == table["AGE"].tolist()


def test_render_is_deterministic_and_subjects_differ():
    a = synth.render_scan("MSLUB", "T2", seed=11, spacing=SPACING)
    b = synth.render_scan("MSLUB", "T2", seed=11, spacing=SPACING)
    c = synth.render_scan("MSLUB", "T2", seed=12, spacing=SPACING)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.seg.tobytes() == b.seg.tobytes() and a.brain.tobytes() == b.brain.tobytes()
    assert a.image.dtype == np.float32 and np.isfinite(a.image).all()
    assert not np.array_equal(a.seg, c.seg)
    assert np.abs(a.image - c.image).mean() > 0.05 * a.image[a.brain].mean()


@pytest.mark.parametrize("dataset", LESION_DATASETS)
def test_lesion_changes_the_image_only_where_the_mask_is(dataset):
    modality = MODALITIES[dataset][0]
    sick = synth.render_scan(dataset, modality, seed=5, spacing=DEMO_SPACING, noise=False)
    healthy = synth.render_scan(dataset, modality, seed=5, spacing=DEMO_SPACING, noise=False, lesion=False)
    lesion = sick.seg > 0
    assert healthy.seg is None and lesion.sum() > 3
    assert not (lesion & ~sick.brain).any()  # every lesion voxel is inside the brain mask
    np.testing.assert_array_equal(sick.brain, healthy.brain)
    changed = sick.image != healthy.image
    assert changed[lesion].mean() > 0.99
    # Linear interpolation of the image vs nearest neighbour of the mask: a change may show up to
    # two voxels beyond the mask; thin lesion parts that no native voxel samples may leave a trace.
    near = ndimage.binary_dilation(lesion, structure=np.ones((3, 3, 3)), iterations=2)
    assert (changed & ~near).sum() <= 0.01 * lesion.sum()
    labels = set(np.unique(sick.seg).tolist())
    expected = {"BraTS21": {0, 1, 2, 4}, "WMH": {0, 1, 2}}.get(dataset, {0, 1})
    assert labels == expected


@pytest.mark.parametrize("dataset", LESION_DATASETS)
def test_intensity_threshold_cannot_find_the_lesions(dataset):
    modality = MODALITIES[dataset][0]
    for seed in (1, 2):
        scan = synth.render_scan(dataset, modality, seed=seed, spacing=DEMO_SPACING)
        y = scan.seg[scan.brain] > 0
        x = scan.image[scan.brain]
        # Thresh baseline: brighter = more abnormal (T2); T1 lesions are dark, so try both ways.
        assert average_precision_score(y, x) < 0.5
        assert average_precision_score(y, -x) < 0.5
        # Lesion intensities lie within the normal tissue range of the same scan.
        lo, hi = np.percentile(x[~y], [1, 99])
        assert lo < np.median(x[y]) < hi


def _template_voxels(scan: synth.Rendered, tpl: synth.Template) -> tuple[np.ndarray, np.ndarray]:
    """Template voxel of every native brain voxel, following the affine and the inverse pose.

    Returns (indices [3, N] clipped to the grid, whether each was inside the grid).
    """
    vox = np.argwhere(scan.brain).T
    world = scan.affine[:3, :3] @ vox + scan.affine[:3, 3:4]
    back = np.linalg.inv(scan.pose) @ np.vstack([world, np.ones(world.shape[1])])
    tvox = np.rint(np.linalg.inv(tpl.affine) @ back)[:3].astype(int)
    ok = np.all((tvox >= 0) & (tvox < np.array(tpl.shape)[:, None]), axis=0)
    return np.clip(tvox, 0, np.array(tpl.shape)[:, None] - 1), ok


def test_native_affine_puts_the_posed_brain_at_its_world_place():
    tpl = synth.load_template(SPACING)
    scan = synth.render_scan("IXI", "T1", seed=3, spacing=SPACING, noise=False)
    assert not np.allclose(scan.pose, np.eye(4))
    tvox, ok = _template_voxels(scan, tpl)
    inside = ok & tpl.brain[tuple(tvox)]
    assert inside.mean() > 0.95  # only the few-mm smooth deformation moves voxels off
    # ... and it hardly moves the centre of the brain (a wrong affine or pose would, by cm).
    centre_mm = (tvox[:, ok].mean(1) - np.argwhere(tpl.brain).mean(0)) * SPACING
    assert np.abs(centre_mm).max() < 2.5
    # The brain volume in mm^3 only changes by the pose's scaling (+-5% per axis).
    ratio = scan.brain.sum() / tpl.brain.sum()
    assert abs(ratio - np.linalg.det(scan.pose[:3, :3])) < 0.03
    assert np.allclose(np.abs(np.diag(scan.affine[:3, :3])), SPACING)


def test_tissue_contrasts_and_shared_anatomy():
    tpl = synth.load_template(SPACING)
    t1 = synth.render_scan("IXI", "T1", seed=4, spacing=SPACING, noise=False)
    t2 = synth.render_scan("IXI", "T2", seed=4, spacing=SPACING, noise=False)
    assert not np.allclose(t1.pose, t2.pose)  # two acquisitions of one brain
    ratio = t1.brain.sum() / t2.brain.sum()
    assert abs(ratio - np.linalg.det(t1.pose[:3, :3]) / np.linalg.det(t2.pose[:3, :3])) < 0.03
    medians = {}
    for name, scan in (("T1", t1), ("T2", t2)):
        tvox, _ = _template_voxels(scan, tpl)
        x = scan.image[scan.brain]
        medians[name] = {t: np.median(x[getattr(tpl, t)[tuple(tvox)] > 0.9]) for t in ("csf", "gm", "wm")}
    assert medians["T1"]["wm"] > medians["T1"]["gm"] > medians["T1"]["csf"]
    assert medians["T2"]["csf"] > medians["T2"]["gm"] > medians["T2"]["wm"]


def test_synthesize_dataset_writes_the_raw_layouts(tmp_path):
    ixi = synth.synthesize_dataset("IXI", synth.demo_subject_ids("IXI", 1), tmp_path, seed=0, spacing=SPACING)
    assert [s.modality for s in ixi] == ["T1", "T2"]
    for scan in ixi:
        img = load_volume(scan.image)
        mask = load_volume(scan.mask, kind="brain mask")
        assert img.data.shape == mask.data.shape and mask.data.sum() > 1000
        assert np.allclose(img.affine, mask.affine)
        assert np.allclose(np.abs(np.diag(img.affine)[:3]), SPACING)
        assert scan.seg is None

    (brats,) = synth.synthesize_dataset("BraTS21", ["BraTS2021_90000"], tmp_path, seed=0, spacing=SPACING)
    assert brats.mask is None and not any(p.name.endswith("brainmask.nii.gz") for p in brats.image.parent.iterdir())
    img = load_volume(brats.image).data
    seg = load_volume(brats.seg, kind="lesion mask").data
    assert set(np.unique(seg).tolist()) == {0, 1, 2, 4}
    assert (img == 0).mean() > 0.3 and (img[seg > 0] > 0).all()  # skull-stripped, lesion inside
    assert not list(tmp_path.rglob(".*"))  # no temporary files left behind


def test_adding_subjects_keeps_existing_ones(tmp_path):
    one = synth.synthesize_dataset("WMH", ["Demo_01"], tmp_path / "a", seed=7, spacing=SPACING)
    two = synth.synthesize_dataset("WMH", ["Demo_01", "Demo_02"], tmp_path / "b", seed=7, spacing=SPACING)
    a, b, c = (load_volume(s.image).data for s in (one[0], two[0], two[1]))
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    assert set(np.unique(load_volume(two[0].seg).data).tolist()) == {0, 1, 2}


def test_make_atlas_writes_a_skull_stripped_template_and_mask(tmp_path):
    image, mask = synth.make_atlas(tmp_path / "atlas.nii.gz", tmp_path / "atlas_mask.nii.gz", spacing=SPACING)
    img = load_volume(image)
    msk = load_volume(mask, kind="brain mask").data > 0
    litres = msk.sum() * SPACING**3 / 1e6
    assert 1.8 < litres < 1.95  # nilearn's MNI152 brain mask: 1.88 litres at 1 mm (CSF and brainstem included)
    assert (img.data[~msk] == 0).all() and (img.data[msk] > 0).all()
    assert np.allclose(np.diag(img.affine)[:3], SPACING)
    assert np.allclose(img.affine[:3, 3], [-98, -134, -72])  # MNI152 grid origin


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        synth.render_scan("IXI", "FLAIR", seed=0)
    with pytest.raises(ValueError):
        synth.render_scan("OASIS", "T1", seed=0)


@pytest.mark.parametrize("dataset, pushes", [("BraTS21", True), ("ATLAS_v2", False)])
def test_anatomical_lesions_move_the_brain_around_them(dataset, pushes):
    """The anatomical model keeps the intensity model's labels and mixtures and adds a displacement:
    a tumour pushes the tissue around it away (the healthy tissue seen at a voxel comes from nearer
    the tumour), a stroke pulls it in; nothing moves outside the brain, and the rendered image
    changes beyond the lesion (the intensity model's changes stay within two voxels of it)."""
    plain = synth.draw_lesions(dataset, DEMO_SPACING, 5)
    moved = synth.draw_lesions(dataset, DEMO_SPACING, 5, model="anatomical")
    assert plain.displacement is None and moved.displacement is not None
    np.testing.assert_array_equal(plain.labels, moved.labels)
    np.testing.assert_array_equal(plain.composition, moved.composition)
    tpl = synth.load_template(DEMO_SPACING)
    assert not moved.displacement[:, ~tpl.brain].any()
    lesion = plain.labels > 0
    world = tpl.world()
    centre = np.array([world[i][lesion].mean() for i in range(3)])
    ring = ndimage.binary_dilation(lesion, iterations=3) & ~lesion & (tpl.depth_mm > 15.0)
    outward = np.einsum("ixyz,ixyz->xyz", moved.displacement, world - centre[:, None, None, None])[ring]
    assert (np.mean(outward < 0) if pushes else np.mean(outward > 0)) > 0.9

    modality = MODALITIES[dataset][0]
    sick = synth.render_scan(dataset, modality, seed=5, spacing=DEMO_SPACING, noise=False, lesion_model="anatomical")
    healthy = synth.render_scan(dataset, modality, seed=5, spacing=DEMO_SPACING, noise=False, lesion=False)
    near = ndimage.binary_dilation(sick.seg > 0, structure=np.ones((3, 3, 3)), iterations=2)
    assert ((sick.image != healthy.image) & ~near & sick.brain).sum() > 0.05 * (sick.seg > 0).sum()


def test_mass_effect_only_for_tumours_and_strokes():
    for dataset in ("MSLUB", "WMH"):
        assert synth.draw_lesions(dataset, DEMO_SPACING, 5, model="anatomical").displacement is None
    with pytest.raises(ValueError, match="lesion model"):
        synth.draw_lesions("BraTS21", DEMO_SPACING, 5, model="mass")
