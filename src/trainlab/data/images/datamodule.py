"""LightningDataModule over a split class-folder image data set."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from trainlab.data.batch_sampler import shuffled_batches
from trainlab.data.eval_shares import eval_sampler
from trainlab.data.images.display import on_white, upright
from trainlab.data.images.folder import (
    MAX_PIXELS,
    open_image,
    refuse_missing_png_rows,
    too_many_pixels,
)
from trainlab.data.images.list_copies import warn_copies_across_lists, written_by_split
from trainlab.data.images.split import check_no_leak, read_split
from trainlab.data.images.transforms import AugmentConfig, BatchTransform
from trainlab.data.in_memory_loader import InMemoryDataLoader, keep_batch
from trainlab.data.loader_settings import LoaderSettings
from trainlab.errors import DataError

log = logging.getLogger(__name__)


class ImageListDataset(Dataset):
    """Images of a split file, decoded and resized to ``image_size`` as uint8 tensors.

    With ``cache=True`` every image is decoded once into one tensor, and a batch is a single
    indexing operation (``__getitems__``); otherwise each image is decoded when asked for.
    """

    def __init__(
        self,
        data_dir: Path,
        entries: list[tuple[str, str]],
        classes: list[str],
        image_size: int,
        channels: int,
        cache: bool,
        as_displayed: bool = True,
        jpeg_draft: bool = True,
        to_srgb: bool = True,
        check_png: bool = False,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        from trainlab.data.images.colour import SrgbConverter

        self.data_dir = Path(data_dir)
        self.paths = [rel for rel, _ in entries]
        index = {name: i for i, name in enumerate(classes)}
        unknown = sorted({name for _, name in entries if name not in index})
        if unknown:
            raise DataError(
                f"split lists classes {unknown} that are not in the training classes {classes}: "
                f"re-run `trainlab split data_dir={data_dir} overwrite=true`"
            )
        self.targets = torch.tensor([index[name] for _, name in entries], dtype=torch.long)
        self.image_size = image_size
        self.mode = {1: "L", 3: "RGB"}[channels]
        self.as_displayed = as_displayed
        self.jpeg_draft = jpeg_draft
        self.to_srgb = SrgbConverter() if to_srgb else None
        # PNGs with fewer rows of data than declared (folder.refuse_missing_png_rows): split
        # checks the files it lists; predict reads files that no split has seen
        self.check_png = check_png
        self.max_pixels = max_pixels
        self._warned_few_bits = False
        self.images = self._decode_all() if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def _decode(self, rel: str) -> torch.Tensor:
        from PIL import Image

        path = self.data_dir / rel
        try:
            with open_image(path, self.max_pixels) as image:
                if self.check_png and image.format == "PNG":
                    refuse_missing_png_rows(path, image.size)
                if self.jpeg_draft:
                    # a JPEG decodes at 1/2..1/8 scale, still at least image_size on each side:
                    # a 12 MP photo resized to 32 px took 0.29 s, now 0.02 s; photo folders
                    # spent minutes decoding at the start of every run
                    image.draft(image.mode, (self.image_size, self.image_size))
                if self.as_displayed:
                    image = upright(image)
                image, few_bits = _eight_bit(image, path)
                if self.to_srgb is not None:
                    image = self.to_srgb(image, path)
                if self.as_displayed:
                    image = on_white(image)
                image = image.convert(self.mode)
                if image.size != (self.image_size, self.image_size):
                    image = image.resize((self.image_size, self.image_size), Image.BILINEAR)
                array = np.asarray(image, dtype=np.uint8)
        except Image.DecompressionBombError as err:
            raise too_many_pixels(path, err) from None
        except (OSError, SyntaxError, ValueError) as err:  # ValueError: PNG chunk over 1 MB
            raise DataError(f"cannot read image {path}: {err}") from err
        if few_bits is not None and not self._warned_few_bits:
            self._warned_few_bits = True
            log.warning(
                "%s is a 16-bit image whose brightest pixel is %d: scaled to 8 bits (x/257) it "
                "keeps at most %d grey levels. Rescale such images to their own range (12-bit "
                "data: multiply by 16) before training if that detail matters",
                path,
                few_bits,
                few_bits // 257 + 1,
            )
        if array.ndim == 2:
            array = array[:, :, None]
        return torch.from_numpy(array.copy()).permute(2, 0, 1)

    def _decode_all(self) -> torch.Tensor:
        return torch.stack([self._decode(rel) for rel in self.paths])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index] if self.images is not None else self._decode(self.paths[index])
        return image, self.targets[index]

    def __getitems__(self, indices: list[int] | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        if self.images is not None:
            # index_select: ~3 us for 64 8x8 images where advanced indexing takes ~8 us
            return self.images.index_select(0, index), self.targets.index_select(0, index)
        images = [self._decode(self.paths[i]) for i in index.tolist()]
        return torch.stack(images), self.targets.index_select(0, index)

    def all_images(self, limit: int | None = None) -> torch.Tensor:
        """uint8 images (N, C, H, W): all of them, or ``limit`` evenly spaced ones."""
        if limit is not None and len(self) > limit:
            index = np.linspace(0, len(self) - 1, limit).round().astype(int).tolist()
        else:
            index = list(range(len(self)))
        if self.images is not None:
            return self.images[index]
        return torch.stack([self._decode(self.paths[i]) for i in index])


# PIL modes of more than 8 bits a pixel. ``Image.convert("L" or "RGB")`` clips them at 255:
# a 16-bit microscopy PNG came out almost white and a float TIFF black, with no error.
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
# a 16-bit image whose brightest pixel is below this keeps fewer than 16 grey levels at 8 bits
FEW_BITS = 4096


def _eight_bit(image: Any, path: Path) -> tuple[Any, int | None]:
    """An 8-bit PIL image (16-bit grey scaled linearly, 65535 -> 255; other modes as they are),
    and the brightest 16-bit value when it is below ``FEW_BITS``.

    Float pixels (mode ``F``) are refused: their range is the file's convention, not a fact
    trainlab can read, and any guess would change what the model sees.
    """
    from PIL import Image

    if image.mode == "F":
        raise DataError(
            f"{path} holds 32-bit floating-point pixels (PIL mode F), whose value range is not "
            "recorded in the file: convert it to an 8- or 16-bit PNG with the range that is "
            "right for your data"
        )
    if image.mode not in SIXTEEN_BIT_MODES:
        return image, None
    values = np.asarray(image).astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > 65535:
        raise DataError(
            f"{path} holds {image.mode} pixels from {low} to {high}, outside the 16-bit range "
            "0..65535: convert it to an 8- or 16-bit PNG"
        )
    # round(x / 257): 257 is odd, so no value falls half-way
    eight = Image.fromarray(((values + 128) // 257).astype(np.uint8))
    transparent = image.info.get("transparency")
    if isinstance(transparent, int):  # a 16-bit PNG's tRNS grey value: kept as an alpha channel
        alpha = Image.fromarray(np.where(values == transparent, 0, 255).astype(np.uint8))
        eight = Image.merge("LA", (eight, alpha))
    return eight, (high if high < FEW_BITS else None)


class ImageFolderDataModule(L.LightningDataModule):
    """Train/val from ``splits/fold_<k>_{train,val}.txt``, test from ``splits/test.txt``.

    Classes are the sorted names of the class folders seen in the training split. Settings
    left as None come from the training split at setup: ``image_size`` (the median shorter side,
    at most ``max_image_size``), ``channels`` (3 when any image has colour, else 1), and the
    per-channel ``mean``/``std``; ``spec()`` carries them into checkpoints. ``loader`` is the
    shared ``data.loader`` node (``LoaderSettings``); values left None come from the hardware.
    """

    def __init__(
        self,
        data_dir: str,
        fold: int = 0,
        batch_size: int = 64,
        image_size: int | None = None,
        channels: int | None = None,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        augment: dict[str, Any] | None = None,
        cache: bool = True,
        loader: LoaderSettings | dict[str, Any] | None = None,
        seed: int = 42,
        embedded: str | None = None,
        max_image_size: int = 32,
        as_displayed: bool = True,
        jpeg_draft: bool = True,
        to_srgb: bool = True,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        super().__init__()
        if channels not in (None, 1, 3):
            raise DataError(f"data.channels={channels}: use 1 (grayscale), 3 (RGB) or null")
        sizes = (("image_size", image_size), ("max_image_size", max_image_size))
        for key, value in (*sizes, ("max_pixels", max_pixels)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise DataError(f"data.{key}={value!r}: use a positive number of pixels")
        if (mean is None) != (std is None):
            raise DataError("set both data.mean and data.std, or neither (then both are computed)")
        self.data_dir = Path(data_dir)
        self.fold = fold
        self.batch_size = batch_size
        self.image_size = image_size
        self.channels = channels
        self.max_image_size = max_image_size
        # images declaring more pixels are refused (folder.open_image); a safety limit of this
        # machine, not a decoding choice: not in the spec, eval and predict take it from data
        self.max_pixels = max_pixels
        self.mean = list(mean) if mean is not None else None
        self.std = list(std) if std is not None else None
        self.augment = AugmentConfig(**(augment or {}))
        self.cache = cache
        self.loader_settings = LoaderSettings.coerce(loader)
        self.seed = seed
        self.embedded = embedded
        self.classes: list[str] = []
        self.datasets: dict[str, ImageListDataset] = {}
        self.train_transform: BatchTransform | None = None
        self.eval_transform: BatchTransform | None = None
        if self.mean is not None:
            self._make_transforms()
        self._predict_dataset: ImageListDataset | None = None
        # decode images as a viewer shows them (_as_displayed) and JPEGs at reduced scale
        # (ImageListDataset); false reproduces a pipeline that decoded the stored pixels whole.
        # The spec carries both: checkpoints written before it did keep the old decoding.
        # to_srgb: images with an ICC profile (Display P3, Adobe RGB, CMYK) converted to sRGB
        decoding = {"as_displayed": as_displayed, "jpeg_draft": jpeg_draft, "to_srgb": to_srgb}
        for key, value in decoding.items():
            if not isinstance(value, bool):
                raise DataError(f"data.{key}={value!r}: use true or false")
        self.as_displayed = as_displayed
        self.jpeg_draft = jpeg_draft
        self.to_srgb = to_srgb

    def prepare_data(self) -> None:
        """Write the embedded data set and its default splits if asked and absent."""
        if self.embedded != "digits":
            return
        if not (self.data_dir / "raw").is_dir():
            from trainlab.data.images.digits import write_digits

            write_digits(self.data_dir)
        if not (self.data_dir / "splits" / "test.txt").is_file():
            from trainlab.data.images.split import split_folder

            split_folder(self.data_dir, folds=5, test_ratio=0.15, seed=42)

    def setup(self, stage: str | None = None) -> None:
        """Read the split files of ``fold`` (and the test split).

        ``predict`` does nothing: setup_predict prepares the inputs from the checkpoint's spec.
        Before, ``trainlab predict`` read and decoded the whole training data set here, and on a
        machine without it stopped with "split file .../fold_0_train.txt is missing".
        """
        if self.datasets or stage == "predict":
            return
        splits = self.data_dir / "splits"
        train = read_split(splits / f"fold_{self.fold}_train.txt", self.data_dir)
        val = read_split(splits / f"fold_{self.fold}_val.txt", self.data_dir)
        test = read_split(splits / "test.txt", self.data_dir)
        self.classes = sorted({name for _, name in train})
        lists = [f"fold_{self.fold}_train.txt", f"fold_{self.fold}_val.txt", "test.txt"]
        # lists trainlab split wrote keep copies in one part; others are checked as it does
        by_split = written_by_split(splits, lists)
        check_no_leak(
            self.data_dir,
            [rel for rel, _ in train],
            {"val": [rel for rel, _ in val], "test": [rel for rel, _ in test]},
            lists[0],
            byte_copies=by_split,
        )
        if not by_split:
            others = {"val": val, "test": test}
            warn_copies_across_lists(self.data_dir, lists, train, others, self.max_pixels)
        if self.image_size is None or self.channels is None:
            from trainlab.data.images.statistics import inspect_images

            side, channels = inspect_images(
                self.data_dir, [rel for rel, _ in train], self.max_pixels
            )
            self.image_size = self.image_size or min(side, self.max_image_size)
            self.channels = self.channels or channels
        from trainlab.data.images.statistics import warn_misshapen_images

        warn_misshapen_images(self.data_dir, train, self.image_size, self.max_pixels)
        for name, entries in (("val", val), ("test", test)):
            absent = sorted(set(self.classes) - {label for _, label in entries})
            if absent:  # indices still line up: they come from the training classes
                log.warning(
                    "the %s split holds no images of class(es) %s: its metrics say nothing about "
                    "them (class indices still follow the training classes); add such images to "
                    "%s",
                    name,
                    absent,
                    "test.txt" if name == "test" else f"fold_{self.fold}_val.txt",
                )
        options = (self.image_size, self.channels, self.cache, self.as_displayed, self.jpeg_draft)
        for name, entries in (("train", train), ("val", val), ("test", test)):
            self.datasets[name] = ImageListDataset(
                self.data_dir,
                entries,
                self.classes,
                *options,
                to_srgb=self.to_srgb,
                max_pixels=self.max_pixels,
            )
        if self.mean is None:
            from trainlab.data.images.statistics import STATS_SAMPLE, channel_statistics

            limit = None if self.cache else STATS_SAMPLE
            self.mean, self.std = channel_statistics(self.datasets["train"].all_images(limit))
            self._make_transforms()
        log.info(
            "images: %d classes, %dx%d, %d channel(s), mean %s, std %s (train %d, val %d, test %d)",
            len(self.classes),
            self.image_size,
            self.image_size,
            self.channels,
            self.mean,
            self.std,
            *(len(self.datasets[n]) for n in ("train", "val", "test")),
        )

    def _make_transforms(self) -> None:
        self.train_transform = BatchTransform(self.mean, self.std, self.augment)
        self.eval_transform = BatchTransform(self.mean, self.std, None)

    def spec(self) -> dict[str, Any]:
        """What the model builder needs from the data."""
        return {
            "tasks": {"label": list(self.classes)},
            "num_classes": len(self.classes),
            "in_channels": self.channels,
            "image_size": self.image_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "as_displayed": self.as_displayed,
            "jpeg_draft": self.jpeg_draft,
            "to_srgb": self.to_srgb,
        }

    def row_keys(self, split: str) -> list[str]:
        """The files of a split, as paths under ``data_dir`` (core.seen_rows)."""
        return list(self.datasets[split].paths)

    def baseline_features(self, split: str) -> tuple[str, np.ndarray, dict[str, np.ndarray], str]:
        """Flattened pixels on a 0..1 scale and the labels of a split, for the linear baseline."""
        dataset = self.datasets[split]
        pixels = dataset.all_images().reshape(len(dataset), -1).numpy().astype(np.float32) / 255
        size = f"{self.image_size}x{self.image_size}x{self.channels}"
        return "classification", pixels, {"label": dataset.targets.numpy()}, f"{size} pixels"

    def class_counts(self) -> dict[str, list[int]]:
        """Training-row counts per class, for inverse-frequency class weights."""
        counts = torch.bincount(self.datasets["train"].targets, minlength=len(self.classes))
        return {"label": counts.tolist()}

    def _loader(self, dataset: Dataset, shuffle: bool, shared: str | None = None) -> DataLoader:
        """``shared``: the name of a val/test split whose rows DDP processes share out."""
        generator = torch.Generator().manual_seed(self.seed)
        options = self.loader_settings.dataloader_kwargs()
        sampler = eval_sampler(len(dataset), shared) if shared else None  # type: ignore[arg-type]
        if sampler is not None:
            batching = {"batch_size": self.batch_size, "sampler": sampler}
        elif options.get("num_workers"):
            # workers hide the sampling cost; index tensors would travel by shared memory
            batching = {"batch_size": self.batch_size, "shuffle": shuffle}
        else:
            # the same batches, each one tensor slice instead of a list of Python ints
            batching = {
                "batch_sampler": shuffled_batches(dataset, self.batch_size, shuffle, generator)
            }
        return InMemoryDataLoader(
            dataset, collate_fn=keep_batch, generator=generator, **batching, **options
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["train"], shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["val"], shuffle=False, shared="val")

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["test"], shuffle=False, shared="test")

    def report_dataloaders(self) -> dict[str, DataLoader]:
        """Unshuffled, unaugmented loaders of every split, for classification reports."""
        return {name: self._loader(self.datasets[name], shuffle=False) for name in self.datasets}

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """Move ``(images, targets)`` as they are: no generic walk over the batch per step."""
        images, targets = batch
        non_blocking = device.type not in ("cpu", "mps")  # as Lightning's own transfer does
        return (
            images.to(device, non_blocking=non_blocking),
            targets.to(device, non_blocking=non_blocking),
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Augment (training only) and normalise on the device the batch landed on."""
        images, targets = batch
        training = self.trainer is not None and self.trainer.training
        transform = self.train_transform if training else self.eval_transform
        return transform(images), targets

    def use_trained_spec(self, spec: dict[str, Any]) -> None:
        """Take the size, channels and normalisation a checkpoint was trained with.

        Evaluating or predicting must not re-derive them from whatever data is at hand.
        """
        self.image_size = spec.get("image_size") or self.image_size
        self.channels = spec.get("in_channels") or self.channels
        self.as_displayed = bool(spec.get("as_displayed", False))
        self.jpeg_draft = bool(spec.get("jpeg_draft", False))
        self.to_srgb = bool(spec.get("to_srgb", False))
        if "mean" in spec:
            self.mean, self.std = list(spec["mean"]), list(spec["std"])
        elif self.mean is None:  # checkpoints written before spec carried them
            self.mean, self.std = [0.5] * self.channels, [0.5] * self.channels
        self._make_transforms()

    def setup_predict(self, input_path: str, spec: dict[str, Any]) -> None:
        """Predict on an image file, a folder of images, or a split file."""
        self.classes = list(spec["tasks"]["label"])
        self.use_trained_spec(spec)
        path = Path(input_path)
        if path.is_file() and path.suffix == ".txt":
            entries = [
                (str((self.data_dir / rel).resolve()), name)
                for rel, name in read_split(path, self.data_dir)
            ]
        elif path.is_dir():
            from trainlab.data.folders import files_under
            from trainlab.data.images.folder import image_files

            files = image_files(files_under(path), path)
            if not files:
                raise DataError(f"predict input {path} holds no image files")
            entries = [(str(p.resolve()), self.classes[0]) for p in files]
        elif path.is_file():
            entries = [(str(path.resolve()), self.classes[0])]
        else:
            raise DataError(
                f"predict input {path} does not exist: give an image, a folder or a split file"
            )
        self._predict_dataset = ImageListDataset(
            Path("/"),
            entries,
            self.classes,
            self.image_size,
            self.channels,
            cache=False,
            as_displayed=self.as_displayed,
            jpeg_draft=self.jpeg_draft,
            to_srgb=self.to_srgb,
            check_png=True,
            max_pixels=self.max_pixels,
        )
        self._predict_has_labels = path.suffix == ".txt"

    def predict_dataloader(self) -> DataLoader:
        if self._predict_dataset is None:
            raise DataError("call setup_predict(input) before predict_dataloader()")
        return self._loader(self._predict_dataset, shuffle=False)

    def write_predictions(
        self, outputs: list[dict[str, Any]], out_dir: Path, spec: dict[str, Any]
    ) -> list[Path]:
        """One CSV row per image: path, predicted class, confidence, probability per class.

        Written by the csv module: a file named ``IMG 1, copy.png`` or a class ``cat, wild``
        shifted every later column of its row when the fields were joined with commas.
        """
        import csv
        import io

        from trainlab.io import atomic_write_text

        classes = spec["tasks"]["label"]
        probs = torch.cat([out["probs"]["label"] for out in outputs]).numpy()
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["path", "predicted", "confidence", *(f"prob_{c}" for c in classes)])
        for path, row in zip(self._predict_dataset.paths, probs, strict=True):
            best = int(row.argmax())
            writer.writerow([path, classes[best], f"{row[best]:.6f}", *(f"{p:.6f}" for p in row)])
        target = Path(out_dir) / "predictions.csv"
        atomic_write_text(target, text.getvalue())
        return [target]
