"""ResNet-18/34/50 (He et al., 2015) in plain torch, v1.5 bottleneck, torchvision key names."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.nets.layers import init_conv_bn
from trainlab.nets.registry import register_backbone


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def _conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or projected) shortcut."""

    expansion = 1

    def __init__(
        self, in_channels: int, width: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride, "v1.5") -> 1x1 expand by 4, plus shortcut."""

    expansion = 4

    def __init__(
        self, in_channels: int, width: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv1x1(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, width * self.expansion)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """ResNet with a 7x7 stem, four stages of residual blocks and a linear head.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        depths: Number of blocks in each of the four stages.
        num_classes: Output logits.
        in_channels: Input image channels.
        zero_init_residual: Start each block's last BatchNorm at zero so blocks begin as identity.
        drop_rate: Dropout probability before the classifier (no parameters, keys unchanged).
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        depths: tuple[int, int, int, int],
        num_classes: int = 1000,
        in_channels: int = 3,
        zero_init_residual: bool = False,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.drop_rate = drop_rate
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        stages = []
        for index, (width, depth) in enumerate(zip((64, 128, 256, 512), depths, strict=True)):
            stride = 1 if index == 0 else 2
            stage, channels = self._make_stage(block, channels, width, depth, stride)
            stages.append(stage)
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = channels
        self.fc = nn.Linear(channels, num_classes)
        init_conv_bn(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    @staticmethod
    def _make_stage(
        block: type[BasicBlock | Bottleneck], in_channels: int, width: int, depth: int, stride: int
    ) -> tuple[nn.Sequential, int]:
        out_channels = width * block.expansion
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = nn.Sequential(
                _conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels)
            )
        blocks = [block(in_channels, width, stride, downsample)]
        blocks += [block(out_channels, width) for _ in range(depth - 1)]
        return nn.Sequential(*blocks), out_channels

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of shape (B, num_features)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.forward_features(x)
        if self.drop_rate > 0:
            features = F.dropout(features, self.drop_rate, self.training)
        return self.fc(features)


@register_backbone(first_conv="conv1", classifier="fc")
def resnet18(
    num_classes: int = 1000,
    in_channels: int = 3,
    zero_init_residual: bool = False,
    drop_rate: float = 0.0,
) -> ResNet:
    """ResNet-18: basic blocks (2, 2, 2, 2); 11.7 M parameters.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        zero_init_residual: Start each residual block as the identity.
        drop_rate: Dropout before the classifier.
    """
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_channels, zero_init_residual, drop_rate)


@register_backbone(first_conv="conv1", classifier="fc")
def resnet34(
    num_classes: int = 1000,
    in_channels: int = 3,
    zero_init_residual: bool = False,
    drop_rate: float = 0.0,
) -> ResNet:
    """ResNet-34: basic blocks (3, 4, 6, 3); 21.8 M parameters.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        zero_init_residual: Start each residual block as the identity.
        drop_rate: Dropout before the classifier.
    """
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_channels, zero_init_residual, drop_rate)


@register_backbone(first_conv="conv1", classifier="fc")
def resnet50(
    num_classes: int = 1000,
    in_channels: int = 3,
    zero_init_residual: bool = False,
    drop_rate: float = 0.0,
) -> ResNet:
    """ResNet-50: bottleneck blocks (3, 4, 6, 3); 25.6 M parameters.

    Args:
        num_classes: Output logits.
        in_channels: Input image channels.
        zero_init_residual: Start each residual block as the identity.
        drop_rate: Dropout before the classifier.
    """
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_channels, zero_init_residual, drop_rate)
