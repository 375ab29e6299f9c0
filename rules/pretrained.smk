# The published ImageNet networks that the run's methods train on (the registry's `pretrained`:
# FAE's ResNet-18, RA's and PHANES' LPIPS SqueezeNet, PHANES' VGG-19), fetched once into
# pretrained.home and checked against their published sha256 (patch2loc.networks.pretrained). It
# declares `downloads`, so it runs on the login node (internet_rules); the training jobs read the
# cache and put what scoring needs into their checkpoints. Their offline variants (FAE-random, ...)
# need none of it. PRETRAINED_HOME, RUN_WEIGHTS, weights_inputs: rules/common.smk.
if RUN_WEIGHTS:

    rule download_weights:
        output:
            weights=[str(weights_path(key, PRETRAINED_HOME)) for key in RUN_WEIGHTS],
        log:
            LAYOUT.log("pretrained", "download_weights"),
        retries: 2
        conda:
            "../envs/preprocess.yaml"
        resources:
            downloads=1,
            runtime=60,
        params:
            files=RUN_WEIGHTS,
            home=lambda wc, output: str(Path(output.weights[0]).parent),
            download=config.get("download", {}),
        script:
            "../workflow/scripts/download_weights.py"
