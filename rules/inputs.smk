# Input functions of the stages: which of the run's files (patch2loc.run.layout) a job reads.
from types import SimpleNamespace


# ---------------------------------------------------------------- scans
def scan_files(dataset, modality, subjects):
    """Normalised images, brain masks and lesion masks of a list of subjects."""
    return {
        "images": [LAYOUT.normalized(dataset, modality, s) for s in subjects],
        "masks": [LAYOUT.preprocessed(dataset, modality, s, "mask.nii.gz") for s in subjects],
        "segs": [LAYOUT.preprocessed(dataset, modality, s, "seg.nii.gz") for s in subjects] if dataset != "IXI" else [],
    }


def native_scoring_files(dataset, modality, subjects):
    """evaluate.space native: what scoring a lesion set on each scan's own grid reads besides
    scan_files: the skull-strip mask on the native grid and the registration preprocessing wrote,
    and the raw scan and label file (their download / synthesis / drop-in: raw_inputs)."""
    if config["evaluate"]["space"] != "native":
        return {}
    modality = INPUTS.get(modality, [modality])[0]  # a stack is mapped back onto its reference's grid
    raw = []
    for s in subjects:
        found = raw_inputs(SimpleNamespace(dataset=dataset, modality=modality, subject=s))
        raw += [found] if isinstance(found, str) else found
    return {
        "native_masks": [LAYOUT.preprocessed(dataset, modality, s, "native_mask.nii.gz") for s in subjects],
        "transforms": [LAYOUT.preprocessed(dataset, modality, s, "transform.tfm") for s in subjects],
        "raw": list(dict.fromkeys(raw)),
    }


def preprocess_params(wc):
    return {**config["preprocess"], "skull_strip": config["datasets"][wc.dataset]["skull_strip"]}


def qc_inputs(wc):
    subjects = subjects_of(wc.dataset, wc.modality)
    return [LAYOUT.preprocessed(wc.dataset, wc.modality, s, "qc.json") for s in subjects]


def landmark_inputs(wc):
    pool = list(dict.fromkeys(ixi_subjects("train", wc.modality) + ixi_subjects("val", wc.modality)))
    return {
        # the uncropped atlas-box volumes: Nyul sees the whole brain, crop/pad comes last
        "images": [LAYOUT.preprocessed("IXI", wc.modality, s, "uncropped.nii.gz") for s in pool],
        "masks": [LAYOUT.preprocessed("IXI", wc.modality, s, "uncropped_mask.nii.gz") for s in pool],
    }


# ---------------------------------------------------------------- model inputs of several contrasts
def stack_inputs(wc):
    """The normalised contrasts of one subject a stack reads, their masks and the reference's seg."""
    contrasts = INPUTS[wc.modality]
    files = {
        "images": [LAYOUT.normalized(wc.dataset, c, wc.subject) for c in contrasts],
        "masks": [LAYOUT.preprocessed(wc.dataset, c, wc.subject, "mask.nii.gz") for c in contrasts],
    }
    if wc.dataset != "IXI":
        files["seg"] = LAYOUT.preprocessed(wc.dataset, contrasts[0], wc.subject, "seg.nii.gz")
    return files


def input_subject_rows(name):
    """One row per (fold, split) of an input of several contrasts: its subjects, and those of its
    contrasts' lists left out for lacking one (IXI; the test split has no fold)."""
    rows = []
    for fold, split in [(k, s) for k in FOLDS for s in ("train", "val")] + [(None, "test")]:
        lists = [_listed(split_lists.ixi_subjects, split, c, fold) for c in INPUTS[name]]
        kept, missing = covered(lists)
        rows.append(
            {
                "input": name,
                "fold": "" if fold is None else fold,
                "split": split,
                "subjects": len(kept),
                "left_out": len(missing),
                "left_out_subjects": " ".join(
                    f"{s}(no {'+'.join(INPUTS[name][i] for i in m)})" for s, m in missing.items()
                ),
            }
        )
    return rows


# ---------------------------------------------------------------- training and scoring
def train_inputs(wc):
    train = scan_files("IXI", wc.modality, ixi_subjects("train", wc.modality, wc.fold))
    val = scan_files("IXI", wc.modality, ixi_subjects("val", wc.modality, wc.fold))
    coverage = {"coverage": LAYOUT.input_subjects(wc.modality)} if wc.modality in MULTI_INPUTS else {}
    return {
        "train_images": train["images"],
        "train_masks": train["masks"],
        "val_images": val["images"],
        "val_masks": val["masks"],
        **coverage,  # an input of several contrasts: who was left out for lacking one (the log says)
    }


def model_input(wc):
    """The best.pt a scoring job applies (none for a method without a model)."""
    trains = METHODS[wc.method].trains
    return [LAYOUT.checkpoint(wc.modality, LAYOUT.fold_number(wc.fold), wc.method)] if trains else []


def shard_files(wc, name):
    return [LAYOUT.shard(name, wc.method, wc.modality, wc.fold, wc.dataset, k) for k in range(n_shards(wc.dataset))]


def fold_models(method, modality):
    """best.pt of every fold of a method's models of one modality (a bundle's)."""
    return [LAYOUT.checkpoint(modality, k, method) for k in FOLDS]


def fold_thresholds(method, modality):
    """The unsupervised threshold of each of those models."""
    return [LAYOUT.threshold(method, modality, LAYOUT.fold_name(k)) for k in FOLDS]


