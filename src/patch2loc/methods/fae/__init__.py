"""Meissen et al.'s structural feature autoencoder (FAE, 2022): model, training, scoring (docs/fae.md)."""
