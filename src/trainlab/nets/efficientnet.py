"""EfficientNet-B0 (Tan & Le, 2019) in plain torch with torchvision's key names."""

from __future__ import annotations

import math

import torch
from torch import nn

from trainlab.nets.layers import ConvNormAct, SqueezeExcitation, StochasticDepth, init_conv_bn
from trainlab.nets.registry import register_backbone

# expand ratio, kernel, first stride, in channels, out channels, repeats (Table 1 of the paper)
_B0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-excitation and stochastic depth on the residual.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel: Depthwise kernel size.
        stride: Depthwise stride.
        expand_ratio: Hidden width over input width.
        drop_path: Stochastic depth probability of this block.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        expand_ratio: int,
        drop_path: float,
    ) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if hidden != in_channels:
            layers.append(ConvNormAct(in_channels, hidden, 1, activation=nn.SiLU))
        layers += [
            ConvNormAct(hidden, hidden, kernel, stride=stride, groups=hidden, activation=nn.SiLU),
            SqueezeExcitation(hidden, max(1, in_channels // 4)),
            ConvNormAct(hidden, out_channels, 1, activation=None),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_residual:
            out = self.stochastic_depth(out) + x
        return out


class EfficientNet(nn.Module):
    """EfficientNet: a 3x3 stem, seven MBConv stages, a 1x1 conv to 4x the last width, head.

    Args:
        stages: Rows of (expand ratio, kernel, stride, in channels, out channels, repeats).
        num_classes: Output logits.
        in_channels: Input image channels.
        dropout: Dropout probability before the classifier.
        stochastic_depth_prob: Drop probability of the last block; earlier blocks scale linearly.
    """

    def __init__(
        self,
        stages: tuple[tuple[int, int, int, int, int, int], ...],
        num_classes: int = 1000,
        in_channels: int = 3,
        dropout: float = 0.2,
        stochastic_depth_prob: float = 0.2,
    ) -> None:
        super().__init__()
        features: list[nn.Module] = [
            ConvNormAct(in_channels, stages[0][3], 3, stride=2, activation=nn.SiLU)
        ]
        total_blocks = sum(row[5] for row in stages)
        block_id = 0
        for expand_ratio, kernel, stride, stage_in, stage_out, repeats in stages:
            blocks = []
            for index in range(repeats):
                drop_path = stochastic_depth_prob * block_id / total_blocks
                blocks.append(
                    MBConv(
                        stage_in if index == 0 else stage_out,
                        stage_out,
                        kernel,
                        stride if index == 0 else 1,
                        expand_ratio,
                        drop_path,
                    )
                )
                block_id += 1
            features.append(nn.Sequential(*blocks))
        last_in = stages[-1][4]
        self.num_features = 4 * last_in
        features.append(ConvNormAct(last_in, self.num_features, 1, activation=nn.SiLU))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout, inplace=True), nn.Linear(self.num_features, num_classes)
        )
        init_conv_bn(self)
        bound = 1.0 / math.sqrt(num_classes)
        nn.init.uniform_(self.classifier[1].weight, -bound, bound)
        nn.init.zeros_(self.classifier[1].bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of shape (B, num_features)."""
        return torch.flatten(self.avgpool(self.features(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))


@register_backbone(first_conv="features.0.0", classifier="classifier.1")
def efficientnet_b0(
    num_classes: int = 1000,
    in_channels: int = 3,
    dropout: float = 0.2,
    stochastic_depth_prob: float = 0.2,
) -> EfficientNet:
    """EfficientNet-B0; 5.3 M parameters.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        dropout: Dropout before the classifier.
        stochastic_depth_prob: Stochastic depth probability of the deepest block.
    """
    return EfficientNet(_B0_STAGES, num_classes, in_channels, dropout, stochastic_depth_prob)
