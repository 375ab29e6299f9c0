"""RA's training objectives: Soft-IntroVAE's encoder and decoder losses plus RA's embedding loss
(ci-ber/RA@9b7a255 projects/23_ra_midl/RA_Trainer.py l. 30-35, 78-158; optim/losses/image_losses.py
l. 50-70; model_zoo/ra.py l. 225-287).

Per batch x, with noise ~ N(0, I) drawn once for both steps:
- encoder step (decoder frozen): fake = D(noise); z ~ q(z|x); rec = D(z);
  L_E = s (beta_rec SSE(x, rec) + beta_kl KL(x)) + 0.25 (E[exp(-2 s (beta_rec SSE(y, y') + beta_neg KL(y)))]
  over y = rec.detach() and y = fake, y' their reconstructions through the whole model)
  + 0.005 L_emb(E-embeddings of x, of rec.detach());
- decoder step (encoder frozen): fake = D(noise); rec = D(z.detach());
  L_D = s (beta_rec SSE(x, rec) + 0.5 beta_kl (KL(rec) + KL(fake)) + gamma_r 0.5 beta_rec
  (SSE(rec, D(z_rec)) + SSE(fake, D(z_fake)))), z_rec, z_fake sampled and detached.
SSE is summed over each image's pixels, KL over the code; both averaged over the batch (the exp
terms average the exponentials). s = 1 / size^2 (RA_Trainer.py l. 30: 1/128^2).
The reference's quirk is kept: in the encoder step SSE(rec, rec_rec) keeps `rec` attached, so its
gradient reaches the encoder through rec as well (l. 108).
PHANES' encoder step differs in one point (`detach_second`): its second pass goes through
`Phanes.ae()`, which returns the decoded image detached (ci-ber/PHANES@c8995ed model_zoo/phanes.py
l. 314-330; projects/phanes/PhanesTrainer.py l. 138-141), so rec_rec and fake_rec carry no gradient
and the exp terms reach the encoder only through KL(y) and through rec in SSE(rec, rec_rec).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from patch2loc.methods.ra.model import SoftIntroVAE, reparameterize


@dataclass(frozen=True)
class IntroWeights:
    beta_kl: float = 1.0  # RA_Trainer.py l. 32
    beta_rec: float = 0.5  # l. 33
    beta_neg: float = 128.0  # l. 34
    gamma_r: float = 1e-8  # l. 31
    embedding: float = 0.005  # l. 121


WEIGHTS = IntroWeights()


def scale_of(size: int) -> float:
    """1 / size^2: the reference's normalisation by the image size (RA_Trainer.py l. 30)."""
    return 1.0 / size**2


def sse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """[B]: the squared error summed over each image (ra.py l. 262-287, 'mse' with the sum over pixels)."""
    return (y.float() - x.float()).pow(2).flatten(1).sum(1)


def kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """[B]: KL(N(mu, exp(logvar)) || N(0, I)) summed over the code (ra.py l. 225-245)."""
    mu, logvar = mu.float(), logvar.float()
    return -0.5 * (1 + logvar - logvar.exp() - mu.pow(2)).sum(1)


def embedding_loss(first: list[torch.Tensor], second: list[torch.Tensor]) -> torch.Tensor:
    """Sum over the paired embeddings of 0.5 x MSE + mean over the batch of (1 - cosine similarity of
    the flattened maps) (image_losses.py l. 50-70)."""
    total = 0.0
    for a, b in zip(first, second, strict=True):
        a, b = a.float(), b.float()
        total = total + 0.5 * F.mse_loss(a, b) + (1 - F.cosine_similarity(a.flatten(1), b.flatten(1))).mean()
    return total


def _exp_elbo(scale: float, w: IntroWeights, error: torch.Tensor, kl: torch.Tensor) -> torch.Tensor:
    return torch.exp(-2 * scale * (w.beta_rec * error + w.beta_neg * kl)).mean()


