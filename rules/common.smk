# The run's settings, methods and subject lists, shared by every stage (paths: patch2loc.run.layout;
# input functions: rules/inputs.smk; raw data: rules/raw.smk).
import functools
import math
import re
import sys
from pathlib import Path

import yaml
from snakemake.utils import min_version, update_config, validate

min_version("9.0")

# The package's light modules (dataset layouts) are needed to build the DAG; the heavy ones run
# inside the rules' scripts. Importing from src/ works with or without `pip install -e .`.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from patch2loc.run.replanning import coalesce_replanning  # noqa: E402

coalesce_replanning()  # one pending re-plan, not one more per finished job (the module says why)
from patch2loc.data import subjects as split_lists  # noqa: E402  (splits_dir's csvs, read in one place)
from patch2loc.data.layouts import LESION_DATASETS, MODALITIES, check_raw, raw_paths  # noqa: E402
from patch2loc.data.inputs import (  # noqa: E402  (config `inputs`: model inputs as sets of contrasts)
    CONTRASTS,
    check_every_set_scored,
    covered,
    model_inputs,
    scan_contrasts,
    set_inputs,
)
from patch2loc.errors import InputError  # noqa: E402
from patch2loc.checks.cpu_site import cpu_heatmap, cpu_train_mem_mb  # noqa: E402
from patch2loc.training.blockbounds import check_method_blocks  # noqa: E402
from patch2loc.registry import REGISTRY  # noqa: E402
from patch2loc.run.configfiles import load as load_configfiles  # noqa: E402

# Snakemake merged the --configfile files key by key; a file may also extend another (config/demo.yaml
# extends config/config.yaml) and drop keys, which only patch2loc.run.configfiles reads: the config is
# rebuilt from the files with it, then --config KEY=VALUE applied on top as Snakemake applies it.
if workflow.config_settings.configfiles:
    try:
        _from_files = load_configfiles(workflow.config_settings.configfiles)
    except InputError as err:
        raise WorkflowError(str(err)) from None
    config.clear()
    config.update(_from_files)
    update_config(config, dict(workflow.config_settings.config))

# A method block the schema does not describe (a method added as its package, registry line, config
# block and docs page) is held to its Settings dataclass when its training reads it and to its
# bounds below; the schema checks the rest of the config.
with open(Path(workflow.basedir) / "config" / "schema.yaml", encoding="utf-8") as _fh:
    _DESCRIBED = set(yaml.safe_load(_fh)["properties"])
_UNDESCRIBED = {
    m.config: config.pop(m.config)
    for m in REGISTRY
    if m.config and m.config not in _DESCRIBED and isinstance(config.get(m.config), dict)
}
validate(config, "../config/schema.yaml")
config.update(_UNDESCRIBED)
try:  # the method blocks' bounds, which the schema leaves to each method's own table
    check_method_blocks(config)
except InputError as err:
    raise WorkflowError(str(err)) from None
from patch2loc.evaluation.report.captions import table_caption  # noqa: E402  (one text per table)
from patch2loc.run.layout import ALL_FOLDS, RunLayout  # noqa: E402  (every path under results/{run})
from patch2loc.networks.pretrained import (
    HOME as PRETRAINED_DEFAULT_HOME,
    weights_path,
)  # noqa: E402  (the published networks' cache)
from patch2loc.registry import DEFAULT_METHOD, METHODS, run_methods  # noqa: E402  (the registry: one line per method)

RUN = config["run_name"]
LAYOUT = RunLayout.of_run(RUN)
RAW = config["raw_root"]
FOLDS = [int(f) for f in config["folds"]]
DATASETS = list(config["datasets"])
LESION_SETS = [d for d in DATASETS if d in LESION_DATASETS]
# One model per input (a set of contrasts; config `inputs`, patch2loc.data.inputs), trained only if a
# lesion set needs it; without `inputs:` one per contrast its lesion sets use (T1, T2: today's).
try:
    INPUTS = model_inputs(config, LESION_SETS)
    check_every_set_scored(INPUTS, config, LESION_SETS)
    SET_INPUTS = {d: set_inputs(INPUTS, config, d) for d in LESION_SETS}
    SCAN_CONTRASTS = {d: scan_contrasts(INPUTS, config, d) for d in LESION_SETS}
except InputError as err:
    raise WorkflowError(str(err)) from None
MODEL_MODALITIES = list(INPUTS)  # the model inputs (a one-contrast input is named after its contrast)
IXI_CONTRASTS = sorted({c for contrasts in INPUTS.values() for c in contrasts})
MULTI_INPUTS = [name for name, contrasts in INPUTS.items() if len(contrasts) > 1]
CONTRAST_WILDCARD = "|".join(CONTRASTS)  # the rules of one scan: preprocessing, landmarks, normalisation
MULTI_WILDCARD = "|".join(MULTI_INPUTS) or "(?!)"  # the stacking rules
# The methods this run scores: config `methods` (names of the registry patch2loc.registry), by
# default every method whose settings block the config has (or that needs none).
RUN_METHODS = run_methods(config)
for _name in RUN_METHODS:
    if _name not in METHODS:
        raise WorkflowError(
            f"config `methods`: unknown method {_name!r}; known: {list(METHODS)} "
            "(src/patch2loc/registry.py; docs/architecture.md, 'Adding a method')."
        )
    if METHODS[_name].config and METHODS[_name].config not in config:
        raise WorkflowError(
            f"config `methods` lists {_name}, whose settings block "
            f"`{METHODS[_name].config}:` the config lacks (config/config.yaml has one)."
        )
