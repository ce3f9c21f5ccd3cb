"""Batch-wise tensor transforms for images (no torchvision needed).

Images arrive as uint8 tensors (B, C, H, W) already resized to ``image_size``; augmentation and
normalisation run once per batch, which is cheaper than per-image PIL transforms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation; each part off by default."""

    random_crop_padding: int = 0
    hflip: bool = False
    vflip: bool = False


class BatchTransform:
    """uint8 batch -> float batch: augment (training only), scale to [0, 1], normalise.

    Scaling and normalising are one fused multiply-add, ``x * 1/(255 std) - mean/std``, with the
    constants kept on each device they were used on: a training step pays two small ops.
    """

    def __init__(
        self, mean: Sequence[float], std: Sequence[float], augment: AugmentConfig | None = None
    ) -> None:
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
        self.augment = augment
        self._constants: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _scale_shift(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._constants:
            scale = (1.0 / (255.0 * self.std)).to(device)
            shift = (-self.mean / self.std).to(device)
            self._constants[device] = (scale, shift)
        return self._constants[device]

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if self.mean.shape[1] != images.shape[1]:
            raise ValueError(
                f"data.mean has {self.mean.shape[1]} values but the images have "
                f"{images.shape[1]} channels: give one mean/std per channel"
            )
        # augmentation works on 0..255 values: zero padding and flips do not depend on scale
        x = images.float()
        if self.augment is not None:
            x = _augment(x, self.augment, generator)
        scale, shift = self._scale_shift(x.device)
        return torch.addcmul(shift, x, scale)


def _augment(
    x: torch.Tensor, aug: AugmentConfig, generator: torch.Generator | None
) -> torch.Tensor:
    batch = x.shape[0]
    if aug.random_crop_padding > 0:
        pad = aug.random_crop_padding
        height, width = x.shape[-2:]
        padded = F.pad(x, (pad, pad, pad, pad))
        offsets = torch.randint(0, 2 * pad + 1, (batch, 2), generator=generator)
        x = torch.stack(
            [
                padded[i, :, dy : dy + height, dx : dx + width]
                for i, (dy, dx) in enumerate(offsets.tolist())
            ]
        )
    if aug.hflip:
        flip = torch.rand(batch, generator=generator) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)
    if aug.vflip:
        flip = torch.rand(batch, generator=generator) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(-2), x)
    return x
