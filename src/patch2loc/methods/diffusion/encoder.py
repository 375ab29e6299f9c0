"""cDDPM's condition encoder and its masked-autoencoder pre-training (SparK, Tian et al. 2023, as
the reference uses it).

The encoder is a ResNet (ResNet-50 in the reference; torchvision's, one input channel) whose
global-pooled features go through a linear layer to the condition vector (4 x the UNet width: 512).
Pre-training hides a random 65 % of the cells of the encoder's output grid (cells of 32 x 32
pixels; at least the remaining 35 %, rounded, stay visible) and trains the encoder "sparsely": every
convolution and max-pooling output is set to zero on hidden cells, and batch normalisation uses the
visible positions only, so the network never sees the hidden pixels. A light decoder then rebuilds
the slice from the features of the four ResNet stages: each stage's features are batch-normalised,
hidden cells are filled with a learned mask token, a convolution (1x1 on the coarsest stage, 3x3 on
the others) maps them to the decoder's width (512, halved per stage), and five upsampling steps
(a 4x4 transposed convolution of stride 2, then two 3x3 conv + BatchNorm, ReLU6 between them) add
them in, coarse to fine; a 1x1 convolution gives the image. The loss is the squared error on the
hidden cells only. The cDDPM then starts its encoder from the pre-trained ResNet (its new linear
layer from scratch) and trains both together.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

BACKBONES = ("resnet18", "resnet34", "resnet50")
STRIDE = 32  # the ResNet's total downsampling: one mask cell per output pixel
PRETRAINED = "cDDPM-pretrain"  # the method name its pre-training's checkpoints record


def resnet(name: str, num_classes: int | None) -> nn.Module:
    """A torchvision ResNet with one input channel; no classifier when num_classes is None."""
    if name not in BACKBONES:
        raise ValueError(f"encoder {name!r}: use one of {', '.join(BACKBONES)}")
    net = getattr(torchvision.models, name)(weights=None, num_classes=num_classes or 1000)
    net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if num_classes is None:
        net.fc = nn.Identity()
    return net


class ConditionEncoder(nn.Module):
    """The slice -> condition vector [B, cond_dim] (the cDDPM's encoder)."""

    def __init__(self, backbone: str = "resnet50", cond_dim: int = 512):
        super().__init__()
        self.net = resnet(backbone, cond_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def load_backbone(self, state: dict) -> None:
        """The pre-trained ResNet's weights (everything but the linear layer, trained afresh)."""
        missing, unexpected = self.net.load_state_dict(state, strict=False)
        if unexpected or set(missing) - {"fc.weight", "fc.bias"}:
            raise RuntimeError(
                f"the pre-trained encoder does not fit: missing {missing[:3]}, unexpected {unexpected[:3]}"
            )


class _Visible:
    """The visible-cell mask [B, 1, f, f] of the current pre-training pass (None: dense)."""

    def __init__(self):
        self.cells: torch.Tensor | None = None

    def at(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.cells.float(), size=x.shape[-2:], mode="nearest").bool()


class MaskedBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm over the visible positions only (as a sparse tensor would have); zero elsewhere."""

    visible: _Visible | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.visible is None or self.visible.cells is None:
            return super().forward(x)
        keep = self.visible.at(x)  # [B, 1, H, W]
        rows = x.permute(0, 2, 3, 1)[keep[:, 0]]  # [N, C]
        out = torch.zeros_like(x.permute(0, 2, 3, 1))
        out[keep[:, 0]] = F.batch_norm(
            rows, self.running_mean, self.running_var, self.weight, self.bias, self.training, self.momentum, self.eps
        )
        return out.permute(0, 3, 1, 2)


def sparsify(net: nn.Module, visible: _Visible) -> None:
    """Make a ResNet 'sparse': BatchNorms over visible positions, conv and pooling outputs zero on
    hidden cells (weights and their names are unchanged, so they load into a dense ResNet)."""
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.__class__ = MaskedBatchNorm2d
            module.visible = visible
        elif isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
            module.register_forward_hook(lambda m, args, out: out if visible.cells is None else out * visible.at(out))


def _stages(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    out = []
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        x = layer(x)
        out.append(x)
    return out


class _UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(c_in, c_in, 4, stride=2, padding=1)
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c_in, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_in),
            nn.ReLU6(inplace=True),
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.up(x))


class MaskedAutoencoder(nn.Module):
    def __init__(self, backbone: str = "resnet50", decoder_width: int = 512, mask_ratio: float = 0.65):
        super().__init__()
        self.visible = _Visible()
        self.encoder = resnet(backbone, None)
        sparsify(self.encoder, self.visible)
        self.mask_ratio = mask_ratio
        with torch.no_grad():
            widths = [s.shape[1] for s in _stages(self.encoder.eval(), torch.zeros(1, 1, 64, 64))][::-1]
        self.encoder.train()
        dec = [decoder_width // 2**i for i in range(len(widths))]
        self.norms = nn.ModuleList(MaskedBatchNorm2d(c) for c in widths)
        for n in self.norms:
            n.visible = self.visible
        self.tokens = nn.ParameterList(
            nn.Parameter(nn.init.trunc_normal_(torch.empty(1, c, 1, 1), std=0.02, a=-0.02, b=0.02)) for c in widths
        )
        self.project = nn.ModuleList(
            nn.Conv2d(c, d, 1 if i == 0 else 3, padding=0 if i == 0 else 1) for i, (c, d) in enumerate(zip(widths, dec))
        )
        chans = [decoder_width // 2**i for i in range(6)]  # 5 upsamplings: stride 32 back to 1
        self.decoder = nn.ModuleList(_UpBlock(a, b) for a, b in zip(chans[:-1], chans[1:]))
        self.out = nn.Conv2d(chans[-1], 1, 1)

    def draw_visible(self, batch: int, side: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
        """[B, 1, fh, fw] visible cells: round((1 - ratio) x cells) drawn at random per slice."""
        fh, fw = side[0] // STRIDE, side[1] // STRIDE
        keep = max(1, round(fh * fw * (1 - self.mask_ratio)))  # at least one (a 32-pixel slice has one cell)
        order = torch.rand(batch, fh * fw, generator=generator, device=generator.device).argsort(dim=1)
        cells = torch.zeros(batch, fh * fw, dtype=torch.bool, device=generator.device)
        cells.scatter_(1, order[:, :keep], True)
        return cells.view(batch, 1, fh, fw)

    def forward(self, x: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction, loss on the hidden cells) of slices x [B, 1, H, W] (H, W multiples of 32)."""
        self.visible.cells = visible
        try:
            feats = _stages(self.encoder, x * self.visible.at(x))[::-1]  # coarse to fine
            h = 0
            for i, f in enumerate(feats):
                keep = self.visible.at(f)
                f = torch.where(keep, self.norms[i](f), self.tokens[i].expand_as(f))
                h = self.decoder[i](h + self.project[i](f))
            for block in self.decoder[len(feats) :]:
                h = block(h)
        finally:
            self.visible.cells = None
        rec = self.out(h)
        hidden = ~F.interpolate(visible.float(), size=x.shape[-2:], mode="nearest").bool()
        loss = ((rec.float() - x) ** 2 * hidden).sum() / hidden.sum().clamp(min=1)
        return rec, loss

    def backbone_state(self) -> dict:
        """The pre-trained ResNet's weights, as a plain ResNet's state dict (what the cDDPM loads)."""
        return {k: v.detach().cpu() for k, v in self.encoder.state_dict().items()}


def backbone_weights(ckpt: dict) -> dict:
    """The pre-trained ResNet's weights from a pre-training checkpoint (plain ResNet names)."""
    return {k[len("encoder.") :]: v for k, v in ckpt["model"].items() if k.startswith("encoder.")}
