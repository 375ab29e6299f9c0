"""Rule arrange_wmh: move each WMH subject folder to WMH/<site>/<id>."""
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

archive, root = Path(snakemake.params.archive), Path(snakemake.params.root)
moved = 0
for seg in sorted(archive.rglob("wmh.nii.gz")):
    subject_dir = seg.parent
    target = root / subject_dir.parent.name / subject_dir.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        subject_dir.rename(target)
        moved += 1
if moved == 0 and not any(root.glob("*/*/wmh.nii.gz")):
    raise RuntimeError(f"{archive}: no wmh.nii.gz found; see config/datasets.yaml (WMH, manual) for the layout.")
Path(snakemake.output.marker).write_text(f"{moved} subjects arranged\n")
