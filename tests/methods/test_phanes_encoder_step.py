"""PHANES' encoder step against the reference's definition (docs/phanes.md): ci-ber/PHANES@c8995ed
projects/phanes/PhanesTrainer.py l. 131-163, whose second pass goes through `Phanes.ae()` and so
returns the decoded images detached (model_zoo/phanes.py l. 314-330). The definition is written
here from those lines, on the same networks and random draws. One training step of PHANES moves the
encoder by that loss's gradient; RA's step (ci-ber/RA@9b7a255 RA_Trainer.py l. 87-121: the second
pass through the model's forward, attached) is RA's and not PHANES'."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from patch2loc.methods.phanes.train import PHANESConfig, PHANESTask
from patch2loc.methods.ra import losses
from patch2loc.methods.ra.model import SoftIntroVAE
from patch2loc.methods.ra.train import training_batch
from patch2loc.training.training_data import TrainingData

SCALE = 1 / 32**2


def _reference_encoder_loss(vae, x, noise, generator, scale: float, second_detached: bool) -> torch.Tensor:
    """The reference's lossE. 'mse' with reduction 'mean' sums each image's squared errors and averages
    over the batch; calc_kl sums over the code; reparameterize draws one normal per code entry."""

    def mse(a, b, mean=True):
        per_image = F.mse_loss(b.reshape(len(b), -1), a.reshape(len(a), -1), reduction="none").sum(1)
        return per_image.mean() if mean else per_image

    def kl(logvar, mu):
        return -0.5 * (1 + logvar - logvar.exp() - mu.pow(2)).sum(1)

    def sample(mu, logvar):
        return mu + torch.randn(mu.shape, generator=generator, device=mu.device) * torch.exp(0.5 * logvar)

    def second_pass(y):  # PHANES: Phanes.ae (decode(z).detach()); RA: the model's forward
        mu, logvar, _ = vae.encoder(y)
        out = vae.decoder(sample(mu, logvar))
        return (out.detach() if second_detached else out), mu, logvar

    fake = vae.decoder(noise)
    real_mu, real_logvar, anomaly_embeddings = vae.encoder(x)
    rec = vae.decoder(sample(real_mu, real_logvar))
    _, _, healthy_embeddings = vae.encoder(rec.detach())
    loss_emb = sum(
        0.5 * F.mse_loss(a, b) + torch.mean(1 - F.cosine_similarity(a.flatten(1), b.flatten(1)))
        for a, b in zip(anomaly_embeddings, healthy_embeddings)
    )
    loss_rec = mse(x, rec)
    real_kl = kl(real_logvar, real_mu).mean()
    rec_rec, rec_mu, rec_logvar = second_pass(rec.detach())
    rec_fake, fake_mu, fake_logvar = second_pass(fake.detach())
    expelbo_rec = (-2 * scale * (0.5 * mse(rec, rec_rec, False) + 128.0 * kl(rec_logvar, rec_mu))).exp().mean()
    expelbo_fake = (-2 * scale * (0.5 * mse(fake, rec_fake, False) + 128.0 * kl(fake_logvar, fake_mu))).exp().mean()
    return scale * (0.5 * loss_rec + 1.0 * real_kl) + 0.25 * (expelbo_rec + expelbo_fake) + 0.005 * loss_emb


def _encoder_gradients(vae, loss) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, list(vae.encoder.parameters())))


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    vae = SoftIntroVAE(1, 4, (2, 4, 8, 8, 8), 32)
    g = torch.Generator().manual_seed(seed)
    return vae, torch.rand(3, 1, 32, 32, generator=g), torch.randn(3, 4, generator=g)


def _relative(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    diff = torch.cat([(p - q).flatten() for p, q in zip(a, b)]).norm()
    return float(diff / torch.cat([q.flatten() for q in b]).norm())


@pytest.mark.parametrize("second_detached", [True, False], ids=["PHANES", "RA"])
def test_the_encoder_objective_is_the_references(second_detached):
    """The same loss and encoder gradients as the reference's definition, both ways; the two ways'
    gradients differ (so this test tells them apart)."""
    vae, x, noise = _setup()
    losses.train_part(vae, "encoder")
    ours, _ = losses.encoder_objective(
        vae, x, noise, torch.Generator().manual_seed(5), SCALE, detach_second=second_detached
    )
    want = _reference_encoder_loss(vae, x, noise, torch.Generator().manual_seed(5), SCALE, second_detached)
    other = _reference_encoder_loss(vae, x, noise, torch.Generator().manual_seed(5), SCALE, not second_detached)
    assert ours.item() == pytest.approx(want.item(), rel=1e-6)
    got, wanted, others = (_encoder_gradients(vae, loss) for loss in (ours, want, other))
    for a, b in zip(got, wanted, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-8)
    assert _relative(others, wanted) > 0.01


def test_one_phanes_training_step_moves_the_encoder_by_the_references_gradient():
    """PHANESTask.train_step with the encoder's optimiser swapped for SGD at lr 1: the encoder's
    weights move by minus the gradient of the reference's lossE on the step's batch and draws."""
    rng = np.random.default_rng(0)
    brain = np.zeros((2, 32, 32, 3), bool)
    brain[:, 6:26, 6:26] = True
    images = (brain * rng.uniform(0.2, 0.9, brain.shape)).astype(np.float32)
    data = TrainingData(images, brain, images, brain, {"train": ["a", "b"], "val": ["a", "b"]}, (1.0, 1.0, 1.0))
    cfg = PHANESConfig(
        steps=1, batch_size=2, size=64, width=2, zdim=4, augment=False, val_batches=1, weights="random",
        val_every=1, method="PHANES-noPretrained", device="cpu",
    )  # fmt: skip
    task = PHANESTask(data, cfg, (None, None), torch.device("cpu"))
    task.model.train()
    encoder = task.model.vae.encoder
    task.optimizer.optimizers["encoder"] = torch.optim.SGD(encoder.parameters(), lr=1.0)
    before = copy.deepcopy(task.model.vae)
    start = [p.detach().clone() for p in encoder.parameters()]
    replay = torch.Generator().set_state(task.generator.get_state())
    task.train_step(0)
    moved = [b - p.detach() for b, p in zip(start, encoder.parameters())]

    x, noise = training_batch(task.slices, cfg, replay, torch.device("cpu"))
    torch.randint(2**62, (1,), generator=replay)  # the step's mask seed, drawn before the updates
    losses.train_part(before, "encoder")
    wanted = _encoder_gradients(before, _reference_encoder_loss(before, x, noise, replay, task.scale, True))
    attached = _encoder_gradients(
        before,
        _reference_encoder_loss(
            before, x, noise, torch.Generator().set_state(replay.get_state()), task.scale, second_detached=False
        ),
    )
    assert _relative(moved, wanted) < 1e-4
    assert _relative(attached, wanted) > 0.01
