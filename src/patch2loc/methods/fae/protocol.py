"""Meissen et al.'s evaluation of the FAE, as their code runs it (FeliMe/feature-autoencoder at 16ee46d,
fae/train_fae.py l. 218-252, fae/utils/evaluation.py; docs/protocols.md).

- no brain mask, no erosion, no median filter, no component filter: the map as the model gives it
- AUPRC: sklearn's average precision over the pooled pixels of every test slice (evaluation.py l. 13-26)
- Dice: at the threshold where the pooled false-positive rate is 5 % (compute_dice_at_nfpr), a mode the
  scoring core does not have; the exact best Dice per volume stands in (docs/fae.md says so)
"""

from patch2loc.scoring.protocol import unfiltered

MEISSEN = unfiltered(
    source="Meissen et al. 2022 (FeliMe/feature-autoencoder)",
    auprc="pooled",
    dice_pooled=True,
    not_reproduced=(
        "Dice at 5 % pooled false-positive rate (train_fae.py l. 251-252); here the best Dice per volume",
        "histogram equalisation of each volume's brain voxels, 256 bins (fae/data/data_utils.py l. 79-80, 125-130)",
        "axial slices 55-135 of MNI volumes, centre-cropped and resized to 128 x 128 (data_utils.py l. 65-74)",
    ),
)
