"""A bundle of several contrasts (e.g. T1T2: settings `contrasts: [T1, T2]`): each session's scans paired.

The reference contrast's scans are selected as for a one-contrast bundle (dataset.select_scans); each
is paired with the session's scan of every other contrast of the same subject, session and run
(the acquisition, reconstruction and other entities may differ: a T2w is often acquired otherwise).
A session lacking one, or holding several that fit, is not scored and said on one line (the log),
never a crash; the derivatives keep the reference scan's names. A partner whose path is not the BIDS
name its entities spell is refused as a reference scan is (dataset.check_name): subjects never mix.
"""

from __future__ import annotations

from pathlib import Path

from patch2loc.bids.dataset import BRAIN_DESC, IDENTITY, NIFTI, SUFFIX, Scan, check_name, match_derivative

SAME = ("subject", "session", "run")  # what a pair shares


def _candidates(layout, scan: Scan, suffix: str) -> list:
    """The files of `suffix` in the reference scan's session and run."""
    found = layout.get(suffix=suffix, datatype="anat", extension=NIFTI, subject=scan.entities["subject"])
    want = {k: scan.entities.get(k) for k in SAME}
    return [f for f in found if {k: _entity(f, k) for k in SAME} == want]


def _entity(f, key: str) -> str | None:
    value = f.get_entities().get(key)
    return None if value is None else str(value)


def _pick(found: list, scan: Scan) -> list:
    """Several that fit: the one of the reference's acquisition, when exactly one has it."""
    if len(found) > 1:
        same = [f for f in found if _entity(f, "acquisition") == scan.entities.get("acquisition")]
        return same if len(same) == 1 else found
    return found


def pair_scans(layout, scans: list[Scan], contrasts: list[str], masks=None) -> tuple[list[Scan], list[str]]:
    """(the reference scans whose every other contrast was found, each with `.contrasts`
    {contrast: Scan}; one line per scan left out, naming what it lacks and the fix). `masks`: the
    --mask-derivatives layout (each contrast's brain mask matched as the reference's)."""
    root = Path(layout.root)
    paired, lines = [], []
    for scan in scans:
        others, problem = {}, None
        for contrast in contrasts:
            suffix = SUFFIX[contrast]
            found = _pick(_candidates(layout, scan, suffix), scan)
            if len(found) != 1:
                what = "no" if not found else f"{len(found)} ({', '.join(Path(f.path).name for f in found)})"
                problem = (
                    f"{scan.relpath}: {what} {suffix} scan of the same subject, session and run, so the "
                    f"{'+'.join([scan.entities['suffix'], suffix])} model cannot score it; skipped. "
                    + ("Add the session's scan" if not found else "Keep one of them (or give it the T1w's acq-)")
                    + " to score it."
                )
                break
            path = Path(found[0].path)
            entities = {k: str(v) for k, v in found[0].get_entities().items() if k in IDENTITY}
            other = Scan(path, path.relative_to(root).as_posix(), {**entities, "suffix": suffix})
            # its name must be the one its entities spell: pybids takes the subject of sub-02/anat/sub-03_T2w
            # from the folder, which would pair sub-03's scan with sub-02's
            check_name(other)
            if masks is not None:
                other.mask = match_derivative(masks, other, BRAIN_DESC, "brain mask")
            others[contrast] = other
        if problem is not None:
            lines.append(problem)
            continue
        scan.contrasts = others
        paired.append(scan)
    return paired, lines
