"""MobileNetV2 (Sandler et al., 2018) in plain torch with torchvision's key names."""

from __future__ import annotations

import torch
from torch import nn

from trainlab.nets.layers import ConvNormAct, init_conv_bn, make_divisible
from trainlab.nets.registry import register_backbone

# expansion t, output channels c, repeats n, first stride s (Table 2 of the paper)
_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class InvertedResidual(nn.Module):
    """Pointwise expand -> depthwise 3x3 -> linear pointwise project, residual when shapes match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvNormAct(in_channels, hidden, 1, activation=nn.ReLU6))
        layers += [
            ConvNormAct(hidden, hidden, 3, stride=stride, groups=hidden, activation=nn.ReLU6),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2: a 3x3 stem, 17 inverted residual blocks, a 1x1 conv to 1280, linear head.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        width_mult: Channel multiplier for every layer (the last layer never shrinks).
        dropout: Dropout probability before the classifier.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        width_mult: float = 1.0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        channels = make_divisible(32 * width_mult)
        last_channels = make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [
            ConvNormAct(in_channels, channels, 3, stride=2, activation=nn.ReLU6)
        ]
        for expand_ratio, width, repeats, stride in _STAGES:
            out_channels = make_divisible(width * width_mult)
            for index in range(repeats):
                step = stride if index == 0 else 1
                features.append(InvertedResidual(channels, out_channels, step, expand_ratio))
                channels = out_channels
        features.append(ConvNormAct(channels, last_channels, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = last_channels
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last_channels, num_classes))
        init_conv_bn(self)
        nn.init.normal_(self.classifier[1].weight, 0.0, 0.01)
        nn.init.zeros_(self.classifier[1].bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of shape (B, num_features)."""
        return torch.flatten(self.avgpool(self.features(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))


@register_backbone(first_conv="features.0.0", classifier="classifier.1")
def mobilenet_v2(
    num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0, dropout: float = 0.2
) -> MobileNetV2:
    """MobileNetV2; 3.5 M parameters at width 1.0.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        width_mult: Channel multiplier.
        dropout: Dropout before the classifier.
    """
    return MobileNetV2(num_classes, in_channels, width_mult, dropout)
