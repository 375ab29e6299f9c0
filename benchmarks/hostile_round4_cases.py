"""The crafted cases of benchmarks/hostile_round4.py.

Each case's build(fix, folder) writes its inputs under folder/in (never into the fixture) and
returns the child's argv. The fixture they share is in hostile_round4_fixture.py.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

from hostile_round4_fixture import Case, call
from hostile_round4_files import (
    checksum_source,
    circular_xls,
    declared_size_xls,
    huge_zip,
    real_xls,
    trickle_server,
)

CLI = ["-m", "patch2loc.cli"]


# ---------------------------------------------------------------- the BIDS App


def _bids_copy(fix, folder: Path) -> tuple[Path, Path]:
    data, bundle = fix.bids
    copy = folder / "in" / "bids"
    shutil.copytree(data, copy, symlinks=True)
    return copy, bundle


def _bids_argv(data: Path, bundle: Path, folder: Path, *extra: str) -> list[str]:
    return [*CLI, "bids", str(data), str(folder / "out" / "p2l"), "participant", "--model", str(bundle),
            "--mask-derivatives", str(data / "derivatives" / "masks"), "--device", "cpu", "--quiet",
            "--participant-label", "02", *extra]  # fmt: skip


def _owned_out(fix, folder: Path, data: Path, bundle: Path) -> Path:
    """out/p2l as an earlier participant run leaves it (its dataset_description.json)."""
    from patch2loc.bids import adapter, publish
    from patch2loc.bids.description import link_for, write_dataset_files

    out = folder / "out" / "p2l"
    out.mkdir(parents=True)
    links = {publish.RAW: link_for(data, out, data)}
    write_dataset_files(out, adapter.bundle_info(bundle), links, bundle, None)  # None: no earlier description
    return out


def bids_link_subject(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    out = _owned_out(fix, folder, data, bundle)
    (folder / "victim").mkdir()
    os.symlink(folder / "victim", out / "sub-02")  # its derivatives would be written through it
    return _bids_argv(data, bundle, folder)


def bids_link_preprocessed(fix, folder):
    from patch2loc.bids.names import WORK

    data, bundle = _bids_copy(fix, folder)
    out = _owned_out(fix, folder, data, bundle)
    (folder / "victim").mkdir()
    (out / WORK).mkdir()
    os.symlink(folder / "victim", out / WORK / "sub-02_T1w_preprocessed")
    return _bids_argv(data, bundle, folder)


def bids_dot_links(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    os.symlink(".", data / "again")  # two folder links back to the dataset's root: an endless tree
    os.symlink("..", data / "sub-02" / "up")
    return _bids_argv(data, bundle, folder)


def bids_html_name(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    stem = 'sub-02_acq-x" onmouseover="alert(1)'
    for anat in (data / "sub-02" / "anat", data / "derivatives" / "masks" / "sub-02" / "anat"):
        for p in anat.glob("sub-02_*T1w*"):  # the scan, its sidecar, its brain mask and the mask's sidecar
            p.rename(anat / p.name.replace("sub-02", stem, 1))
    sidecar = next((data / "derivatives" / "masks" / "sub-02" / "anat").glob("*T1w_desc-brain_mask.json"))
    sidecar.write_text(sidecar.read_text(encoding="utf-8").replace("sub-02_T1w", stem + "_T1w"), encoding="utf-8")
    return _bids_argv(data, bundle, folder)


def _json_case(rel: str, text: str | None = None, obj=None, filter_file: bool = False):
    def build(fix, folder):
        data, bundle = _bids_copy(fix, folder)
        body = text if text is not None else json.dumps(obj)
        if filter_file:
            (folder / "in" / "filter.json").write_text(body, encoding="utf-8")
            return _bids_argv(data, bundle, folder, "--bids-filter-file", str(folder / "in" / "filter.json"))
        (data / rel).write_text(body, encoding="utf-8")
        return _bids_argv(data, bundle, folder)

    return build


NESTED = "[" * 100_000 + "]" * 100_000  # past json's recursion limit


def bids_sparse_sidecar(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    sidecar = data / "sub-02" / "anat" / "sub-02_T1w.json"
    with open(sidecar, "wb") as f:  # 1 GB, almost all of it a hole: '{"a": "' then zeros
        f.write(b'{"a": "')
        f.truncate(1 << 30)
    return _bids_argv(data, bundle, folder)


def bids_participants_tsv(fix, folder):
    data, bundle = _bids_copy(fix, folder)
    (data / "participants.tsv").write_bytes(b'participant_id\tage\n\xff\xfe02\t{"nested": [1]}\n')
    return _bids_argv(data, bundle, folder)


# ---------------------------------------------------------------- diffusion bundles


def _diffusion_case(method: str, **config):
    def build(fix, folder):
        import torch
        from tests.helpers.bundle import rewrite

        scan, bundle = fix.run[1], fix.bundle(method)
        mine = folder / "in" / bundle.name
        shutil.copy(bundle, mine)

        def change(members):
            for name in [n for n in members if n.startswith("folds/")]:
                ckpt = torch.load(io.BytesIO(members[name]), weights_only=True)
                ckpt["config"].update(config)
                buffer = io.BytesIO()
                torch.save(ckpt, buffer)
                members[name] = buffer.getvalue()

        if config:
            rewrite(mine, change, rehash=True)  # the manifest matches: the reader must catch the value
        return [*CLI, "predict", "--model", str(mine), "--image", str(scan.image), "--mask", str(scan.mask),
                "--out", str(folder / "out" / "heat.nii.gz"), "--device", "cpu", "--amp", "none", "--quiet"]  # fmt: skip

    return build


# ---------------------------------------------------------------- data sources


def _demographics(writer):
    def build(fix, folder):
        return call(
            "patch2loc.evaluation.comparisons.demographics:read_ixi_demographics", path=str(writer(folder / "in"))
        )

    return build


def _ages_as_text(folder: Path) -> Path:
    path = folder / "IXI.csv"
    path.write_text('IXI_ID,SEX_ID,AGE\n2,1,forty-two\n12,2,"[35, 36]"\n13,1,1e400\n', encoding="utf-8")
    return path


def _wmh(listing_text: str):
    def build(fix, folder):
        listing = folder / "in" / "listing.json"
        listing.write_text(listing_text, encoding="utf-8")
        return call("patch2loc.data.wmh:fetch_subjects", subjects=["GE3T_100"], root=str(folder / "out" / "WMH"),
                    splits=["training"], listing=listing.as_uri(), access=(folder / "in").as_uri() + "/{id}",
                    checksum_db=str(folder / "out" / "checksums.tsv"))  # fmt: skip

    return build


def _checksum(expected: str | None = None, db: bytes | None = None):
    def build(fix, folder):
        source, digest = checksum_source(folder / "in")
        if db is None:  # a fresh download checked against the pinned value
            return call("patch2loc.data.download:fetch", url=source.as_uri(), dest=str(folder / "out" / "data.bin"),
                        checksum_db=str(folder / "out" / "checksums.tsv"), expected=expected.format(digest))  # fmt: skip
        (folder / "in" / "checksums.tsv").write_bytes(
            db.replace(b"{}", digest.encode()).replace(b"{U}", digest.upper().encode())
        )
        return call("patch2loc.data.download:verify_file", path=str(source),
                    checksum_db=str(folder / "in" / "checksums.tsv"), source="by hand")  # fmt: skip

    return build


def sri24_zip(fix, folder):
    archive = huge_zip(folder / "in" / "sri24_spm8.zip", "sri24_spm8/templates/T1_brain.nii", 2 << 30)
    return call("patch2loc.data.download:extract", archive=str(archive), dest=str(folder / "out" / "SRI24"))


def trickle(fix, folder):
    # The cut-off is config download.deadline_s (default 7,200 s: IXI-T1's 4.5 GB at 1 MB/s), which
    # the rule passes as `deadline`; set to 10 s here, the client must give up at it, not run as long
    # as the server trickles, and keep the .part for the next run to resume.
    url = trickle_server(seconds=200)  # longer than the case may run: the client must give up first
    return call("patch2loc.data.download:fetch", url=url, dest=str(folder / "out" / "sri24_spm8.zip"),
                checksum_db=str(folder / "out" / "checksums.tsv"), deadline=10.0)  # fmt: skip


# Files the App never reads: pybids indexes without its metadata index (index_metadata=False), so a
# scan's own sidecar, participants.tsv and participants.json are not opened. A crafted one must not
# change the run: exit 0 as the clean control, the file untouched, and no more time or memory than it.
UNREAD = {"expect": 0, "like": "bids_clean_control"}

CASES = [
    Case("bids_clean_control", "bids", lambda fix, folder: _bids_argv(*_bids_copy(fix, folder), folder), expect=0),
    Case("bids_link_at_subject", "bids", bids_link_subject, needle="link"),
    Case("bids_link_at_preprocessed", "bids", bids_link_preprocessed, needle="link"),
    Case("bids_two_links_to_dot", "bids", bids_dot_links, needle="link|loop"),
    Case("bids_html_event_handler_name", "bids", bids_html_name, needle="name|character"),
    Case(
        "bids_description_nested", "bids", _json_case("dataset_description.json", NESTED), needle="dataset_description"
    ),
    Case(
        "bids_description_types",
        "bids",
        _json_case("dataset_description.json", obj={"Name": ["x"], "BIDSVersion": 1.1, "DatasetType": {"raw": 1}}),
        needle="dataset_description",
    ),  # fmt: skip
    Case("bids_sidecar_nested", "bids", _json_case("sub-02/anat/sub-02_T1w.json", NESTED), **UNREAD),
    Case("bids_sidecar_types", "bids", _json_case("sub-02/anat/sub-02_T1w.json", obj=[1, "a"]), **UNREAD),
    Case("bids_filter_nested", "bids", _json_case("", NESTED, filter_file=True), needle="filter"),
    Case("bids_filter_types", "bids", _json_case("", obj={"t2w": ["highres"]}, filter_file=True), needle="filter"),
    Case("bids_participants_json_nested", "bids", _json_case("participants.json", NESTED), **UNREAD),
    Case("bids_participants_tsv_bytes", "bids", bids_participants_tsv, **UNREAD),
    Case("bids_sidecar_sparse_1gb", "bids", bids_sparse_sidecar, **UNREAD),
    Case("diffusion_clean_control", "diffusion", _diffusion_case("DDPM"), expect=0),
    Case("diffusion_timesteps_1e9", "diffusion", _diffusion_case("DDPM", timesteps=10**9), needle="timesteps"),
    Case("diffusion_width_4096", "diffusion", _diffusion_case("DDPM", width=4096), needle="width"),
    Case("diffusion_blocks_5000", "diffusion", _diffusion_case("DDPM", blocks=5000), needle="blocks"),
    Case("diffusion_octaves_1e6", "diffusion", _diffusion_case("DDPM", noise_octaves=10**6), needle="octaves"),
    Case("diffusion_test_steps_0", "diffusion", _diffusion_case("DDPM", test_steps=[0]), needle="test_steps"),
    Case("diffusion_test_steps_text", "diffusion", _diffusion_case("DDPM", test_steps=["500"]), needle="test_steps"),
    Case("diffusion_rescale_1000", "diffusion", _diffusion_case("DDPM", rescale=1000), needle="rescale"),
    Case("diffusion_rescale_0", "diffusion", _diffusion_case("DDPM", rescale=0), needle="rescale"),
    Case("diffusion_rescale_0.5", "diffusion", _diffusion_case("DDPM", rescale=0.5), needle="rescale"),
    Case("diffusion_patch_size_0", "diffusion", _diffusion_case("pDDPM", patch_size=0), needle="patch_size"),
    Case("diffusion_patch_size_1", "diffusion", _diffusion_case("pDDPM", patch_size=1), needle="patch_size"),
    Case("diffusion_seed_2**80", "diffusion", _diffusion_case("DDPM", seed=2**80), needle="seed"),
    Case("demographics_xls_circular", "demographics", _demographics(circular_xls), needle="IXI.xls"),
    Case("demographics_xls_declared_4gb", "demographics", _demographics(declared_size_xls), needle="IXI.xls"),
    Case(
        "demographics_xls_sparse_2gb",
        "demographics",
        _demographics(lambda d: real_xls(d, pad=2 << 30)),
        needle="IXI.xls",
    ),  # fmt: skip
    Case("demographics_csv_ages_text", "demographics", _demographics(_ages_as_text), needle="AGE"),
    Case("wmh_listing_nested", "wmh", _wmh('{"data": ' + NESTED + "}"), needle="listing"),
    Case("wmh_listing_data_text", "wmh", _wmh('{"data": "files"}'), needle="listing"),
    Case("wmh_listing_datafile_list", "wmh", _wmh('{"data": [{"dataFile": [1, 2]}]}'), needle="listing"),
    Case(
        "wmh_listing_id_object",
        "wmh",
        _wmh(
            '{"data": [{"label": "FLAIR.nii.gz", "directoryLabel": '
            '"training/Utrecht/100/pre", "dataFile": {"id": {"a": 1}, "filename": "x"}}]}'
        ),
        needle="listing",
    ),  # fmt: skip
    Case(
        "wmh_listing_checksum_number",
        "wmh",
        _wmh(
            '{"data": [{"label": "FLAIR.nii.gz", "directoryLabel": '
            '"training/GE3T/100/pre", "dataFile": {"id": 1, "checksum": {"type": 5, "value": 7}}}]}'
        ),
        needle="listing",
    ),  # fmt: skip
    Case("checksum_shake_128", "checksums", _checksum("shake_128:{}"), needle="shake_128"),
    Case("checksum_crc32", "checksums", _checksum("crc32:1a2b3c4d"), needle="crc32"),
    Case("checksum_db_upper_case", "checksums", _checksum(db=b"data.bin\t{U}\tx\n"), expect=0),
    Case("checksum_db_not_utf8", "checksums", _checksum(db=b"data.bin\t{}\t\xff\xfe\xc3(\n"), needle="checksums.tsv"),
    Case("sri24_zip_member_2gb", "sri24", sri24_zip, needle="sri24_spm8.zip"),
    Case(
        "download_trickle_loopback",
        "download",
        trickle,
        allow_out=(".sri24_spm8.zip.part", "sri24_spm8.zip.part"),
        timeout=150,
        needle="deadline_s",
    ),  # fmt: skip
]
