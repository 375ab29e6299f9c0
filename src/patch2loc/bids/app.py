"""The BIDS App (docs/bids.md): one `patch2loc bids` request (its command: cli/bids.py) at its level.

participant: the scans that fit the bundle's modality (dataset.py) go through predict's folder
mode (adapter.py) into OUTPUT_DIR/.predict, then each finished scan is published under its
BIDS-Derivatives names (publish.py). group: group_anomaly.tsv and report.html (group.py).
Every check that needs no compute runs first; a refusal is one line, exit 2, and writes nothing.
The exit status is otherwise predict's: the number of scans that failed (each named on one line).
Where OUTPUT_DIR may be and whose it is: output_dir.py (one pipeline, one bundle, inside a
dataset only as derivatives/<name>); links and loops: guard.py; every file read: files.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from patch2loc.bids.request import BidsRequest
from patch2loc.errors import InputError, resource_problem

MAX_EXIT = 100  # as predict: the exit status counts failed scans, at most 100


def _participant(req: BidsRequest, bids_dir: Path, out: Path) -> int:
    """Every check that needs no compute, predict on the selected scans, then each finished scan published."""
    from patch2loc.bids import adapter
    from patch2loc.bids.description import write_dataset_files
    from patch2loc.bids.names import WORK
    from patch2loc.files.staging import folder_lock

    scans, info, links, desc, masks_root = _select(req, bids_dir, out)
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:  # one run at a time: two on one OUTPUT_DIR raced over its staging and its derivatives
        with folder_lock(out, "patch2loc bids run", "OUTPUT_DIR"):
            failed = adapter.run_predict(
                scans, out / WORK, req.model, req.device, req.overwrite, req.quiet, not req.skip_tissue_order
            )
            published, unchanged, not_published = _publish_all(req, scans, out, info, masks_root)
            if published or unchanged:
                write_dataset_files(out, info, links, req.model, desc)
    except BaseException:
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # refused before anything was written: leave nothing
        raise
    if made and not (published or unchanged):  # nothing published: the folder this run made goes again
        import shutil

        shutil.rmtree(out, ignore_errors=True)
    failed += not_published
    if not req.quiet:
        print(
            f"patch2loc bids: {published} scan(s) published, {unchanged} unchanged (done before with the same "
            f"inputs and settings), {failed} failed; "
            + (f"derivatives in {out}" if out.exists() else f"nothing published, so {out} was not kept"),
            file=sys.stderr,
        )
    return min(failed, MAX_EXIT)


def _select(req: BidsRequest, bids_dir: Path, out: Path):
    """The checks before any compute, and what they find: (the scans, with their brain masks; the
    bundle's info; the dataset links; OUTPUT_DIR's dataset_description; the masks' root or None)."""
    from patch2loc.bids import adapter, dataset, guard, output_dir, publish
    from patch2loc.bids.description import link_for

    if req.model is None:
        raise InputError(f"{bids_dir}: the participant level needs --model BUNDLE (a bundle from patch2loc export).")
    if req.seg_derivatives:
        raise InputError(f"{req.seg_derivatives}: --seg-derivatives belongs to the group level.")
    inputs = {
        "BIDS_DIR": bids_dir,
        **({"--mask-derivatives": Path(req.mask_derivatives)} if req.mask_derivatives else {}),
    }
    output_dir.check_place(out, inputs)
    guard.check_no_links(out)
    desc = output_dir.owner(out)
    layout = dataset.open_raw(bids_dir)
    info = adapter.bundle_info(req.model)
    output_dir.same_bundle(desc, info, out)
    reference, *others = info.get("contrasts") or [info["modality"]]  # a bundle of several: its first
    filters = dataset.read_filter(req.bids_filter_file, reference)
    scans = dataset.select_scans(layout, reference, req.participant_label, req.session_label, filters)
    for scan in scans:  # our own sidecars, checked before any compute
        publish.published_fingerprint(out, scan)
    links = {publish.RAW: link_for(bids_dir, out, bids_dir)}
    masks = dataset.open_derivatives(req.mask_derivatives, "--mask-derivatives") if req.mask_derivatives else None
    if others:
        scans = _paired(layout, scans, others, masks, bids_dir)
    if masks is None:
        return scans, info, links, desc, None
    for scan in scans:
        scan.mask = dataset.match_derivative(masks, scan, dataset.BRAIN_DESC, "brain mask")
    links[publish.MASKS] = link_for(Path(req.mask_derivatives), out, bids_dir)
    return scans, info, links, desc, masks.root


def _paired(layout, scans, others: list[str], masks, bids_dir: Path):
    """A bundle of several contrasts: the scans with every other contrast in their session; one log
    line per session lacking one (not scored, never a crash)."""
    from patch2loc.bids.pairs import pair_scans

    paired, lacking = pair_scans(layout, scans, others, masks)
    for line in lacking:
        print(f"patch2loc bids: {line}", file=sys.stderr)
    if not paired:
        raise InputError(f"{bids_dir}: no session holds a scan of every contrast {others} beside the reference scan.")
    return paired


def _publish_all(req: BidsRequest, scans, out: Path, info: dict, masks_root) -> tuple[int, int, int]:
    """Each scan predict finished under its BIDS names: (published, unchanged, failed to publish)."""
    from patch2loc.bids import adapter, publish
    from patch2loc.bids.names import WORK

    published = unchanged = failed = 0
    for scan in scans:
        produced = adapter.predict_outputs(scan, out / WORK)
        if not all(p.exists() for p in produced.values()):  # predict reported it (and removed its stale outputs)
            if publish.remove_published(out, scan):
                print(
                    f"patch2loc bids: {scan.relpath}: its earlier derivatives were removed (made from other inputs "
                    "or settings).",
                    file=sys.stderr,
                )
            continue
        try:
            state = publish.predict_summary(produced["summary"]).get("run_state") or {}
            if publish.published_fingerprint(out, scan) == state.get("fingerprint") and not req.overwrite:
                unchanged += 1
                continue
            publish.publish_scan(out, scan, produced, info, masks_root)
        except Exception as exc:  # as in predict: one scan's failure must not stop the others
            failed += 1
            line = str(exc) if isinstance(exc, InputError) else resource_problem(exc, str(scan.path), writing=str(out))
            print(
                f"patch2loc bids: error: {line or f'{scan.path}: unexpected {type(exc).__name__}: {exc}'}",
                file=sys.stderr,
            )
            continue
        published += 1
    return published, unchanged, failed


def _group(req: BidsRequest, bids_dir: Path, out: Path) -> int:
    from patch2loc.bids import dataset, guard, output_dir
    from patch2loc.bids.group import run_group
    from patch2loc.files.staging import folder_lock

    for flag in ("model", "mask_derivatives", "participant_label", "session_label", "bids_filter_file"):
        if getattr(req, flag):
            raise InputError(f"--{flag.replace('_', '-')}: belongs to the participant level, not group.")
    inputs = {
        "BIDS_DIR": bids_dir,
        **({"--seg-derivatives": Path(req.seg_derivatives)} if req.seg_derivatives else {}),
    }
    output_dir.check_place(out, inputs)
    guard.check_no_links(out)
    if output_dir.owner(out) is None:
        raise InputError(f"{out}: OUTPUT_DIR holds no patch2loc derivatives. Run the participant level first.")
    dataset.open_raw(bids_dir)
    seg = dataset.open_derivatives(req.seg_derivatives, "--seg-derivatives") if req.seg_derivatives else None
    with folder_lock(out, "patch2loc bids run", "OUTPUT_DIR"):  # not while a participant run writes it
        table, report = run_group(out, seg)
    if not req.quiet:
        print(f"patch2loc bids: {table} and {report}", file=sys.stderr)
    return 0


def bids(req: BidsRequest) -> int:
    """Run one request (`bids.request.BidsRequest`) at its analysis level."""
    from patch2loc.files.outputs import check_utf8_path

    bids_dir, out = Path(req.bids_dir), Path(req.output_dir)
    for path, what in ((bids_dir, "BIDS_DIR"), (out, "OUTPUT_DIR")):
        check_utf8_path(path, what)
    if req.analysis_level == "participant":
        return _participant(req, bids_dir, out)
    return _group(req, bids_dir, out)
