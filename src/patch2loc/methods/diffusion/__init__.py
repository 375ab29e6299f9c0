"""The diffusion models of the paper's Table 1 (Behrendt et al.: DDPM, pDDPM, cDDPM): one UNet, one
simplex noise, one schedule (docs/diffusion.md); cDDPM's encoder and its masked-autoencoder pre-training."""
