"""What an image experiment learns from its training split: size, channels, normalisation.

Nothing is inherited from another data set: a folder of 25x25 grey faces trains at 25x25 with
one channel and its own mean/std; a folder of 300x200 colour photos at ``max_image_size`` with
three channels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from trainlab.data.images.folder import MAX_PIXELS, open_image, too_many_pixels
from trainlab.errors import DataError

# PIL modes without colour: one channel is enough for these
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F", "P;L"}
# mean/std from at most this many training images when they are not cached: the estimate of
# a per-channel mean is within ~0.01 of the full one long before that
STATS_SAMPLE = 2000


def inspect_images(
    data_dir: Path, paths: list[str], max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    """(median shorter side, channels) over the training images, reading headers only.

    Channels are 3 when any training image has colour (an RGB, palette or CMYK image whose
    pixels are not all grey counts as colour only by its mode: decoding every pixel to check
    would cost as much as an epoch), else 1.
    """
    from PIL import Image

    sides, colour = [], False
    for rel in paths:
        path = Path(data_dir) / rel
        try:
            with open_image(path, max_pixels) as image:
                sides.append(min(image.size))
                colour = colour or (image.mode not in GREY_MODES)
        except Image.DecompressionBombError as err:
            raise too_many_pixels(path, err) from None
        except (OSError, SyntaxError, ValueError) as err:  # ValueError: PNG chunk over 1 MB
            raise DataError(f"cannot read image {path}: {err}; remove or replace it") from err
    if not sides:
        raise DataError(f"the training split of {data_dir} lists no images: re-run trainlab split")
    return int(np.median(sides)), 3 if colour else 1


def channel_statistics(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of uint8 images (N, C, H, W), on a 0..1 scale."""
    x = images.to(torch.float64).div_(255.0).transpose(0, 1).reshape(images.shape[1], -1)
    mean = x.mean(dim=1)
    std = x.std(dim=1).clamp(min=1e-3)  # a constant channel must not divide by zero
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]
