"""Predict with a model of several contrasts (config `inputs`, e.g. T1T2; docs/multimodal.md).

--image is the reference (first) contrast's raw scan, `--contrast T2=FILE` each other one's (and
`--contrast-mask T2=FILE` its brain mask when --mask is given). Each contrast goes through the
run's chain for that contrast (its own registration to the atlas, its own Nyul landmarks), then the
contrasts are stacked by the workflow's own `stack_contrasts`; the outputs lie on the reference
scan's native grid (its transform). Everything here is checked before any compute.
"""

from __future__ import annotations

from pathlib import Path

from patch2loc.errors import InputError


def _usage(chain) -> str:
    ref, *others = chain.contrasts
    return f"--image <{ref} scan> " + " ".join(f"--contrast {c}=<{c} scan>" for c in others)


def _named(pairs, flag: str, chain, image) -> dict[str, Path]:
    """{contrast: file} of a repeated CONTRAST=FILE flag, each a contrast of the model after the reference."""
    ref, *others = chain.contrasts
    out: dict[str, Path] = {}
    for name, path in pairs:
        if name == ref:
            raise InputError(
                f"{path}: {flag} {name}: {name} is the {chain.modality} model's reference contrast; give its "
                f"scan with --image (and its mask with --mask): {_usage(chain)}."
            )
        if name not in others:
            raise InputError(
                f"{path}: {flag} {name}: the {chain.modality} model takes {list(chain.contrasts)}, not {name}; "
                f"drop it: {_usage(chain)}."
            )
        if name in out:
            raise InputError(f"{path}: {flag} {name} given twice ({out[name]} too); give each contrast once.")
        out[name] = Path(path)
    return out


def check_contrasts(flags, modality: str | None, chain, jobs, limits=None) -> dict[str, tuple[Path, Path | None]]:
    """{contrast: (raw scan, brain mask or None)} of every contrast after the reference ({} for a
    model of one contrast), each file checked as the reference scan is (check_scan); one line naming
    the flag and the fix otherwise. `flags`: what the user named to read (request.ScanFlags: --image,
    --contrast, --contrast-mask). `limits`: the call's (preflight.Limits), for each contrast's budget."""
    image, scan_flags, mask_flags = flags.image, flags.contrast, flags.contrast_mask
    contrasts = chain.contrasts if chain is not None else (modality,)
    if len(contrasts) == 1:
        if scan_flags or mask_flags:
            flag = "--contrast" if scan_flags else "--contrast-mask"
            raise InputError(
                f"{image[0]}: {flag} is for a model of several contrasts (with --from-run or --model), but "
                f"this model takes {contrasts[0] or 'one contrast'} only; drop {flag}."
            )
        return {}
    if len(jobs) != 1 or jobs[0].scan.is_dicom:  # an --out folder of one subject is fine (the BIDS App's)
        raise InputError(
            f"{image[0]}: a {chain.modality} model scores one subject per call, from NIfTI scans: "
            f"{_usage(chain)} (not a folder, csv or DICOM series)."
        )
    scans = _named(scan_flags, "--contrast", chain, image[0])
    masks = _named(mask_flags, "--contrast-mask", chain, image[0])
    strip = jobs[0].strip
    for c in chain.contrasts[1:]:
        if c not in scans:
            raise InputError(
                f"{image[0]}: the {chain.modality} model also needs the subject's {c} scan; pass "
                f"--contrast {c}=FILE ({_usage(chain)})."
            )
        if strip == "provided" and c not in masks:
            raise InputError(
                f"{scans[c]}: --mask is given for the reference scan, so the {c} scan needs its brain mask "
                f"too; pass --contrast-mask {c}=FILE (or drop --mask to skull-strip every contrast)."
            )
    if strip != "provided" and masks:
        raise InputError(
            f"{next(iter(masks.values()))}: --contrast-mask goes with --mask (skull stripping with the given "
            "masks); pass --mask for the reference scan too, or drop --contrast-mask."
        )
    for c in chain.contrasts[1:]:
        check_scan(c, scans[c], masks.get(c), chain, limits)
    from patch2loc.checks.contrasts import check_brain_volumes, check_distinct

    check_distinct({"--image": Path(jobs[0].scan.image), **{f"--contrast {c}": scans[c] for c in chain.contrasts[1:]}})
    if strip == "provided":
        check_brain_volumes({"--mask": Path(jobs[0].scan.mask), **{f"--contrast-mask {c}": masks[c] for c in masks}})
    return {c: (scans[c], masks.get(c)) for c in chain.contrasts[1:]}


