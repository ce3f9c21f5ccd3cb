"""The image-folder DataModule on the real digits split."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainlab.data.images.datamodule import ImageFolderDataModule
from trainlab.data.images.transforms import AugmentConfig, BatchTransform


def test_reads_the_fold_and_normalises(digits_dir: Path) -> None:
    dm = ImageFolderDataModule(
        str(digits_dir), fold=1, batch_size=32, image_size=8, channels=1, mean=[0.3], std=[0.4]
    )
    dm.setup("fit")
    assert dm.spec() == {
        "tasks": {"label": [str(d) for d in range(10)]},
        "num_classes": 10,
        "in_channels": 1,
        "image_size": 8,
        "mean": [0.3],
        "std": [0.4],
        "as_displayed": True,
        "jpeg_draft": True,
        "to_srgb": True,
    }
    sizes = {name: len(ds) for name, ds in dm.datasets.items()}
    assert sizes["test"] == 270 and sizes["train"] + sizes["val"] == 1797 - 270
    x, y = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)
    assert x.shape == (32, 1, 8, 8) and x.dtype == torch.float32
    assert y.dtype == torch.long and int(y.min()) >= 0 and int(y.max()) <= 9
    raw = dm.datasets["val"].images[:32].float() / 255
    assert torch.allclose(x, (raw - 0.3) / 0.4)
    assert sum(dm.class_counts()["label"]) == sizes["train"]


def test_fold_changes_the_validation_part(digits_dir: Path) -> None:
    parts = []
    for fold in (0, 1):
        dm = ImageFolderDataModule(str(digits_dir), fold=fold, image_size=8, channels=1)
        dm.setup("fit")
        parts.append(set(dm.datasets["val"].paths))
    assert parts[0].isdisjoint(parts[1])


def test_augmentation_changes_images_but_not_shape() -> None:
    images = torch.randint(0, 255, (16, 3, 12, 12), dtype=torch.uint8)
    plain = BatchTransform([0.5] * 3, [0.5] * 3)(images)
    generator = torch.Generator().manual_seed(0)
    augmented = BatchTransform(
        [0.5] * 3, [0.5] * 3, AugmentConfig(random_crop_padding=2, hflip=True)
    )(images, generator)
    assert augmented.shape == plain.shape
    assert not torch.equal(augmented, plain)


def test_batches_move_as_an_image_target_pair(digits_dir: Path) -> None:
    dm = ImageFolderDataModule(str(digits_dir), image_size=8, channels=1, batch_size=16)
    dm.setup("fit")
    images, targets = next(iter(dm.train_dataloader()))
    moved = dm.transfer_batch_to_device((images, targets), torch.device("cpu"), 0)
    assert isinstance(moved, tuple) and len(moved) == 2
    assert torch.equal(moved[0], images) and torch.equal(moved[1], targets)
    assert moved[0].dtype == torch.uint8  # normalising is on_after_batch_transfer's job


def test_normalising_leaves_the_cached_images_alone() -> None:
    images = torch.randint(0, 255, (4, 1, 8, 8), dtype=torch.uint8)
    before = images.clone()
    out = BatchTransform([0.3], [0.4])(images)
    assert torch.equal(images, before)
    assert torch.allclose(out, (before.float() / 255 - 0.3) / 0.4, atol=1e-6)


def test_unset_size_channels_and_statistics_come_from_the_training_split(digits_dir: Path) -> None:
    dm = ImageFolderDataModule(str(digits_dir), fold=0)
    dm.setup("fit")
    assert (dm.image_size, dm.channels) == (8, 1)
    pixels = dm.datasets["train"].images.double() / 255
    assert dm.mean == pytest.approx([float(pixels.mean())], abs=1e-6)
    assert dm.std == pytest.approx([float(pixels.std())], abs=1e-6)
    x, _ = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert abs(float(x.mean())) < 0.3  # normalised with the training split's own statistics


def test_a_checkpoint_spec_wins_over_the_data_at_hand(digits_dir: Path) -> None:
    dm = ImageFolderDataModule(str(digits_dir), fold=0)
    dm.use_trained_spec({"image_size": 6, "in_channels": 3, "mean": [0.1] * 3, "std": [0.2] * 3})
    dm.setup("test")
    assert (dm.image_size, dm.channels, dm.mean) == (6, 3, [0.1] * 3)
    assert dm.datasets["test"].images.shape[1:] == (3, 6, 6)
