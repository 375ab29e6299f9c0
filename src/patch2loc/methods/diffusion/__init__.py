"""The diffusion models of the paper's Table 1 (DDPM, Wyatt et al. 2022; pDDPM and cDDPM, Behrendt et
al. 2024, 2025), as Behrendt et al.'s public code configures them: one UNet, one
simplex noise, one schedule (docs/diffusion.md); cDDPM's encoder and its masked-autoencoder pre-training."""
