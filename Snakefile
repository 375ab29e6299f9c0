# Patch2Loc: raw scans -> preprocessing -> Nyul landmarks -> training per (modality, fold)
# -> heatmaps and metrics per dataset -> Table 1, Table 2, figures, HTML report.
#
#   snakemake --cores 8 --sdm conda                         # the paper (config/config.yaml)
#   snakemake --cores 2 --configfile config/demo.yaml       # the embedded synthetic demo
#   snakemake table1                                        # one named target
#   snakemake --profile profiles/slurm                      # the same DAG on a SLURM cluster

# The paper's config unless --configfile names another. A config file stands alone, or names the one
# it overrides with `extends:` (config/demo.yaml extends config/config.yaml) and may `drop:` keys of it;
# rules/common.smk reads them (docs/configuration.md, "Overrides").
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"


# Snakemake's own report (snakemake --report report.zip after a run): this page introduces it.
report: "workflow/report/workflow.rst"


# The container route (docs/cluster.md, "Containers"): with --sdm conda apptainer every job runs in
# this image, whose conda envs the repository's Dockerfile built from envs/*.yaml (make dockerfile);
# config `container` names it (default: patch2loc.sif beside the Snakefile). Unused without apptainer.
containerized: config.get("container", "patch2loc.sif")


include: "rules/common.smk"
include: "rules/inputs.smk"
include: "rules/raw.smk"
include: "rules/data.smk"
include: "rules/skullstrip.smk"
include: "rules/preprocess.smk"
include: "rules/normalize.smk"
include: "rules/pretrained.smk"
include: "rules/train.smk"
include: "rules/heatmaps.smk"
include: "rules/tables.smk"
include: "rules/report.smk"
include: "rules/bundles.smk"


# Jobs that run in this Snakemake process even under a cluster executor: the rules that need the
# internet (compute nodes often have none), found by the `downloads` resource they declare; and
# these, which read a few small files or stream shards and would wait longer in a queue than they
# run. table2 and figures read every patch row and stay cluster jobs (with memory declared). The
# others go to a partition chosen by their resources (profiles/slurm/partitions.yaml).
workflow.localrules(*internet_rules())


localrules:
    merge_score_shards,
    table1,
    compute_table,
    qc_overview,
    run_info,
    report,
    record_atlas,


rule all:
    default_target: True
    input:
        rules.report.output,
        rules.protocols.output,
        rules.bundles.input,
        [LAYOUT.qc(d, m, "html") for d, m in sorted({(d, m) for d, m, _ in all_scans()})],
