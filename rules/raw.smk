# Raw data a scan's preprocessing waits for: the demo's synthesis, downloads (config/datasets.yaml
# or the config's `sources`), the manual datasets, and the skull-strip rules' masks.
from patch2loc.data.download import pinned  # noqa: E402  (a sources entry's pinned checksum)

MANUAL_DATASETS = ("BraTS21", "ATLAS_v2")  # owners require a registration: dropped in by hand
CHECKSUMS = f"{RAW}/checksums.tsv"
# Download sources: config/datasets.yaml unless the config's `sources` names another file (the
# offline rehearsal points it at a loopback server).
SOURCES = yaml.safe_load(Path(config.get("sources") or Path(workflow.basedir) / "config" / "datasets.yaml").read_text())


def _downloads():
    """dest (relative to raw_root) -> {url, extract_to, expected: the pinned checksum} for every
    configured file (a file_template pins a git blob id per subject: `gitblob: {subject: id}`)."""
    files = {}
    for dataset in [*DATASETS, "SRI24"]:
        entry = SOURCES.get(dataset, {})
        for f in entry.get("files", []):
            files[f["dest"]] = {**f, "expected": pinned(f)}
        for subject in lesion_subjects(dataset) if "file_template" in entry else []:
            for f in entry["file_template"]:
                one = {**f, "gitblob": (f.get("gitblob") or {}).get(subject)}
                files[f["dest"].format(subject=subject)] = {
                    **one,
                    "url": f["url"].format(subject=subject),
                    "dest": f["dest"].format(subject=subject),
                    "expected": pinned(one),
                }
    return files


DOWNLOADS = _downloads()
# extraction marker (relative to raw_root) -> archive (relative to raw_root)
EXTRACTS = {
    f"{f['extract_to']}/.extracted-{Path(dest).name}": dest for dest, f in DOWNLOADS.items() if f.get("extract_to")
}


def _one_of(names):
    return "|".join(re.escape(n) for n in names)


# `--conda-create-envs-only` builds the envs from the DAG before any data is there (the first command
# on a cluster's login node), as `--containerize` writes the Dockerfile from it; Snakemake tells the
# Snakefile nothing of either, so its command line says.
ENVS_ONLY = bool({"--conda-create-envs-only", "--containerize"} & set(sys.argv))


@functools.cache
def _check_manual(dataset):
    """Stop (dry runs too) with the owners' instructions while a manual dataset is missing (every
    contrast the run reads of it); while only the envs are built, say it is missing (False)."""
    try:
        for contrast in SCAN_CONTRASTS[dataset]:
            check_raw(dataset, RAW, lesion_subjects(dataset), contrast)
    except InputError as err:
        if ENVS_ONLY:
            return False
        raise WorkflowError(str(err)) from None
    return True


def raw_inputs(wc):
    """What a scan's preprocessing waits for: the demo's synthesis, a download, or the file itself."""
    if config["source"] == "demo":
        return f"{RAW}/{wc.dataset}/.complete"
    if wc.dataset in MANUAL_DATASETS:
        if not _check_manual(wc.dataset):
            return []  # the envs alone are built: the jobs count, not their inputs
        scan = raw_paths(wc.dataset, RAW, wc.subject, wc.modality)
        return [str(scan.image), str(scan.seg)]
    if wc.dataset == "IXI":
        return f"{RAW}/IXI/IXI-{wc.modality}/.extracted-IXI-{wc.modality}.tar"
    if wc.dataset == "WMH":
        return f"{RAW}/WMH/.downloaded"
    scan = raw_paths(wc.dataset, RAW, wc.subject, wc.modality)  # MSLUB: per-file downloads
    return [str(scan.image), str(scan.seg), str(scan.mask)]  # its brain mask is downloaded too


# ---------------------------------------------------------------- skull strip inputs (rules/skullstrip.smk)
from patch2loc.preprocessing.skullstrip import hdbet_weights_file  # noqa: E402

HDBET = {"device": "cpu" if CPU_ONLY else "cuda", "home": "data/hdbet", **config.get("hdbet", {})}
if CPU_ONLY and HDBET["device"] != "cpu":
    raise WorkflowError(
        f"config: hdbet.device is {HDBET['device']} but device.torch_build is cpu (HD-BET's env then has no "
        "CUDA): remove hdbet.device (it follows the build) or set it to cpu."
    )
HDBET_WEIGHTS = str(hdbet_weights_file(HDBET["home"]))


def brain_mask_input(wc):
    """The skull-strip rule's mask for datasets stripped by a tool; nothing otherwise."""
    tool = config["datasets"][wc.dataset]["skull_strip"]
    return LAYOUT.skull_mask(tool, wc.dataset, wc.modality, wc.subject) if tool in ("hdbet", "robex") else []
