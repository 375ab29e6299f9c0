"""A small patch table of the patch analysis's columns: normal patches (no lesion) and abnormal
ones (all lesion) apart in error and variance, plus one half-lesion patch that is neither."""

import numpy as np
import pandas as pd


def patch_table(n_normal, n_abnormal, seed=0, dataset="BraTS21"):
    rng = np.random.default_rng(seed)
    frac = np.r_[np.zeros(n_normal), np.ones(n_abnormal), [0.5]]
    le = np.r_[rng.normal(0, 1, n_normal), rng.normal(4, 1, n_abnormal), [2.0]]
    lv = np.r_[rng.normal(1, 0.5, n_normal), rng.normal(3, 0.7, n_abnormal), [2.0]]
    n = len(frac)
    return pd.DataFrame(
        {
            "dataset": dataset,
            "fold": 0,
            "lesion_fraction": frac,
            "log_error": le,
            "log_variance": lv,
            "score": le + lv,
            "target_x": 40.0,
            "target_y": 60.0,
            "mu_x": 40 + rng.normal(0, 1, n) * (1 + 5 * frac),
            "mu_y": 60 + rng.normal(0, 1, n) * (1 + 5 * frac),
            "s_x": lv,
            "s_y": lv + 0.3,
            "z": 50,
            "x": 77,
            "y": 115,
        }
    )
