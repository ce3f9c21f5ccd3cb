"""Convert images with an embedded ICC colour profile to sRGB, as colour-managed viewers do.

PIL decodes the stored numbers and drops the profile: a Display P3 photo from an iPhone, an Adobe
RGB export from a camera or Lightroom, or a CMYK JPEG with its press profile reached the model
as if its numbers were sRGB. On a probe image, P3 and Adobe RGB PNG/JPEG/TIFF/WebP files came
out 15 to 17 levels (of 255) off on average from their sRGB rendering, up to 130 on saturated
colours, while the same picture saved as sRGB came out right: one scene, two colourings.
A CMYK image without a profile has no colours to convert by: PIL's formula is used, with a
warning.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# profile colour space (as lcms names it) -> the PIL modes it can be applied to
PROFILE_MODES = {"RGB": ("RGB", "RGBA"), "CMYK": ("CMYK",), "GRAY": ("L",)}


class SrgbConverter:
    """Converts decoded 8-bit PIL images to sRGB by their embedded ICC profile.

    One transform is built per distinct profile and mode (a photo folder shares a few), and a
    profile that maps a grid of colours to themselves within one level (an sRGB profile, which
    most camera JPEGs carry) is skipped: their pixels stay exactly as before. A profile that
    cannot be used (damaged, or for another colour space than the image) leaves the stored
    pixels, with one warning naming the file.
    """

    def __init__(self) -> None:
        self._transforms: dict[tuple[bytes, str], Any] = {}
        self._warned = False
        self._warned_cmyk = False

    def __getstate__(self) -> dict[str, Any]:
        # lcms transforms do not pickle: loader workers started by spawn build their own
        return {"_transforms": {}, "_warned": self._warned, "_warned_cmyk": self._warned_cmyk}

    def __call__(self, image: Any, path: Path) -> Any:
        icc = image.info.get("icc_profile")
        if not icc:
            if image.mode == "CMYK" and not self._warned_cmyk:
                self._warned_cmyk = True
                log.warning(
                    "%s is a CMYK image without an ICC colour profile: its ink amounts are "
                    "turned into RGB by PIL's formula (R = (255 - C) x (255 - K) / 255 ...), "
                    "not by a press profile as colour-managed viewers do, so its colours can "
                    "differ from what a viewer shows; re-export such files as sRGB if their "
                    "colours matter (further such files are not named)",
                    path,
                )
            return image
        from PIL import ImageCms

        # transparency rides along: a grey image's alpha is set aside, others become RGBA
        grey = image.mode in ("L", "LA", "La")
        if grey and (image.mode != "L" or "transparency" in image.info):
            mode = "LA"
        elif image.mode in ("P", "PA") or "transparency" in image.info:
            mode = "RGBA"
        else:
            mode = image.mode
        key = (hashlib.blake2b(icc, digest_size=16).digest(), mode)
        try:
            if key not in self._transforms:
                self._transforms[key] = _transform(icc, "L" if mode == "LA" else mode)
            transform = self._transforms[key]
            if transform is None:
                return image
            image = image.convert(mode) if image.mode != mode else image
            if mode != "LA":
                return ImageCms.applyTransform(image, transform)
            converted = ImageCms.applyTransform(image.getchannel("L"), transform).convert("RGBA")
            converted.putalpha(image.getchannel("A"))
            return converted
        except (ImageCms.PyCMSError, OSError, ValueError) as err:
            self._transforms[key] = None
            if not self._warned:
                self._warned = True
                log.warning(
                    "%s carries an ICC colour profile that cannot be applied (%s): its stored "
                    "pixels are used as if they were sRGB; re-export it as sRGB if its colours "
                    "matter (further such files are not named)",
                    path,
                    err,
                )
            return image


def _transform(icc: bytes, mode: str) -> Any:
    """The transform from ``icc`` to sRGB for images of ``mode``; None for an sRGB profile."""
    import io

    import numpy as np
    from PIL import Image, ImageCms

    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    space = source.profile.xcolor_space.strip()
    if mode not in PROFILE_MODES.get(space, ()):
        raise ValueError(f"a {space} profile on a {mode} image")
    out_mode = "RGBA" if mode == "RGBA" else "RGB"
    transform = ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), mode, out_mode)
    if space != "RGB":
        return transform
    levels = np.linspace(0, 255, 16).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(64, 64, 3)
    sample = Image.fromarray(grid).convert(mode)
    converted = np.asarray(ImageCms.applyTransform(sample, transform).convert("RGB"), dtype=int)
    return None if np.abs(converted - grid).max() <= 1 else transform
