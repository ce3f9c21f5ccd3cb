"""What an image experiment learns from its training split: size, channels, normalisation.

Nothing is inherited from another data set: a folder of 25x25 grey faces trains at 25x25 with
one channel and its own mean/std; a folder of 300x200 colour photos at ``max_image_size`` with
three channels.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from trainlab.data.images.folder import MAX_PIXELS, open_image, too_many_pixels
from trainlab.errors import DataError

log = logging.getLogger(__name__)

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


# an image whose shorter side is below image_size / ENLARGED is enlarged more than this many times
ENLARGED = 2
# an image whose sides differ more than this many times is squeezed out of shape by the resize
SQUEEZED = 3


def warn_misshapen_images(
    data_dir: Path, entries: list[tuple[str, str]], image_size: int, max_pixels: int = MAX_PIXELS
) -> None:
    """Warn, with counts per class, about training images enlarged more than ``ENLARGED``
    times or squeezed from an aspect ratio over ``SQUEEZED`` to reach ``image_size`` squared.

    Both were silent: a 1x1 GIF (a tracking pixel of a scraped page) trained as a flat colour
    under its folder's label, and a class scraped from a thumbnail site (64 px among 640 px
    photos, at image_size 224) trains as blur, a cue a model learns instead of the picture.
    Reads the headers only (0.05 ms an image).
    """
    enlarged: list[tuple[str, str, tuple[int, int]]] = []
    squeezed: list[tuple[str, str, tuple[int, int]]] = []
    totals: dict[str, int] = {}
    for rel, label in entries:
        totals[label] = totals.get(label, 0) + 1
        try:
            with open_image(Path(data_dir) / rel, max_pixels) as image:
                size = image.size
        except (OSError, SyntaxError, ValueError):
            continue  # named by the decoding that follows
        if min(size) * ENLARGED < image_size:
            enlarged.append((rel, label, size))
        if max(size) > SQUEEZED * min(size):
            squeezed.append((rel, label, size))
    for found, what, fix in (
        (
            enlarged,
            f"are enlarged more than {ENLARGED}x to {image_size}x{image_size} (a 1x1 image is a "
            "web tracking pixel, not a picture; a class with more small images than others "
            "trains on blur as a cue)",
            "remove images that are not pictures, or lower data.image_size",
        ),
        (
            squeezed,
            f"have sides more than {SQUEEZED}x apart and are squeezed to a square "
            f"{image_size}x{image_size}",
            "crop them to the object, or check that such shapes are not one class's cue",
        ),
    ):
        if not found:
            continue
        counts: dict[str, int] = {}
        for _, label, _ in found:
            counts[label] = counts.get(label, 0) + 1
        by_class = ", ".join(f"{c} {n} of {totals[c]}" for c, n in sorted(counts.items()))
        rel, _, (width, height) = found[0]
        log.warning(
            "%d of %d training images %s, e.g. %s (%dx%d); by class: %s. %s",
            len(found),
            len(entries),
            what,
            rel,
            width,
            height,
            by_class,
            fix[0].upper() + fix[1:],
        )