def encoder_loss(
    scale: float, w: IntroWeights, real: tuple, rec: tuple, fake: tuple, emb: torch.Tensor
) -> torch.Tensor:
    """L_E from per-image terms: `real` = (SSE(x, rec), KL(x)); `rec` = (SSE(rec, rec_rec), KL(rec));
    `fake` = (SSE(fake, fake_rec), KL(fake)); `emb` the embedding loss (RA_Trainer.py l. 97-121)."""
    real_term = scale * (w.beta_rec * real[0].mean() + w.beta_kl * real[1].mean())
    return real_term + 0.25 * (_exp_elbo(scale, w, *rec) + _exp_elbo(scale, w, *fake)) + w.embedding * emb


def decoder_loss(
    scale: float, w: IntroWeights, error: torch.Tensor, kls: tuple, recs: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """L_D from per-image terms: `error` = SSE(x, rec), `kls` = (KL(rec), KL(fake)), `recs` =
    (SSE(rec, D(z_rec)), SSE(fake, D(z_fake))) (RA_Trainer.py l. 134-154)."""
    kl_term = 0.5 * w.beta_kl * (kls[0].mean() + kls[1].mean())
    rec_term = w.gamma_r * 0.5 * w.beta_rec * (recs[0].mean() + recs[1].mean())
    return scale * (w.beta_rec * error.mean() + kl_term + rec_term)


def train_part(vae: SoftIntroVAE, part: str) -> None:
    """Gradients for the encoder or the decoder only (RA_Trainer.py l. 82-85, 127-130)."""
    vae.encoder.requires_grad_(part == "encoder")
    vae.decoder.requires_grad_(part == "decoder")


def encoder_objective(vae, x, noise, generator, scale: float, w: IntroWeights = WEIGHTS, detach_second=False):
    """(L_E, z): the encoder step's forward passes in the reference's order (RA_Trainer.py l. 87-121);
    `detach_second`: the second pass's reconstructions without gradient, as PHANES' (module docstring)."""
    fake = vae.decode(noise)
    mu, logvar, real_embeddings = vae.encode(x)
    z = reparameterize(mu, logvar, generator)
    rec = vae.decode(z)
    _, _, rec_embeddings = vae.encode(rec.detach())
    rec_rec, rec_mu, rec_logvar, _, _ = vae(rec.detach(), generator)
    fake_rec, fake_mu, fake_logvar, _, _ = vae(fake.detach(), generator)
    if detach_second:
        rec_rec, fake_rec = rec_rec.detach(), fake_rec.detach()
    loss = encoder_loss(
        scale,
        w,
        (sse(x, rec), kl_to_prior(mu, logvar)),
        (sse(rec, rec_rec), kl_to_prior(rec_mu, rec_logvar)),
        (sse(fake, fake_rec), kl_to_prior(fake_mu, fake_logvar)),
        embedding_loss(real_embeddings, rec_embeddings),
    )
    return loss, z


def decoder_objective(vae, x, z, noise, generator, scale: float, w: IntroWeights = WEIGHTS):
    """(L_D, rec): the decoder step's forward passes in the reference's order (RA_Trainer.py l. 132-154)."""
    fake = vae.decode(noise)
    rec = vae.decode(z.detach())
    rec_mu, rec_logvar, _ = vae.encode(rec)
    z_rec = reparameterize(rec_mu, rec_logvar, generator)
    fake_mu, fake_logvar, _ = vae.encode(fake)
    z_fake = reparameterize(fake_mu, fake_logvar, generator)
    rec_rec, fake_rec = vae.decode(z_rec.detach()), vae.decode(z_fake.detach())
    kls = (kl_to_prior(rec_mu, rec_logvar), kl_to_prior(fake_mu, fake_logvar))
    recs = (sse(rec.detach(), rec_rec), sse(fake.detach(), fake_rec))
    return decoder_loss(scale, w, sse(x, rec), kls, recs), rec