# ---------------------------------------------------------------- tables, figures, report
def all_metrics():
    return [LAYOUT.scores("metrics.csv", *c) for c in evaluated_combinations()]


def all_pooled():
    """pooled.npz (score histograms of a pooling reference protocol) of every lesion-set evaluation."""
    return [LAYOUT.scores("pooled.npz", *c) for c in evaluated_combinations()]


def all_patches(method=None):
    """patches.csv.gz of every lesion-set evaluation (of one method, when given)."""
    return [LAYOUT.scores("patches.csv.gz", *c) for c in evaluated_combinations() if method in (None, c[0])]


def all_lesions():
    """lesions.csv (one row per ground-truth lesion) of every lesion-set evaluation."""
    return [LAYOUT.scores("lesions.csv", *c) for c in evaluated_combinations()]


def all_healthy_metrics():
    """The healthy IXI test metrics of every method, input and fold (the bias table)."""
    return [
        LAYOUT.scores("metrics.csv", m, mod, fold, "IXI")
        for m in RUN_METHODS
        for mod in method_inputs(m)
        for fold in method_folds(m)
    ]


# IXI's demographics (the bias table), under raw_root, not the run: IXI.xls is downloaded beside
# the scans (config/datasets.yaml); the demo's synthesizer writes IXI.csv with the same columns
# beside its IXI marker, which the rule waits for.
DEMOGRAPHICS_INPUT = f"{RAW}/IXI/.complete" if config["source"] == "demo" else f"{RAW}/IXI/IXI.xls"


def demographics_file(wc, input):
    return str(Path(input.demographics).with_name("IXI.csv")) if config["source"] == "demo" else input.demographics


def bias_caption(wc, input):
    """The bias table's caption (patch2loc.evaluation.report.captions), which names the file it read."""
    return table_caption("bias", config, demographics=demographics_file(wc, input))


def all_benchmarks():
    """Benchmark files of the training (and pre-training) and scoring jobs (Snakemake's `benchmark:`),
    one per job, in a folder per rule, each named after its method first ({method}_...)."""
    files = [
        LAYOUT.benchmark(rule, m.name, modality, f"fold{k}")
        for m in TRAINED_METHODS
        for rule in [m.train_rule] + ([m.pretrain.rule] if m.pretrain else [])
        for modality in method_inputs(m.name)
        for k in FOLDS
    ]
    files += [
        LAYOUT.benchmark("score_healthy", method, m, fold)
        for method in RUN_METHODS
        for m in method_inputs(method)
        for fold in method_folds(method)
    ]
    files += [
        LAYOUT.benchmark("score_lesions", method, modality, fold, d, str(k))
        for method, modality, fold, d in evaluated_combinations()
        for k in range(n_shards(d))
    ]
    return files


def heatmap_combinations(method=DEFAULT_METHOD):
    """(method, modality, fold, dataset) of a method's first fold (Thresh: 'all'): lesion sets
    (Fig. 4) and healthy IXI test (Fig. 5); by default the paper's method's (the registry's first).
    One-contrast models only: a panel draws its heatmap over one contrast."""
    if method not in RUN_METHODS:
        return []
    first = method_folds(method)[0]
    return [(method, SET_INPUTS[d][0], first, d) for d in LESION_SETS if SET_INPUTS[d][0] not in MULTI_INPUTS] + [
        (method, m, first, "IXI") for m in MODEL_MODALITIES if m not in MULTI_INPUTS
    ]


def all_heatmap_dirs(method=DEFAULT_METHOD):
    return [LAYOUT.scores("heatmaps", *c) for c in heatmap_combinations(method)]


def heatmap_figures():
    """heatmaps_{dataset}_{modality}.png for every heatmap folder the panels are drawn from."""
    return [LAYOUT.figure("heatmaps", dataset, modality) for _, modality, _, dataset in heatmap_combinations()]


def figures_of(kind, keys):
    """The figures of one kind (patch2loc.run.paths.FIGURES), one per key."""
    return [LAYOUT.figure(kind, key) for key in keys]


def healthy_metrics():
    """Each method's healthy IXI test metrics (first fold): the colour scale of its panels."""
    return [
        LAYOUT.scores("metrics.csv", m, mod, method_folds(m)[0], "IXI")
        for m in RUN_METHODS
        for mod in MODEL_MODALITIES
        if mod not in MULTI_INPUTS
    ]


def loss_curves():
    """loss.csv of every trained model of the run."""
    return [
        LAYOUT.model_file(m.name, "loss.csv", mod, k)
        for m in TRAINED_METHODS
        for mod in method_inputs(m.name)
        for k in FOLDS
    ]


def viewer_combinations():
    """(method, modality, fold, dataset) of every heatmap folder: the lesion sets of each
    evaluated model and the healthy IXI test volumes its threshold comes from."""
    combos = set(evaluated_combinations())
    return sorted(combos | {(m, mod, f, "IXI") for m, mod, f, _ in combos})


def viewer_dirs():
    return [LAYOUT.viewer_dir(*c) for c in viewer_combinations()]


def report_csv(files, **kwargs):
    """Mark only the .csv of a multiext (csv, md, tex) group for Snakemake's report: the .md and
    .tex hold the same table."""
    return [report(f, **kwargs) if f.endswith(".csv") else f for f in files]
