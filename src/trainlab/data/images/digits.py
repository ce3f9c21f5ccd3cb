"""The embedded default data: scikit-learn's 1,797 real 8x8 handwritten digits, as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainlab.io import atomic_write_bytes


def write_digits(data_dir: Path) -> int:
    """Write ``data_dir/raw/<digit>/<index>.png`` once; returns the number of images present."""
    import io

    from PIL import Image
    from sklearn.datasets import load_digits

    raw = Path(data_dir) / "raw"
    digits = load_digits()
    # Pixel values are 0..16 in the original data; scale them to the full 8-bit range.
    images = np.clip(digits.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    for index, (image, target) in enumerate(zip(images, digits.target, strict=True)):
        path = raw / str(int(target)) / f"{index:04d}.png"
        if path.exists():
            continue
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(buffer, format="PNG")
        atomic_write_bytes(path, buffer.getvalue())
    return len(images)
