"""The demo's synthetic data: deterministic, masks aligned with lesions, hard for a threshold."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_dilation
from sklearn.metrics import average_precision_score

from patch2loc.datasets import LESION_DATASETS, MODALITIES, raw_paths
from patch2loc.io import load_volume
from patch2loc.synth import demo_subject_ids, make_atlas, render_scan, synthesize_dataset

SPACING = 4.0  # coarse voxels keep every test under a few seconds


def test_render_is_deterministic_and_subjects_differ():
    a = render_scan("IXI", "T1", seed=11, spacing=SPACING)
    b = render_scan("IXI", "T1", seed=11, spacing=SPACING)
    c = render_scan("IXI", "T1", seed=12, spacing=SPACING)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.brain, b.brain)
    assert np.array_equal(a.affine, b.affine)
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("dataset", LESION_DATASETS)
def test_lesion_mask_lines_up_with_the_lesion(dataset):
    modality = MODALITIES[dataset][0]
    sick = render_scan(dataset, modality, seed=5, spacing=SPACING, noise=False)
    healthy = render_scan(dataset, modality, seed=5, spacing=SPACING, lesion=False, noise=False)
    lesion = sick.seg > 0
    assert lesion.any(), "every lesion subject carries a lesion"
    assert np.all(sick.brain[lesion]), "lesions lie inside the brain mask"
    changed = ~np.isclose(sick.image, healthy.image, atol=1e-4)
    # Without noise the image differs from its lesion-free twin only where the mask says lesion
    # (the image is resampled linearly and the mask with nearest neighbour after the pose, so
    # partial-volume voxels up to two voxels from the mask may change too).
    rim = binary_dilation(lesion, structure=np.ones((3, 3, 3), bool), iterations=2)
    assert not np.any(changed & ~rim)
    assert changed[lesion].mean() > 0.5


@pytest.mark.parametrize("dataset", LESION_DATASETS)
def test_intensity_threshold_alone_cannot_find_the_lesions(dataset):
    modality = MODALITIES[dataset][0]
    auprcs = []
    for seed in (1, 2):
        scan = render_scan(dataset, modality, seed=seed, spacing=SPACING)
        inside = scan.brain
        labels = scan.seg[inside] > 0
        intensity = scan.image[inside]
        # Either direction of the intensity: T2 lesions are bright, T1 ones dark.
        auprcs.append(max(average_precision_score(labels, intensity), average_precision_score(labels, -intensity)))
    assert max(auprcs) < 0.8, auprcs
    assert np.mean(auprcs) < 0.5, auprcs


def test_dataset_is_written_in_the_real_raw_layout(tmp_path):
    subjects = demo_subject_ids("WMH", 2)
    scans = synthesize_dataset("WMH", subjects, tmp_path, seed=3, spacing=SPACING)
    assert [s.subject for s in scans] == subjects
    for s in scans:
        expected = raw_paths("WMH", tmp_path, s.subject, "T1")
        assert expected.image.exists() and expected.seg.exists() and expected.mask.exists()
        img = load_volume(expected.image)
        assert img.data.shape == load_volume(expected.seg).data.shape
        assert np.allclose(np.abs(np.diag(img.affine))[:3].max(), SPACING, atol=0.5 * SPACING)


def test_ids_look_real_and_parse():
    assert demo_subject_ids("IXI", 2)[0].startswith("IXI")
    for dataset in MODALITIES:
        for subject in demo_subject_ids(dataset, 3):
            raw_paths(dataset, "/x", subject, MODALITIES[dataset][0])  # no parsing error


def test_atlas_has_a_brain(tmp_path):
    image, mask = make_atlas(tmp_path / "atlas.nii.gz", tmp_path / "mask.nii.gz", spacing=SPACING)
    m = load_volume(mask).data > 0
    assert m.any() and load_volume(image).data[m].mean() > 0