TRAINED_METHODS = [METHODS[m] for m in RUN_METHODS if METHODS[m].trains]
# The run's methods that predict positions (registry): their patch statistics give the KDE and
# ellipse figures, and the patch side their block sets is every method's patch-statistics grid
# (null: 1/8 of the slice side).
POSITION_METHODS = [m for m in RUN_METHODS if METHODS[m].predicts_positions]
PATCH_GRID = next((config[METHODS[m].config].get("patch_size") for m in POSITION_METHODS), None)


wildcard_constraints:
    dataset="|".join(MODALITIES),
    modality="|".join(dict.fromkeys([*CONTRASTS, *INPUTS])),  # a contrast, or a model input of several
    fold=r"fold\d+|all",  # scores/: fold{k} for trained methods, all for fold-free ones (Thresh)
    method="|".join(METHODS),
    subject=r"[^/]+",


# ---------------------------------------------------------------- subject lists (patch2loc.data.subjects)
def _listed(read, *args):
    """A subject list of splits_dir (a missing csv stops the workflow with its fix), capped at
    `max_subjects`."""
    try:
        subjects = read(config["splits_dir"], *args)
    except InputError as err:
        raise WorkflowError(str(err)) from None
    cap = config.get("max_subjects")
    return subjects[:cap] if cap else subjects


def ixi_subjects(split, modality, fold=None):
    """IXI subjects of a split ('train', 'val', 'test'), for one fold, with a scan of `modality` (a
    model input of several contrasts: with a scan of each; input_subjects counts those left out)."""
    lists = [_listed(split_lists.ixi_subjects, split, c, fold) for c in INPUTS.get(modality, [modality])]
    return covered(lists)[0]


def lesion_subjects(dataset):
    return _listed(split_lists.lesion_subjects, dataset)


def tuning_split(dataset):
    """splits_dir/<set>_val.csv (each volume's tuning fold of the validation-tuned Dice), [] where the
    run's splits have none (its Dice then NaN, docs/evaluation.md "Dice three ways")."""
    path = Path(config["splits_dir"]) / f"{dataset}_val.csv"
    return [str(path)] if path.exists() else []


def subjects_of(dataset, modality):
    """Every scan of a dataset that the run uses (IXI: train/val pool and test)."""
    if dataset == "IXI":
        pool = ixi_subjects("train", modality) + ixi_subjects("val", modality) + ixi_subjects("test", modality)
        return list(dict.fromkeys(pool))
    return lesion_subjects(dataset)


def all_scans():
    """(dataset, modality, subject) for every scan to preprocess."""
    scans = []
    for dataset in DATASETS:
        modalities = IXI_CONTRASTS if dataset == "IXI" else SCAN_CONTRASTS[dataset]
        for modality in modalities:
            scans += [(dataset, modality, s) for s in subjects_of(dataset, modality)]
    return scans


def kept_subjects(dataset, modality):
    """The volumes whose heatmaps scoring keeps: the first `evaluate.keep_heatmaps` (-1: all)."""
    subjects = ixi_subjects("test", modality) if dataset == "IXI" else lesion_subjects(dataset)
    keep = config["evaluate"]["keep_heatmaps"]
    return subjects if keep < 0 else subjects[:keep]


# ---------------------------------------------------------------- models and evaluations
def method_folds(method):
    return [LAYOUT.fold_name(k) for k in FOLDS] if METHODS[method].trains else [ALL_FOLDS]


def method_inputs(method):
    """The model inputs a method runs on: inputs of several contrasts only for a method that takes
    them as channels (registry `multicontrast`); the others stay single-contrast."""
    return [i for i in MODEL_MODALITIES if len(INPUTS[i]) == 1 or METHODS[method].multicontrast]


def evaluated_combinations():
    """(method, input, fold, dataset) for every lesion-set evaluation of the run."""
    return [
        (method, modality, fold, d)
        for method in RUN_METHODS
        for d in LESION_SETS
        for modality in SET_INPUTS[d]
        if modality in method_inputs(method)
        for fold in method_folds(method)
    ]


# The conda envs of the rules that run PyTorch: its CUDA build (envs/torch.yaml, envs/hdbet.yaml), or
# on a CPU-only site its CPU build (envs/cpu/; config device.torch_build: cpu; docs/cluster.md). The
# CPU build is the one switch of such a site: no rule asks for a GPU, CUDA is not required, HD-BET
# runs on the CPU.
TORCH_BUILD = config.get("device", {}).get("torch_build", "cuda")
CPU_ONLY = TORCH_BUILD == "cpu"
# Device policy: GPU rules stop at once when CUDA is required and absent (paper: yes; demo: no).
REQUIRE_CUDA = bool(config.get("device", {}).get("require_cuda", False)) and not CPU_ONLY


