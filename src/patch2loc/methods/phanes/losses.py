"""PHANES' inpainter losses: L1 + style + perceptual on VGG-19, and the `smgan` adversarial losses.

References (ci-ber/PHANES@c8995ed): projects/phanes/PhanesTrainer.py l. 45-57, 250-269;
model_zoo/aotgan/loss/loss.py; model_zoo/aotgan/loss/common.py (docs/phanes.md).
- reconstruction: 1 L1 + 250 Style + 0.1 Perceptual (PhanesTrainer.py l. 45), each on the generator's raw
  output against the input image (l. 257); L1 is the mean absolute error (loss.py l. 12-17);
- perceptual: sum of L1 between VGG-19 features at relu1_1 .. relu5_1, weight 1 each (loss.py l. 20-37);
- style: sum of L1 between Gram matrices / (c h w) at relu2_2, relu3_4, relu4_4, relu5_2 (loss.py l. 40-64);
- VGG-19: torchvision's `features` up to index 35, frozen; a grey image repeated to 3 channels, mapped
  by (x + 1) / 2, then ImageNet-normalised (common.py l. 12-54). Kept quirk: that mapping is written for
  images in [-1, 1]; PHANES' images are in [0, 1], so VGG sees them in [0.5, 1];
- `smgan` (loss.py l. 83-110): the discriminator's outputs resized (bilinear, align_corners=True) to the
  mask's size; its targets: the synthetic mask blurred by a 71 x 71 Gaussian of sigma 10 for the
  composite, 0 for the real image; mean squared errors. The generator's term is MSE(D(composite), 1)
  (its mask weighting, a scalar times mask / mean(mask), averages back to the scalar), weight 0.01
  (PhanesTrainer.py l. 46), and is never back-propagated (l. 261-268): kept, see `smgan_losses`.
The reference builds one VGG for the perceptual and one for the style loss and runs each on both images;
here one frozen network runs once per image for both (the same numbers), and stops at relu5_2.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from patch2loc.networks import pretrained

VGG_LAYERS = 36  # features[0:36] (common.py l. 29-36)
# The features' index of each ReLU the losses read (common.py l. 20-32: relu{block}_{conv} groups).
TAPS = {
    "relu1_1": 1,
    "relu2_1": 6,
    "relu2_2": 8,
    "relu3_1": 11,
    "relu3_4": 17,
    "relu4_1": 20,
    "relu4_4": 26,
    "relu5_1": 29,
    "relu5_2": 31,
}
PERCEPTUAL = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # weights 1 each (loss.py l. 21)
STYLE = ("relu2_2", "relu3_4", "relu4_4", "relu5_2")  # loss.py l. 59-60
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet's (common.py l. 18-19)
REC_WEIGHTS = {"l1": 1.0, "style": 250.0, "perceptual": 0.1}  # '1*L1+250*Style+0.1*Perceptual'
ADV_WEIGHT = 0.01  # adv_weight (PhanesTrainer.py l. 46)
BLUR_SIZE, BLUR_SIGMA = 71, 10.0  # smgan's target blur (loss.py l. 84, 103)


class VGGFeatures(nn.Module):
    """Frozen VGG-19 features[0:36] (random until `load_vgg19` fills them); forward -> {tap: features}."""

    def __init__(self):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        # VGG-19's features (torchvision's configuration "E") alone: vgg19() would also build and
        # initialise its 120M-parameter classifier, which nothing reads (seconds, half a GB).
        self.features = make_layers(cfgs["E"])[:VGG_LAYERS]
        self.features.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = ((x + 1) / 2 - self.mean) / self.std  # the reference's [-1, 1] mapping, kept (module docstring)
        out, wanted = {}, {i: name for name, i in TAPS.items()}
        for i, layer in enumerate(self.features[: max(TAPS.values()) + 1]):
            x = layer(x)
            if i in wanted:
                out[wanted[i]] = x
        return out


def load_vgg19(vgg: VGGFeatures, state: dict) -> VGGFeatures:
    """Fill `vgg` from torchvision's VGG-19 state dict (its `features.` entries; the classifier is not read)."""
    prefix = "features."
    vgg.features.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
    return vgg


def vgg_for(weights: str, home: str | Path, block: str) -> VGGFeatures | None:
    """`weights: imagenet` -> the published VGG-19 (pretrained.FILES['vgg19'], checked; the paper's
    losses); `random` -> None: the offline variant trains the inpainter without the VGG losses (a random
    VGG's style and perceptual terms would be another loss, not the paper's)."""
    if pretrained.check_weights_setting(weights, block) == pretrained.RANDOM:
        return None
    state = pretrained.state_dict("vgg19", home, block)  # refused in one line before building anything
    return load_vgg19(VGGFeatures(), state)


def gram(f: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, C] Gram matrices divided by C H W (loss.py l. 46-51)."""
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def perceptual_loss(fx: dict[str, torch.Tensor], fy: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(F.l1_loss(fx[k], fy[k]) for k in PERCEPTUAL)


def style_loss(fx: dict[str, torch.Tensor], fy: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(F.l1_loss(gram(fx[k]), gram(fy[k])) for k in STYLE)


def reconstruction_losses(pred: torch.Tensor, target: torch.Tensor, vgg: VGGFeatures | None) -> dict:
    """The weighted terms (their sum is the generator's loss): l1, and with a VGG style and perceptual."""
    terms = {"l1": REC_WEIGHTS["l1"] * F.l1_loss(pred, target)}
    if vgg is not None:
        fx, fy = vgg(pred), vgg(target)
        terms["style"] = REC_WEIGHTS["style"] * style_loss(fx, fy)
        terms["perceptual"] = REC_WEIGHTS["perceptual"] * perceptual_loss(fx, fy)
    return terms


def gaussian_kernel(size: int = BLUR_SIZE, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """[size, size]: the outer product of exp(-(i - size // 2)^2 / (2 sigma^2)), each normalised to sum 1
    (common.py l. 57-124)."""
    d = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(d**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).float()


def blur(masks: torch.Tensor, size: int = BLUR_SIZE, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """Per-channel Gaussian blur with zero padding (size - 1) / 2 (common.py l. 146-174)."""
    c = masks.shape[1]
    kernel = gaussian_kernel(size, sigma).to(masks)[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(masks, kernel, padding=(size - 1) // 2, groups=c)


def smgan_losses(
    net_d: nn.Module, composite: torch.Tensor, real: torch.Tensor, masks: torch.Tensor, generator_grad: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator loss, generator term before ADV_WEIGHT). `masks` are the synthetic masks only
    (PhanesTrainer.py l. 260). The discriminator runs three times, as the reference, in its order
    (composite, detached composite, real: each training forward is one spectral-norm power iteration).
    With `generator_grad` False (the reference: its generator term is only logged) that term is
    computed without a graph."""
    with torch.set_grad_enabled(generator_grad and torch.is_grad_enabled()):
        g_fake = net_d(composite)
    d_fake, d_real = net_d(composite.detach()), net_d(real)
    size = masks.shape[-2:]
    if g_fake.shape[-2:] != size:
        g_fake, d_fake, d_real = (
            F.interpolate(t, size=size, mode="bilinear", align_corners=True) for t in (g_fake, d_fake, d_real)
        )
    target = blur(masks).detach()
    dis = F.mse_loss(d_fake, target) + F.mse_loss(d_real, torch.zeros_like(d_real))
    gen = F.mse_loss(g_fake, torch.ones_like(g_fake))
    return dis, gen
