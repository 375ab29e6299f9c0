"""Quality control of preprocessing: a PNG per scan, a table per dataset, one HTML page.

Outliers are flagged with the robust z-score 0.6745 * (x - median) / MAD > 3.5 (Iglewicz &
Hoaglin) on brain volume, the registration metric and the overlap of the registered brain mask
with the atlas's: a failed skull strip or registration shows up as an unusual brain volume, a poor
final mutual information or a brain that does not sit on the atlas brain. Two guards for small
tables: the MAD is at least MIN_RELATIVE_MAD of the median's magnitude (a handful of near-identical
scans must not make a 1 % difference an "outlier"), and absolute limits flag a scan whatever the
other scans look like (a median of two scans says nothing): an overlap below MIN_ATLAS_DICE, or a
registration whose linear part rotates by more than MAX_ROTATION_DEG, stretches outside
STRETCH_RANGE or reflects. Heads lie upright in every scanner and brains differ in size by far less
than that, so such a transform means a wrong orientation header or a failed registration.

A scan acquired unlike the rest of its dataset is flagged too (`native_spacing`): its largest or
smallest native voxel side differs from the table's median by more than SPACING_RATIO (IXI014-HH-1236's
T2 has 4.98 mm slices where the other IXI T2 scans have 1.2 mm). Masks that had to be moved onto
their image's grid are listed (`grid_resampled`), not flagged: that is how some datasets ship.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from patch2loc.files.io import load_case
from patch2loc.files.staging import atomic_output
from patch2loc.preprocessing.grid import describe

OUTLIER_Z = 3.5
OUTLIER_COLUMNS = ("brain_volume_ml", "registration_metric", "atlas_mask_dice")
MIN_RELATIVE_MAD = 0.05
MIN_ATLAS_DICE = 0.7  # registered brain mask vs atlas brain mask; well-registered scans: > 0.85
MAX_ROTATION_DEG = 30.0
STRETCH_RANGE = (0.8, 1.25)
SPACING_RATIO = 1.5  # native voxel side vs the table's median (largest and smallest side)


def _mid_slices(volume: np.ndarray, centre: Sequence[int]) -> list[np.ndarray]:
    """Sagittal, coronal and axial slices through `centre`, rotated for display."""
    x, y, z = centre
    return [np.rot90(volume[x, :, :]), np.rot90(volume[:, y, :]), np.rot90(volume[:, :, z])]


def qc_png(
    image: str | os.PathLike | np.ndarray,
    mask: str | os.PathLike | np.ndarray,
    out_png: str | os.PathLike,
    title: str = "",
) -> Path:
    """Three orthogonal slices through the brain's centre with the brain-mask outline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(image, np.ndarray):
        data, brain = np.asarray(image, dtype=np.float32), np.asarray(mask) > 0
    else:
        case = load_case(image, mask)
        data, brain = case.image.data, case.mask
        title = title or Path(image).parent.name
    centre = np.round(np.argwhere(brain).mean(0)).astype(int) if brain.any() else np.array(data.shape) // 2
    vmax = float(np.percentile(data[brain], 99.5)) if brain.any() else float(data.max() or 1.0)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.4))
    for ax, img, msk, name in zip(
        axes, _mid_slices(data, centre), _mid_slices(brain, centre), ("sagittal", "coronal", "axial")
    ):
        ax.imshow(img, cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
        if msk.any() and not msk.all():
            ax.contour(msk.astype(float), levels=[0.5], colors="r", linewidths=0.7)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_output(out_png) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return Path(out_png)


def robust_z(values: pd.Series) -> pd.Series:
    """0.6745 * (x - median) / MAD; 0 where the MAD is 0 (all equal)."""
    v = pd.to_numeric(values, errors="coerce")
    if v.isna().all():  # e.g. qc.json files written before the column existed
        return pd.Series(0.0, index=v.index)
    mad = float(np.nanmedian(np.abs(v - np.nanmedian(v))))
    mad = max(mad, MIN_RELATIVE_MAD * abs(float(np.nanmedian(v))))
    if not mad > 0:
        return pd.Series(0.0, index=v.index)
    return 0.6745 * (v - np.nanmedian(v)) / mad


def qc_table(qc_jsons: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """One row per qc.json: registration metric, brain volume, intensity percentiles, outliers."""
    rows = []
    for path in qc_jsons:
        record = json.loads(Path(path).read_text())
        row = {
            k: record.get(k)
            for k in (
                "dataset",
                "modality",
                "subject",
                "registration_metric",
                "atlas_mask_dice",
                "brain_volume_ml",
                "lesion_volume_ml",
                "registration_rotation_deg",
                "registration_stretch_min",
                "registration_stretch_max",
                "registration_reflects",
            )
        }
        for p, v in (record.get("intensity_percentiles") or {}).items():
            row[f"p{p}"] = v
        spacing = record.get("native_spacing")
        row["native_spacing"] = " x ".join(f"{v:.3g}" for v in spacing) if spacing else None
        row["native_spacing_min"] = min(spacing) if spacing else None
        row["native_spacing_max"] = max(spacing) if spacing else None
        row["grid_resampled"] = "; ".join(describe(r) for r in record.get("grid_resampled") or [])
        row["seconds"] = (record.get("seconds") or {}).get("total")
        row["qc_json"] = str(path)
        rows.append(row)
    table = pd.DataFrame(rows)
    reasons = pd.Series("", index=table.index, dtype=object)
    for column in OUTLIER_COLUMNS:
        if column not in table or table.empty:
            continue
        z = robust_z(table[column])
        table[f"z_{column}"] = z
        reasons = reasons.where(~(z.abs() > OUTLIER_Z), reasons + f"{column} ")
    if "atlas_mask_dice" in table and not table.empty:
        low = pd.to_numeric(table["atlas_mask_dice"], errors="coerce") < MIN_ATLAS_DICE
        reasons = reasons.where(~low | reasons.str.contains("atlas_mask_dice"), reasons + "atlas_mask_dice ")
    if "registration_rotation_deg" in table and not table.empty:
        num = lambda c: pd.to_numeric(table[c], errors="coerce")  # noqa: E731
        odd = (
            (num("registration_rotation_deg") > MAX_ROTATION_DEG)
            | (num("registration_stretch_min") < STRETCH_RANGE[0])
            | (num("registration_stretch_max") > STRETCH_RANGE[1])
            | table["registration_reflects"].fillna(False).astype(bool)
        )
        reasons = reasons.where(~odd, reasons + "registration_affine ")
    if "native_spacing_max" in table and not table.empty:
        reasons = reasons.where(~_unusual_spacing(table), reasons + "native_spacing ")
    table["outlier"] = reasons.str.len() > 0
    table["outlier_reason"] = reasons.str.strip()
    return table


def _unusual_spacing(table: pd.DataFrame) -> pd.Series:
    """Rows whose largest or smallest native voxel side is SPACING_RATIO off the table's median."""
    odd = pd.Series(False, index=table.index)
    for column in ("native_spacing_max", "native_spacing_min"):
        v = pd.to_numeric(table[column], errors="coerce")
        ratio = v / np.nanmedian(v) if v.notna().any() else v
        odd |= (ratio > SPACING_RATIO) | (ratio < 1.0 / SPACING_RATIO)
    return odd


def qc_overview(
    dataset: str, pngs: Sequence[str | os.PathLike], table: pd.DataFrame, out_html: str | os.PathLike
) -> Path:
    """One self-contained HTML page: the QC table (outliers first, highlighted) and every PNG."""
    table = table.sort_values(["outlier", "subject"], ascending=[False, True]) if len(table) else table
    n_out = int(table["outlier"].sum()) if "outlier" in table else 0
    shown = table.drop(columns=[c for c in ("qc_json",) if c in table])
    rows_html = shown.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="", classes="qc", border=0)
    outliers = set(table.loc[table["outlier"], "subject"]) if n_out else set()
    figures = []
    for png in pngs:
        png = Path(png)
        subject = png.stem
        data = base64.b64encode(png.read_bytes()).decode()
        cls = "fig out" if any(s and s in str(png) for s in outliers) else "fig"
        figures.append(
            f'<div class="{cls}"><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(subject)}"><br>{html.escape(str(png.parent.name))}</div>'
        )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>QC {html.escape(dataset)}</title>
<style>body{{font-family:sans-serif;margin:1em}} table.qc{{border-collapse:collapse;font-size:12px}}
table.qc td,table.qc th{{padding:2px 6px;border-bottom:1px solid #ddd}}
.fig{{display:inline-block;margin:4px;font-size:11px;text-align:center}} .out{{outline:3px solid #d33}}
img{{width:360px}}</style></head><body>
<h1>Preprocessing QC: {html.escape(dataset)}</h1>
<p>{len(table)} scans; {n_out} flagged as outliers (robust z-score &gt; {OUTLIER_Z} on
{", ".join(OUTLIER_COLUMNS)}; or atlas_mask_dice &lt; {MIN_ATLAS_DICE}; or a registration rotating more
than {MAX_ROTATION_DEG:g} degrees, stretching outside {STRETCH_RANGE} or reflecting; or native voxel sides
{SPACING_RATIO:g}x off the median). Red outline = brain mask; flagged scans are framed in red.</p>
{rows_html}
<h2>Mid-slices</h2>
{"".join(figures)}
</body></html>
"""
    with atomic_output(out_html) as tmp:
        tmp.write_text(page)
    return Path(out_html)
