"""Find near copies: one picture re-saved as a lossy JPEG or resized, under other names.

Each image becomes a 16x16 colour thumbnail (box filter, 0..255); two images are near copies
when their thumbnails differ by at most ``MAX_RMS`` grey levels (root mean square over the 768
values). Measured on the probes of tests/unit/data/test_image_near_copies.py and docs/images.md:
a 256x192 photo re-saved as JPEG at quality 70 or 50, resized to half, or both, differs from
its original by 2.1 levels at most; distinct images differ by 7.4 or more (scikit-learn's
digits enlarged to 32x32, same class), 16 (product-style shapes on white, same class), 66
(photo-like scenes). Levels are compared as they are, not normalised: a dark and a light
circle on white are two pictures. Images below ``MIN_SIDE`` are not compared (two 8x8 digits
differ no more than a digit and its re-saved copy, and re-saved copies of a 32x32 image differ by
up to 27 levels); exact copies (same pixels) are found for every image by ``pixel_fingerprint``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

THUMB_SIDE = 16
MIN_SIDE = 32
MAX_RMS = 6.0
# rows per block of the pairwise comparison: 1,024 x N float32 values in memory at a time
BLOCK = 1024
# (i, j, RMS difference in grey levels) of two near copies, i < j
NearPair = tuple[int, int, float]
# PIL modes whose values are not 0..255
WIDE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


def thumbnail(image: Any) -> np.ndarray | None:
    """The 16x16x3 thumbnail (float32, 0..255, flattened) of a decoded PIL image, or None when
    its shorter side is below ``MIN_SIDE``."""
    from PIL import Image

    from trainlab.data.images.display import on_white

    if min(image.size) < MIN_SIDE:
        return None
    if image.mode in WIDE_MODES:
        grey = np.asarray(image.convert("F").resize((THUMB_SIDE, THUMB_SIDE), Image.BOX))
        # 16-bit as training decodes it (x / 257); 32-bit integers and floats by their maximum
        top = 65535.0 if image.mode.startswith("I;16") else max(float(grey.max()), 255.0)
        values = np.repeat(grey[:, :, None] * (255.0 / top), 3, axis=2)
    else:
        # transparent areas on white, as training decodes: an icon stored with black under its
        # transparent pixels and the same icon flattened on white (a site's JPEG of it) were
        # 220 levels apart and split as two pictures
        rgb = on_white(image).convert("RGB")
        values = np.asarray(rgb.resize((THUMB_SIDE, THUMB_SIDE), Image.BOX))
    return values.astype(np.float32).ravel()


def near_copy_pairs(thumbnails: list[np.ndarray | None]) -> list[NearPair]:
    """(i, j, RMS difference) with i < j for every pair of near copies among ``thumbnails``.

    All pairs are compared, block by block, as |a|^2 + |b|^2 - 2 a.b (one matrix product); the
    pairs found are measured again exactly. Measured on a loaded 2-core machine: 0.5 s for
    1,000 images, 10 s for 10,000 (growing with the square); decoding the images costs more
    (2 to 9 s per 1,000 images of 128 to 256 pixels).
    """
    index = [i for i, t in enumerate(thumbnails) if t is not None]
    if len(index) < 2:
        return []
    vectors = np.stack([thumbnails[i] for i in index])
    norms = (vectors.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
    # float32 rounding of the expanded form is below 0.1 % of this bound on 0..255 values
    bound = 1.01 * MAX_RMS**2 * vectors.shape[1]
    pairs = []
    for start in range(0, len(index), BLOCK):
        block = vectors[start : start + BLOCK]  # against itself and the later rows only
        later = vectors[start:]
        squared = norms[start : start + BLOCK, None] + norms[None, start:] - 2 * (block @ later.T)
        rows, cols = np.nonzero(squared <= bound)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            i, j = start + row, start + col
            if i < j:
                diff = vectors[i].astype(np.float64) - vectors[j]
                rms = float(np.sqrt((diff**2).mean()))
                if rms <= MAX_RMS:
                    pairs.append((index[i], index[j], rms))
    return pairs
