"""Images with an embedded ICC profile are decoded to sRGB, as colour-managed viewers show them.

The profiles are real ICC v2 display profiles (primaries and a gamma curve), written here byte by
byte: Display P3 and Adobe RGB (1998) primaries, adapted to D50 as ICC profiles store them.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import pytest
from icc_profiles import ADOBE_PRIMARIES, D50, P3_PRIMARIES, SRGB_PRIMARIES, _rgb_profile, _s15
from PIL import Image, ImageCms

from trainlab.data.images.datamodule import ImageFolderDataModule, ImageListDataset


def _srgb_by_hand(stored: np.ndarray, primaries, gamma: float) -> np.ndarray:
    """The sRGB rendering computed with numpy alone: decode the gamma, to XYZ by the profile's
    primaries, back by sRGB's, sRGB's transfer curve."""
    linear = (stored / 255.0) ** gamma
    to_xyz = np.array(primaries).T
    srgb_linear = linear @ (np.linalg.inv(np.array(SRGB_PRIMARIES).T) @ to_xyz).T
    srgb_linear = srgb_linear.clip(0, 1)
    encoded = np.where(
        srgb_linear <= 0.0031308, 12.92 * srgb_linear, 1.055 * srgb_linear ** (1 / 2.4) - 0.055
    )
    return encoded * 255


def _picture() -> np.ndarray:
    """Moderate colours (inside sRGB once converted), 8x8, so no resize is involved."""
    rng = np.random.default_rng(0)
    return rng.integers(60, 200, (8, 8, 3), dtype=np.uint8)


def _decoded(root: Path, rel: str, **options) -> np.ndarray:
    dataset = ImageListDataset(root, [(rel, "a")], ["a"], 8, 3, True, **options)
    return dataset.images[0].permute(1, 2, 0).numpy().astype(float)


@pytest.mark.parametrize(
    ("name", "primaries", "gamma"),
    [("Display P3", P3_PRIMARIES, 2.2), ("Adobe RGB", ADOBE_PRIMARIES, 563 / 256)],
)
@pytest.mark.parametrize("suffix", ["png", "tif", "webp"])
def test_a_wide_gamut_image_is_decoded_to_its_srgb_colours(
    tmp_path: Path, name: str, primaries, gamma: float, suffix: str
) -> None:
    """Before: the stored numbers were read as sRGB: 9.5 (P3) and 10.9 (Adobe RGB) levels off
    on average here, up to 77 and 99."""
    stored = _picture()
    (tmp_path / "raw" / "a").mkdir(parents=True)
    options = {"lossless": True} if suffix == "webp" else {}
    profile = _rgb_profile(name, primaries, gamma)
    Image.fromarray(stored).save(
        tmp_path / "raw" / "a" / f"x.{suffix}", icc_profile=profile, **options
    )
    expected = _srgb_by_hand(stored.astype(float), primaries, gamma)
    decoded = _decoded(tmp_path, f"raw/a/x.{suffix}")
    assert np.abs(stored - expected).mean() > 8  # the profile matters for these colours
    assert np.abs(decoded - expected).max() <= 1.0
    kept = _decoded(tmp_path, f"raw/a/x.{suffix}", to_srgb=False)
    assert np.array_equal(kept, stored)  # data.to_srgb=false: the stored numbers


def test_an_srgb_profile_changes_nothing_and_a_wrong_one_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stored = _picture()
    folder = tmp_path / "raw" / "a"
    folder.mkdir(parents=True)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(stored).save(folder / "srgb.png", icc_profile=srgb)
    assert np.array_equal(_decoded(tmp_path, "raw/a/srgb.png"), stored)
    grey = stored[..., 0]
    p3 = _rgb_profile("Display P3", P3_PRIMARIES, 2.2)
    Image.fromarray(grey).save(folder / "grey.png", icc_profile=p3)  # an RGB profile, grey pixels
    with caplog.at_level(logging.WARNING):
        decoded = _decoded(tmp_path, "raw/a/grey.png")
    assert np.array_equal(decoded[..., 1], grey.astype(float))
    assert "grey.png carries an ICC colour profile that cannot be applied" in caplog.text


def test_transparency_survives_the_conversion(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4] = (120, 80, 60, 255)  # opaque top half; the bottom transparent, stored black
    (tmp_path / "raw" / "a").mkdir(parents=True)
    p3 = _rgb_profile("Display P3", P3_PRIMARIES, 2.2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "raw" / "a" / "x.png", icc_profile=p3)
    decoded = _decoded(tmp_path, "raw/a/x.png")
    assert (decoded[4:] == 255).all()  # white, as before
    top = _srgb_by_hand(np.array([120.0, 80.0, 60.0]), P3_PRIMARIES, 2.2)
    assert np.abs(decoded[:4] - top).max() <= 1.0


def test_the_spec_carries_to_srgb_and_old_checkpoints_keep_the_stored_numbers(
    tmp_path: Path,
) -> None:
    dm = ImageFolderDataModule(str(tmp_path), to_srgb=False)
    assert dm.to_srgb is False
    dm = ImageFolderDataModule(str(tmp_path))
    assert dm.to_srgb is True
    spec = {"image_size": 8, "in_channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3}
    dm.use_trained_spec(spec)  # written before to_srgb: the numbers it was trained on
    assert dm.to_srgb is False
    dm.use_trained_spec({**spec, "to_srgb": True})
    assert dm.to_srgb is True
    with pytest.raises(Exception, match=r"data.to_srgb='yes': use true or false"):
        ImageFolderDataModule(str(tmp_path), to_srgb="yes")


def _cmyk_profile() -> bytes:
    """An ICC v2 CMYK printer profile whose A2B0 table (lut16, 2 grid points) maps inks to XYZ
    so that linear sRGB = (1 - C)(1 - K), (1 - M)(1 - K), (1 - Y)(1 - K): a known answer."""
    to_xyz = np.array(SRGB_PRIMARIES).T
    clut = []
    for c, m, y, k in np.ndindex(2, 2, 2, 2):  # the first channel varies slowest
        linear = np.array([(1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k)])
        clut += [min(65535, round(v * 32768)) for v in to_xyz @ linear]  # XYZ: 1.0 = 0x8000
    ends = [0, 65535]
    lut = b"mft2" + bytes(4) + bytes([4, 3, 2, 0])
    lut += b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lut += struct.pack(">HH", 2, 2) + struct.pack(">8H", *(ends * 4))
    lut += struct.pack(f">{len(clut)}H", *clut) + struct.pack(">6H", *(ends * 3))
    text = b"test CMYK"
    tags = [
        (b"desc", b"desc" + bytes(4) + struct.pack(">I", len(text) + 1) + text + bytes(79)),
        (b"wtpt", b"XYZ " + bytes(4) + b"".join(_s15(v) for v in D50)),
        (b"A2B0", lut),
        (b"cprt", b"text" + bytes(4) + b"none\0" + bytes(3)),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (
        struct.pack(">I", offset + len(data))
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"prtrCMYKXYZ "
        + bytes(12)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)
        + b"".join(_s15(v) for v in D50)
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + data


# one ink at a time, K alone, and a mix: rows of an 8x8 CMYK picture
CMYK_ROWS = [(0, 0, 0, 0), (128, 0, 0, 0), (0, 128, 0, 0), (0, 0, 128, 0), (0, 0, 0, 128)]
CMYK_ROWS += [(200, 100, 50, 0), (255, 0, 0, 0), (0, 0, 0, 255)]


def test_cmyk_images_are_decoded_by_their_profile_or_named_without_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A CMYK JPEG (Adobe-inverted inks, as Photoshop writes them) or TIFF with its press
    profile decodes to the profile's colours (checked: 50 % cyan gives R 187, the formula 127).
    Without a profile PIL's formula is all there is: before, it was used without a word."""
    inks = np.zeros((8, 8, 4), np.uint8)
    inks[:] = np.array(CMYK_ROWS, np.uint8)[:, None, :]
    linear = (1 - inks[..., :3] / 255.0) * (1 - inks[..., 3:] / 255.0)
    by_profile = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    folder = tmp_path / "raw" / "a"
    folder.mkdir(parents=True)
    picture = Image.fromarray(inks, "CMYK")
    picture.save(folder / "press.jpg", quality=100, icc_profile=_cmyk_profile())
    picture.save(folder / "press.tif", icc_profile=_cmyk_profile())
    picture.save(folder / "bare.jpg", quality=100)
    for name in ("press.jpg", "press.tif"):
        decoded = _decoded(tmp_path, f"raw/a/{name}")
        assert np.abs(decoded - by_profile * 255).max() <= 1.5, name
        assert np.abs(decoded - linear * 255).max() > 50  # not the formula
    with caplog.at_level(logging.WARNING):
        decoded = _decoded(tmp_path, "raw/a/bare.jpg")
    assert np.abs(decoded - linear * 255).max() <= 1.5
    assert "bare.jpg is a CMYK image without an ICC colour profile" in caplog.text
