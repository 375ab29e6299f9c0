"""Model bundles: a trained model that travels (`patch2loc export`, `patch2loc predict --model`).

A bundle (a .zip, or a folder with the same files) holds everything predict needs to put a raw
scan through the run's chain and score it, and nothing else:

    manifest.json          format, method, modality, versions; sha256 and size of every other member
    settings.json          preprocessing, normalisation and heatmap settings, the folds (weights
                           member, unsupervised threshold), where the other members are
    landmarks.npy          the modality's Nyul landmarks ([2, L] numbers)
    atlas/image.nii.gz     the registration atlas and its brain mask
    atlas/mask.nii.gz
    folds/fold{k}.pt       each selected fold's best.pt, without the optimizer and RNG state
    versions.txt           the package versions of the run that trained it

A bundle is untrusted input (members.py): only these names, no links, no path that leaves the
bundle, each member's declared and actual size within the limits of limits.py, and the manifest
checked (no member missing, extra or changed) before anything in it is used. Weights are read
with `patch2loc.run.checkpoint.read_checkpoint` (no code from the file runs), arrays with
`allow_pickle=False`, settings as JSON.
"""
