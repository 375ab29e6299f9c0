"""beta-NLL: value against a hand formula, and the stop-gradient on the exp(s)^beta weight."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patch2loc.methods.patch2loc.loss import beta_nll


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(6, 2, generator=g, dtype=torch.float64) * 10 + 50
    logvar = torch.randn(6, 2, generator=g, dtype=torch.float64)
    target = torch.rand(6, 2, generator=g, dtype=torch.float64) * 100
    return mean, logvar, target


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_value_equals_hand_formula(beta):
    mean, logvar, target = _inputs()
    m, s, y = mean.numpy(), logvar.numpy(), target.numpy()
    per_coord = np.exp(s) ** beta * 0.5 * ((y - m) ** 2 / np.exp(s) + s)
    expected = per_coord.sum(axis=1).mean()
    got = beta_nll(mean, logvar, target, beta).item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_gradients_treat_weight_as_constant():
    beta = 0.5
    mean, logvar, target = _inputs(1)
    mean.requires_grad_(True)
    logvar.requires_grad_(True)
    beta_nll(mean, logvar, target, beta).backward()

    n = mean.shape[0]
    m, s, y = mean.detach().numpy(), logvar.detach().numpy(), target.numpy()
    w = np.exp(beta * s)  # constant under the stop-gradient
    grad_s = w * 0.5 * (1 - (y - m) ** 2 * np.exp(-s)) / n
    grad_m = w * (m - y) * np.exp(-s) / n
    # What the gradient would be without the stop-gradient (the weight's derivative included).
    grad_s_no_stop = grad_s + beta * w * 0.5 * ((y - m) ** 2 * np.exp(-s) + s) / n

    np.testing.assert_allclose(logvar.grad.numpy(), grad_s, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mean.grad.numpy(), grad_m, rtol=1e-4, atol=1e-6)
    assert not np.allclose(logvar.grad.numpy(), grad_s_no_stop, rtol=1e-3)


def test_beta_zero_is_gaussian_nll():
    mean, logvar, target = _inputs(2)
    gnll = torch.nn.functional.gaussian_nll_loss(mean, target, torch.exp(logvar), reduction="none", full=False)
    assert beta_nll(mean, logvar, target, 0.0).item() == pytest.approx(gnll.sum(1).mean().item(), rel=1e-5)
