# The published ImageNet networks that the run's methods train on (the registry's `pretrained`:
# FAE's ResNet-18, RA's and PHANES' LPIPS SqueezeNet, PHANES' VGG-19), fetched once into
# pretrained.home and checked against their published sha256 (patch2loc.methods.pretrained). It
# declares `downloads`, so it runs on the login node (internet_rules); the training jobs read the
# cache and put what scoring needs into their checkpoints. Their offline variants (FAE-random, ...)
# need none of it.
from patch2loc.methods.pretrained import HOME as PRETRAINED_DEFAULT_HOME, weights_path  # noqa: E402

PRETRAINED_HOME = config.get("pretrained", {}).get("home", PRETRAINED_DEFAULT_HOME)


def weights_inputs(method):
    """The cache files that `method`'s training reads (nothing for a method without any)."""
    return [str(weights_path(key, PRETRAINED_HOME)) for key in METHODS[method].pretrained]


RUN_WEIGHTS = sorted({key for m in TRAINED_METHODS for key in m.pretrained})

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
            home=PRETRAINED_HOME,
            download=config.get("download", {}),
        script:
            "../workflow/scripts/download_weights.py"
