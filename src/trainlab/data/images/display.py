"""Decode images as a viewer shows them (``data.as_displayed``): EXIF orientation applied,
transparent areas on white. Training, eval and predict decode through these, and so do the
near-copy thumbnails of ``trainlab split``: two files a viewer shows alike are one picture."""

from __future__ import annotations

from typing import Any


def upright(image: Any) -> Any:
    """The image turned as its EXIF orientation says, as a viewer shows it.

    Phones store the sensor's pixels and an EXIF tag saying how to turn them; viewers, browsers
    and labelling tools apply it, PIL does not. A portrait photo (tag 6) reached the model lying
    on its side, while photos whose app had turned the pixels themselves came upright: one scene,
    two orientations, depending on the camera app.
    """
    from PIL import ImageOps

    return ImageOps.exif_transpose(image)


def on_white(image: Any) -> Any:
    """An 8-bit image with its transparent areas made white, the page colour viewers show.

    PIL's ``convert`` drops the alpha channel and keeps the colour stored under transparent
    pixels, which no viewer shows: two icons that look the same came out with a white or a
    black background (whatever the exporting tool wrote), a difference a model can learn. Runs
    after ``datamodule._eight_bit``: converting a 16-bit image with transparency to RGBA clips
    it at 255.
    """
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        image = image.convert("RGB")
    return image