def gpus(wanted=True):
    """The `gpu` resource of a job that would use a GPU (`wanted`): 1, or 0 on a CPU-only site."""
    return 1 if wanted and not CPU_ONLY else 0


# What a CPU-only site lowers (patch2loc.checks.cpu_site): Patch2Loc's scoring batch, to what fits
# half the scoring job's memory; a training's GPU peak moves into its job's memory.
SCORING_MEM_MB, TRAIN_MEM_MB = 16000, 48000
SCORING_PATCH = PATCH_GRID or round(0.125 * max(config["preprocess"]["target_shape"][:2]))
HEATMAP = cpu_heatmap(config["heatmap"], SCORING_PATCH, SCORING_MEM_MB) if CPU_ONLY else config["heatmap"]


# Cards of several sizes (config device.cards: {SLURM feature: GiB}): a training asks, through the SLURM
# plugin's `constraint`, for the cards that hold its measured peak (registry train_gpu_gib, at its
# config's precision) with 1.5 GiB to spare for the CUDA context and the allocator's fragmentation.
CARDS = config.get("device", {}).get("cards") or {}
CARD_SPARE_GIB = 1.5


def train_gpu_resources(method, pretraining=False):
    """{gpu_mem_gib, and constraint where device.cards is set} of one training job of `method`."""
    m = METHODS[method]
    if not gpus(m.gpu):
        return {"gpu_mem_gib": 0}
    need = train_device_gib(method, pretraining)
    amp = config[m.config]["amp"]  # the schema requires it
    mixed = (m.pretrain if pretraining else m).train_gpu_gib[1]
    if not CARDS:
        return {"gpu_mem_gib": need}
    fits = sorted(f for f, gib in CARDS.items() if need + CARD_SPARE_GIB <= gib)
    if not fits:
        hint = f"set {m.config}.amp: bf16 ({math.ceil(mixed)} GiB) or " if amp == "none" else ""
        raise WorkflowError(
            f"config device.cards: no card holds a {method} training's {need} GiB at amp {amp} "
            f"(a card of {need + CARD_SPARE_GIB:g} GiB or more): {hint}add a larger card (docs/cluster.md, 'Cards')."
        )
    return {"gpu_mem_gib": need, "constraint": "|".join(fits)}


def train_device_gib(method, pretraining=False):
    """The measured device peak of one training of `method` (registry train_gpu_gib) at its amp."""
    m = METHODS[method]
    fp32, mixed = (m.pretrain if pretraining else m).train_gpu_gib
    return math.ceil(fp32 if config[m.config]["amp"] == "none" else mixed)


def train_mem_mb(method, pretraining=False):
    """A training job's host memory: on a CPU-only site its device peak lives there too."""
    if CPU_ONLY and METHODS[method].gpu:
        return cpu_train_mem_mb(TRAIN_MEM_MB, train_device_gib(method, pretraining))
    return TRAIN_MEM_MB


def torch_env(name):
    """The env file (relative to rules/) for PyTorch jobs: envs/{name}.yaml, or envs/cpu/{name}.yaml."""
    return f"../envs/{'cpu/' if TORCH_BUILD == 'cpu' else ''}{name}.yaml"


def internet_rules():
    """Rules that need the internet: those that declare the `downloads` resource (a cluster's compute
    nodes often have none, so the Snakefile makes them local rules)."""
    return [r.name for r in workflow.rules if r.resources.get("downloads")]


# The published networks the run's methods train on (rules/pretrained.smk).
PRETRAINED_HOME = config.get("pretrained", {}).get("home", PRETRAINED_DEFAULT_HOME)


def weights_inputs(method):
    """The cache files that `method`'s training reads (nothing for a method without any)."""
    return [str(weights_path(key, PRETRAINED_HOME)) for key in METHODS[method].pretrained]


RUN_WEIGHTS = sorted({key for m in TRAINED_METHODS for key in m.pretrained})


# Scoring rules come in two: methods with a network ask for a GPU (score_healthy, score_lesions),
# the others (Thresh) run on one CPU (score_healthy_cpu, score_lesions_cpu), so that a cluster
# profile can send each to its partition.
GPU_METHODS = "|".join(m.name for m in METHODS.values() if m.gpu) or "(?!)"
CPU_METHODS = "|".join(m.name for m in METHODS.values() if not m.gpu) or "(?!)"


def shard_size(dataset):
    """Volumes per scoring job of a lesion set (`evaluate.shard_size`; null: the whole set)."""
    size = config["evaluate"].get("shard_size")
    return size or max(1, len(lesion_subjects(dataset)))


def n_shards(dataset):
    return -(-len(lesion_subjects(dataset)) // shard_size(dataset))


def shard_subjects(dataset, shard):
    size = shard_size(dataset)
    return lesion_subjects(dataset)[shard * size : (shard + 1) * size]


def shard_runtime(dataset, minutes_per_volume):
    """A shard's time limit (minutes): its volumes at paper scale, at least 30."""
    return max(30, math.ceil(minutes_per_volume * len(shard_subjects(dataset, 0))))
