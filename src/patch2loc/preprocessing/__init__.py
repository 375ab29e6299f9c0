"""Preprocessing: skull stripping, registration to the atlas, N4, crop/pad, Nyul normalisation, QC."""
