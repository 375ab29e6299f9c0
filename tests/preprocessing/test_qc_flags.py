"""QC outlier rules: robust z with a MAD floor, and absolute limits that work for tiny tables."""

from __future__ import annotations

import json

from patch2loc.preprocessing.qc import qc_table


def _record(
    tmp_path,
    subject,
    *,
    metric=-1.1,
    dice=0.94,
    volume=1400.0,
    rotation=8.0,
    stretch=(0.95, 1.04),
    reflects=False,
    **extra,
):
    path = tmp_path / f"{subject}.json"
    path.write_text(
        json.dumps(
            {
                **extra,
                "dataset": "WMH",
                "modality": "T1",
                "subject": subject,
                "registration_metric": metric,
                "atlas_mask_dice": dice,
                "brain_volume_ml": volume,
                "registration_rotation_deg": rotation,
                "registration_stretch_min": stretch[0],
                "registration_stretch_max": stretch[1],
                "registration_reflects": reflects,
            }
        )
    )
    return path


def test_near_identical_scans_are_not_outliers(tmp_path):
    # 1 % differences: without the MAD floor the robust z of the last one would be huge
    paths = [_record(tmp_path, f"s{i}", metric=-1.10 - 0.001 * i, volume=1400 + i) for i in range(5)]
    paths.append(_record(tmp_path, "s5", metric=-1.12, volume=1415))
    assert not qc_table(paths)["outlier"].any()


def test_a_misregistered_scan_is_flagged_even_in_a_table_of_two(tmp_path):
    good = _record(tmp_path, "good")
    bad = _record(tmp_path, "bad", metric=-0.6, dice=0.90, stretch=(0.74, 1.17))
    table = qc_table([good, bad]).set_index("subject")
    assert table.loc["bad", "outlier"] and "registration_affine" in table.loc["bad", "outlier_reason"]
    assert not table.loc["good", "outlier"]


def test_poor_mutual_information_is_flagged_among_three(tmp_path):
    paths = [
        _record(tmp_path, "a", metric=-1.12),
        _record(tmp_path, "b", metric=-1.10),
        _record(tmp_path, "c", metric=-0.60),
    ]
    table = qc_table(paths).set_index("subject")
    assert table["outlier"].tolist() == [False, False, True]
    assert table.loc["c", "outlier_reason"] == "registration_metric"


def test_rotation_reflection_and_low_overlap_are_flagged(tmp_path):
    paths = [
        _record(tmp_path, "ok"),
        _record(tmp_path, "tilted", rotation=85.0),
        _record(tmp_path, "mirrored", reflects=True),
        _record(tmp_path, "off", dice=0.5),
    ]
    table = qc_table(paths).set_index("subject")
    assert table["outlier"].to_dict() == {"ok": False, "tilted": True, "mirrored": True, "off": True}


def test_a_scan_with_unusual_voxel_sizes_is_flagged(tmp_path):
    """IXI014-HH-1236's T2: 0.90 x 0.90 x 4.98 mm among IXI T2 scans of 0.94 x 0.94 x 1.2 mm."""
    usual = [(0.9375, 0.9375, 1.2), (0.9375, 0.9375, 1.2), (0.94, 0.94, 1.25), (0.9, 0.9, 1.2)]
    paths = [_record(tmp_path, f"IXI{i}", native_spacing=list(s)) for i, s in enumerate(usual)]
    paths.append(_record(tmp_path, "IXI014-HH-1236", native_spacing=[0.8984, 0.8984, 4.9765]))
    table = qc_table(paths)
    assert table["outlier"].tolist() == [False] * 4 + [True]
    assert table["outlier_reason"].iloc[-1] == "native_spacing"
    assert table["native_spacing"].iloc[-1] == "0.898 x 0.898 x 4.98"
    # WMH's three sites (3 mm slices, 0.96-1.2 mm in-plane) are one dataset's usual spread.
    sites = [(0.958, 0.958, 3.0), (1.0, 1.0, 3.0), (1.2, 0.977, 3.0)]
    table = qc_table([_record(tmp_path, f"w{i}", native_spacing=list(s)) for i, s in enumerate(sites)])
    assert not table["outlier"].any()
