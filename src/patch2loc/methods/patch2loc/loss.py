"""beta-NLL (Seitzer et al. 2022), the Patch2Loc training loss (paper section 2.2)."""

from __future__ import annotations

import torch


def beta_nll(mean: torch.Tensor, logvar: torch.Tensor, target: torch.Tensor, beta: float = 0.5) -> torch.Tensor:
    """sum over the 2 coordinates, mean over patches, of
    stopgrad(exp(s))^beta * 0.5 * ((y - mu)^2 / exp(s) + s).

    The weight exp(s)^beta is detached: it rescales each patch's gradient without itself
    being optimised (beta = 0 is the plain Gaussian NLL).
    """
    mean, logvar, target = mean.float(), logvar.float(), target.float()
    nll = 0.5 * ((target - mean) ** 2 * torch.exp(-logvar) + logvar)
    if beta:
        nll = nll * torch.exp(logvar.detach() * beta)
    return nll.sum(dim=1).mean()
