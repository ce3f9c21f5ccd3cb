"""A compact CNN for tiny images (8x8 or 32x32 digits): trains in seconds on a CPU."""

from __future__ import annotations

import torch
from torch import nn

from trainlab.nets.layers import ConvNormAct, init_conv_bn
from trainlab.nets.registry import register_backbone


class SmallCNN(nn.Module):
    """Three 3x3 conv blocks (stride 1, one 2x2 max-pool), global average pool, linear head.

    It keeps full resolution in the first block, so an 8x8 input still has 4x4 features at the
    end; global pooling makes it work for any input size of at least 2x2.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        width: Channels of the first block; later blocks use 2x and 4x.
        dropout: Dropout probability before the classifier.
    """

    def __init__(
        self, num_classes: int = 10, in_channels: int = 1, width: int = 32, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            ConvNormAct(in_channels, width, 3),
            ConvNormAct(width, 2 * width, 3),
            nn.MaxPool2d(2),
            ConvNormAct(2 * width, 4 * width, 3),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = 4 * width
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * width, num_classes))
        init_conv_bn(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of shape (B, num_features)."""
        return torch.flatten(self.avgpool(self.features(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))


@register_backbone(first_conv="features.0.0", classifier="classifier.1")
def small_cnn(
    num_classes: int = 10, in_channels: int = 1, width: int = 32, dropout: float = 0.1
) -> SmallCNN:
    """SmallCNN; about 94 k parameters at width 32.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        width: Channels of the first block.
        dropout: Dropout before the classifier.
    """
    return SmallCNN(num_classes, in_channels, width, dropout)
