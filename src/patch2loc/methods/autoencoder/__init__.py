"""Baur et al.'s dense autoencoder and variational autoencoder (MedIA 2021): model, training, scoring (docs/ae-vae.md)."""