def check_scan(contrast: str, scan: Path, mask: Path | None, chain, limits) -> None:
    """What the reference scan is held to before any registration (preflight.py), for another contrast's
    scan: paths SimpleITK can open, a regular NIfTI file of one 3D volume within the size limits, one
    geometry for nibabel and ITK without shear, its mask on its grid, the memory of its chain within the
    budget, and its voxels not constant (nor its mask empty). Before, only its header was read, and a
    bad file was found after the reference scan's registration."""
    from patch2loc.checks.claims import check_orthogonal, nifti_claims, regular_file
    from patch2loc.files.outputs import check_utf8_path
    from patch2loc.predict.budget import check_budget
    from patch2loc.predict.inputs import ScanInput
    from patch2loc.predict.geometry import check_same_geometry
    from patch2loc.predict.preflight import check_mask_grid, check_raw_scan

    scan_flag, mask_flag = f"--contrast {contrast}", f"--contrast-mask {contrast}"
    for path, what in ((scan, scan_flag), (mask, mask_flag)):
        if path is not None:
            check_utf8_path(path, what)
            regular_file(path, what, f"Pass the subject's {contrast} NIfTI as {what}=FILE.")
    claims = nifti_claims(scan, scan_flag)
    check_orthogonal(claims, scan)
    check_same_geometry(scan, claims.affine)
    mask_claims = None if mask is None else nifti_claims(mask, mask_flag)
    if mask_claims is not None:
        check_mask_grid(mask, scan, mask_claims, claims, exact=False)
    if limits is not None:
        check_budget(
            ScanInput(contrast, scan, mask), (claims, mask_claims), chain.for_contrast(contrast), method=limits.method,
            checkpoints=list(limits.checkpoints), batch_size=limits.batch_size, stride=limits.stride,
        )  # fmt: skip
    check_raw_scan(scan, mask)


def stack_scan(
    chain, contrasts: dict, staged: Path, name: str, strip: str, reference: tuple[Path, Path], scan, tissue_order=True
):
    """The subject's stack in `staged` (stack.nii.gz, stack_mask.nii.gz): the reference contrast's
    normalised image and mask (already made in `staged`), and each other contrast put through its
    own chain in staged/<contrast>/, stacked by the workflow's stack_contrasts with its channel checks
    (checks.contrasts; `scan`: the reference's raw scan, named in a refusal). Returns (the stack, its mask,
    the checks' record)."""
    from patch2loc.checks.contrasts import ChannelProblem
    from patch2loc.preprocessing.stack import stack_contrasts

    images, masks = [reference[0]], [reference[1]]
    for c, (raw, mask) in contrasts.items():
        folder = staged / c
        folder.mkdir()
        image, brain = chain.for_contrast(c).prepare(raw, mask, folder, f"{name}_{c}", strip)
        images.append(image)
        masks.append(brain)
    out_image, out_mask = staged / "stack.nii.gz", staged / "stack_mask.nii.gz"
    labels = [f"--image {scan}", *(f"--contrast {c} {s}" for c, (s, _) in contrasts.items())]
    try:
        counts = stack_contrasts(
            images, masks, out_image, out_mask, contrasts=chain.contrasts, labels=labels, tissue_order=tissue_order
        )
    except ChannelProblem:
        raise
    except InputError as exc:  # its message names the staged files: say which flag's scan
        others = ", ".join(f"--contrast {c} {s}" for c, (s, _) in contrasts.items())
        raise InputError(
            f"{others}: after registration to the run's atlas the contrasts do not stack with the reference "
            f"scan ({str(exc).split(': ', 1)[-1].rstrip('.')}); nothing was written. Check that every "
            "scan is of the same subject and session."
        ) from None
    return out_image, out_mask, counts["channels"]
