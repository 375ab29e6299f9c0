"""The denoising autoencoder (Kascenas et al., MIDL 2022): model, coarse noise, training, scoring."""
