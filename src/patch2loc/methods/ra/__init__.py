"""RA, the reversed autoencoder of Bercea et al. (MIDL 2023): a Soft-IntroVAE scored with CLAHE and LPIPS (docs/ra.md)."""
