"""A compact residual network for small images (16-64 px) trained from scratch.

Not a torchvision architecture: a 3x3 stem at full resolution (no 7x7 stride-2 stem and max-pool,
which leave a 28x28 image 7x7 before the first block), then three stages of ResNet basic blocks
at widths w, 2w, 4w, global average pooling and a linear head. At width 32 and two blocks per
stage it has 0.7 M parameters, about 1/16 of ResNet-18.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.nets.layers import init_conv_bn
from trainlab.nets.registry import register_backbone
from trainlab.nets.resnet import BasicBlock


class CompactResNet(nn.Module):
    """Stem conv, three stages of basic blocks (strides 1, 2, 2), pooled features, linear head.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        width: Channels of the first stage; the next two use 2x and 4x.
        depths: Basic blocks per stage.
        drop_rate: Dropout before the classifier.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        width: int = 32,
        depths: tuple[int, int, int] = (2, 2, 2),
        drop_rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.drop_rate = drop_rate
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        stages, channels = [], width
        for index, depth in enumerate(depths):
            out = width * 2**index
            stride = 1 if index == 0 else 2
            downsample = None
            if stride != 1 or channels != out:
                downsample = nn.Sequential(
                    nn.Conv2d(channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
                )
            blocks = [BasicBlock(channels, out, stride, downsample)]
            blocks += [BasicBlock(out, out) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            channels = out
        self.stages = nn.Sequential(*stages)
        self.num_features = channels
        self.fc = nn.Linear(channels, num_classes)
        init_conv_bn(self)
        for module in self.modules():
            if isinstance(module, BasicBlock):
                # each block starts as the identity: trains stably from scratch on small data
                nn.init.zeros_(module.bn2.weight)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of shape (B, num_features)."""
        return torch.flatten(F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.forward_features(x)
        if self.drop_rate > 0:
            features = F.dropout(features, self.drop_rate, self.training)
        return self.fc(features)


@register_backbone(first_conv="stem.0", classifier="fc")
def compact_resnet(
    num_classes: int = 10,
    in_channels: int = 3,
    width: int = 32,
    depths: tuple[int, int, int] | list[int] = (2, 2, 2),
    drop_rate: float = 0.1,
) -> CompactResNet:
    """CompactResNet; 0.70 M parameters at width 32, depths (2, 2, 2), 10 classes.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        width: Channels of the first stage.
        depths: Basic blocks in each of the three stages.
        drop_rate: Dropout before the classifier.
    """
    return CompactResNet(num_classes, in_channels, width, tuple(depths), drop_rate)
