"""Read a class-folder image data set: ``raw/<class>/<image>``."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trainlab.data.folders import files_under
from trainlab.errors import DataError

log = logging.getLogger(__name__)

# PIL's own limit (Image.MAX_IMAGE_PIXELS, 89.5 M pixels), above which it only warns
MAX_PIXELS = 89_478_485

IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".jpe",
    ".jfif",  # what browsers on Windows name downloaded JPEGs
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    # what Chrome and phones now save from the web, and JPEG 2000 (slide scanners, archives):
    # PIL decodes both, but they were left out as "not images", shrinking their class
    ".avif",
    ".jp2",
    ".j2k",
    ".ppm",
    ".pgm",
    ".pbm",
    ".pnm",
}
# photos in formats PIL does not decode here: refused with the fix, never skipped, or a class of
# iPhone photos would shrink to its few JPEGs
UNDECODED_PHOTO_SUFFIXES = {".heic", ".heif", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf"}


def image_files(files: list[Path], where: Path) -> list[Path]:
    """The image files of ``files``; other files are left out with one warning.

    Real class folders hold more than images: Windows writes Thumbs.db and desktop.ini into
    every folder it shows, cameras and photo tools leave .json, .xmp or .aae sidecars, people
    leave notes.txt. The first of them stopped ``trainlab split`` (and a folder given to
    ``predict`` failed on it); they are now counted, by suffix, in a warning. Photos that PIL
    cannot decode (HEIC, camera raw) are refused, naming the file and the fix.
    """
    undecoded = [p for p in files if p.suffix.lower() in UNDECODED_PHOTO_SUFFIXES]
    if undecoded:
        raise DataError(
            f"{undecoded[0]} is a {undecoded[0].suffix} photo, which trainlab cannot decode "
            f"({len(undecoded)} such file(s) under {where}): convert them to JPEG or PNG"
        )
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    refuse_undecodable_names(images, where)
    others = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        by_suffix = Counter(p.suffix.lower() or p.name for p in others)
        log.warning(
            "left out %d file(s) under %s that are not images (%s), e.g. %s; accepted: %s",
            len(others),
            where,
            ", ".join(f"{suffix}: {n}" for suffix, n in by_suffix.most_common()),
            others[0],
            ", ".join(sorted(IMAGE_SUFFIXES)),
        )
    return images


def refuse_undecodable_names(paths: list[Path], where: Path) -> None:
    """Raise DataError for a path whose name is not UTF-8 (Python holds its bytes as surrogate
    escapes).

    A zip or disk written on an old Windows or macOS machine names ``café.jpg`` in Latin-1 or
    CP-1252: the split lists and predictions are UTF-8 text, and ``trainlab split`` stopped in a
    traceback (UnicodeEncodeError: surrogates not allowed) after decoding every image.
    """
    bad = []
    for path in paths:
        try:
            str(path).encode("utf-8")
        except UnicodeEncodeError:
            bad.append(path)
    if bad:
        raw = bytes(bad[0]).decode("latin-1")  # the bytes shown as Latin-1 would read them
        raise DataError(
            f"{str(bad[0])!a} ({len(bad)} such path(s) under {where}) is not named in UTF-8 "
            f"(read as Latin-1: {raw!r}): rename it, e.g. "
            f"`convmv -f latin1 -t utf-8 -r --notest {where}`"
        )


def scan_class_folders(
    raw_dir: Path, verify: bool = True, max_pixels: int = MAX_PIXELS
) -> dict[str, list[str]]:
    """Return class name -> sorted relative paths (``raw/<class>/<file>``) of its images.

    Raises DataError for a missing folder, an empty class folder, fewer than two classes, and a
    file that is not a readable image or has more than ``max_pixels`` pixels (named, with the
    fix).
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise missing_raw_error(raw_dir)
    class_dirs = sorted(p for p in raw_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = sorted(
        p for p in raw_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if loose:
        log.warning(
            "left out %d image(s) lying directly in %s, outside any class folder (e.g. %s): "
            "move each into the folder of its class",
            len(loose),
            raw_dir,
            loose[0].name,
        )
    # files in folders under a class folder (``cat/2023/img.jpg``) belong to its class
    found: dict[Path, list[Path]] = {d: [] for d in class_dirs}
    for path in files_under(raw_dir):
        rel = path.relative_to(raw_dir)
        if len(rel.parts) > 1:  # loose files in raw/ are named above
            found[raw_dir / rel.parts[0]].append(path)
    image_files([f for files in found.values() for f in files], raw_dir)  # warns, or refuses
    classes: dict[str, list[str]] = {}
    frames: list[Path] = []  # images of several frames
    for class_dir in class_dirs:
        files = [p for p in found[class_dir] if p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise DataError(
                f"class folder {class_dir} is empty (no image files): add images to it or remove "
                "the folder"
            )
        if verify:
            frames += [path for path in files if verify_image(path, max_pixels)]
        classes[class_dir.name] = [
            f"{raw_dir.name}/{p.relative_to(raw_dir).as_posix()}" for p in files
        ]
    if len(classes) < 2:
        names = ", ".join(classes) or "none"
        raise DataError(
            f"{raw_dir} holds {len(classes)} class folder(s) ({names}); classification needs at "
            f"least two: add a folder per class"
        )
    check_class_names(list(classes), raw_dir)
    if frames:
        log.warning(
            "%d image(s) under %s hold several frames (animated GIF/PNG/WebP, multi-page TIFF), "
            "e.g. %s: only the first frame is read; if each frame is an image (a z-stack, the "
            "channels of a microscope), save them as one file per frame",
            len(frames),
            raw_dir,
            frames[0],
        )
    return classes


def missing_raw_error(raw_dir: Path) -> DataError:
    """The error for a data folder without ``raw/``, naming what it holds and the fix.

    The common case is class folders put straight into the data folder (``birds/finch/``
    instead of ``birds/raw/finch/``), or ``data_dir`` naming the ``raw`` folder itself; the
    message said only that ``raw`` did not exist.
    """
    import shlex

    data_dir = raw_dir.parent
    if not data_dir.is_dir():
        return DataError(
            f"data_dir {data_dir} does not exist: give the folder that holds "
            f"raw/<class>/<image> (one folder per class)"
        )
    entries = sorted(p for p in data_dir.iterdir() if not p.name.startswith("."))
    with_images = [
        p
        for p in entries
        if p.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.rglob("*"))
    ]
    if data_dir.name == "raw" and len(with_images) >= 2:
        return DataError(
            f"data_dir {data_dir} is itself the raw/ folder (it holds the class folders "
            f"{', '.join(p.name for p in with_images[:5])}): give its parent, "
            f"data_dir={data_dir.parent}"
        )
    shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in entries[:8]) or "nothing"
    more = f" and {len(entries) - 8} more" if len(entries) > 8 else ""
    if with_images:
        names = " ".join(shlex.quote(p.name) for p in with_images[:5])
        names += " ..." if len(with_images) > 5 else ""
        return DataError(
            f"{data_dir} has no raw/ folder; it holds {len(with_images)} folder(s) of images "
            f"({names}), which look like the class folders: move them into raw/, e.g. "
            f"`cd {data_dir} && mkdir raw && mv {names} raw/`"
        )
    return DataError(
        f"{data_dir} has no raw/ folder (it holds {shown}{more}): put one folder per class "
        f"with its images under {raw_dir}/<class>/<image>"
    )


def check_class_names(names: list[str], raw_dir: Path) -> None:
    """Refuse class folders named alike but for spaces around the name or the Unicode form;
    warn when names differ by case.

    ``café`` typed on macOS (decomposed, NFD) and on Linux (composed, NFC) are two folders
    that print the same: they became two classes no report could tell apart. Names that differ
    only by case (``Cat``, ``cat``) are a warning, not an error: letter data sets have classes
    ``A`` and ``a``.
    """
    import unicodedata

    by_form: dict[str, list[str]] = {}
    by_case: dict[str, list[str]] = {}
    for name in names:
        form = unicodedata.normalize("NFC", name).strip()
        by_form.setdefault(form, []).append(name)
        by_case.setdefault(form.casefold(), []).append(name)
    for same in by_form.values():
        if len(same) > 1:
            raise DataError(
                f"class folders {' and '.join(ascii(n) for n in same)} in {raw_dir} have the same "
                "name written in two ways (spaces around it, or composed and decomposed accents "
                "as Linux and macOS write them): move their images into one folder"
            )
    for same in by_case.values():
        if len(same) > 1:
            log.warning(
                "class folders %s in %s differ only by case: they are %d classes; merge them if "
                "they are one",
                " and ".join(same),
                raw_dir,
                len(same),
            )


def verify_image(path: Path, max_pixels: int = MAX_PIXELS) -> bool:
    """Raise DataError when ``path`` cannot be decoded as an image or holds more than
    ``max_pixels`` pixels; True when it holds several frames, of which training reads the first
    only (it was silent)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open_image(path, max_pixels) as image:
            several = bool(getattr(image, "is_animated", False))  # reads one frame header more
            image.verify()
            return several
    except Image.DecompressionBombError as err:
        raise too_many_pixels(path, err) from None
    except UnidentifiedImageError as err:
        raise DataError(f"{path} is not a readable image: {what_it_holds(path)}") from err
    except (OSError, SyntaxError, ValueError) as err:
        # ValueError: a PNG text or ICC chunk that inflates past PIL's 1 MB limit
        raise DataError(
            f"{path} is not a readable image ({err}); remove or replace the file"
        ) from err


# (how a file starts, what it is and its fix) for files that carry an image suffix but are not
# images: before, each was named only "cannot identify image file"
NOT_IMAGES = (
    (b"version https://git-lfs", "a Git LFS pointer, not the image", "run `git lfs pull`"),
    (b"\x00\x05\x16\x07", "a macOS AppleDouble file (metadata of another file)", "delete it"),
    (
        b"<!doctype html",
        "an HTML page (a download that got an error or login page)",
        "download it again",
    ),
    (b"<html", "an HTML page (a download that got an error or login page)", "download it again"),
)
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")


def what_it_holds(path: Path) -> str:
    """What a file PIL cannot identify holds, from its first bytes, and the fix."""
    with open(path, "rb") as handle:
        head = handle.read(64)
    if not head:
        return "it is empty (0 bytes: a copy or download that did not finish); replace or remove it"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return (
            "it is an AVIF image, which this Pillow cannot decode (built without libavif): "
            "convert it to PNG or JPEG, or install a Pillow wheel with AVIF support"
        )
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return (
            f"it is a HEIC/HEIF photo (as iPhones save them) named {path.suffix}: convert it to "
            "JPEG or PNG"
        )
    start = head.lstrip().lower()
    for magic, what, fix in NOT_IMAGES:
        if start.startswith(magic):
            return f"it is {what}: {fix}"
    return "remove or replace the file"


def pixel_fingerprint(
    path: Path, max_pixels: int = MAX_PIXELS, to_srgb: Any = None
) -> tuple[bytes, Any]:
    """A digest of the decoded pixels of ``path`` (its mode, size and first frame), and its
    near-copy thumbnail (``near_copies.thumbnail``: None for a tiny or flat image).

    Decoding every pixel is what finds a truncated JPEG: ``verify`` reads only the headers, so
    a photo cut off half-way passed ``trainlab split`` and stopped the first training run.
    Equal digests mark copies that differ in bytes only: the same picture saved as PNG and BMP,
    or a JPEG whose EXIF block was stripped by the site it was scraped from. The thumbnail comes
    from the same decode, so finding re-saved and resized copies costs no second read. It is
    taken upright (EXIF orientation applied, as training decodes): a phone photo stored sideways
    with tag 6 and the same picture re-saved upright by an editor differed by 95 levels (RMS, of
    255) and were split as two pictures, one in training and one in test. With ``to_srgb`` (a
    ``colour.SrgbConverter``) its colours are converted by the image's ICC profile, as training
    does, on a copy reduced to ``PROFILED_SIDE``: a Display P3 or Adobe RGB PNG and its sRGB copy
    (what a website serves) were 13 to 24 levels apart, above the near-copy bound of 6, while
    training decoded them 0.1 levels apart.
    """
    import hashlib

    from PIL import Image

    from trainlab.data.images.display import upright
    from trainlab.data.images.near_copies import thumbnail

    try:
        with open_image(path, max_pixels) as image:
            # a JPEG decodes at 1/2 to 1/8 scale, down to 256 pixels on the shorter side: the
            # whole stream is still read (a cut-off file still fails), at 0.014 s instead of
            # 0.31 s for a 12 MP photo; two photos alike at that scale are copies anyway
            image.draft(image.mode, (256, 256))
            image.load()
            if image.format == "PNG":
                refuse_missing_png_rows(path, image.size)
            # a palette image's bytes are indices into its palette: a red and a blue square
            # saved as GIF (index 1 on index 0, two palettes) had one digest, and split refused
            # them as one picture filed under two classes. Its colours are digested instead
            # (the same whatever order or length of palette a format stores)
            pixels = image.convert("RGBA") if image.mode in ("P", "PA") else image
            transparent = None if pixels is not image else image.info.get("transparency")
            head = f"{pixels.mode} {pixels.size} {transparent!r}"
            digest = hashlib.blake2b(head.encode(), digest_size=16)
            digest.update(pixels.tobytes())
            return digest.digest(), thumbnail(_as_trained(upright(image), path, to_srgb))
    except Image.DecompressionBombError as err:
        raise too_many_pixels(path, err) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(
            f"{path} cannot be decoded ({err}): the file is cut short or damaged; replace it "
            "with a complete copy or remove it"
        ) from err


# side of the reduced copy whose colours are converted for the near-copy thumbnail: a 12 MP P3
# PNG took 1.4 s to convert whole; the 16x16 thumbnail averages far larger blocks anyway
PROFILED_SIDE = 128


def _as_trained(image: Any, path: Path, to_srgb: Any) -> Any:
    """``image`` with its ICC profile applied on a reduced copy (``pixel_fingerprint``)."""
    from PIL import Image

    from trainlab.data.images.near_copies import WIDE_MODES

    if to_srgb is None or not image.info.get("icc_profile") or image.mode in WIDE_MODES:
        return image
    scale = PROFILED_SIDE / min(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        resample = Image.NEAREST if image.mode in ("P", "PA", "1") else Image.BOX
        image = image.resize(size, resample)
    return to_srgb(image, path)


def refuse_missing_png_rows(path: Path, size: tuple[int, int]) -> None:
    """Raise DataError when the PNG at ``path`` holds less pixel data than its header declares
    (``png_rows``: PIL decodes the rest as black, without an error). Costs a second inflate of
    the file: 0.09 s for a 3 MP photo-like PNG that PIL decodes in 0.2 s."""
    from trainlab.data.images.png_rows import missing_png_rows

    share = missing_png_rows(path)
    if share is not None:
        raise DataError(
            f"{path} is a PNG whose pixel data stops at {share:.0%} of the {size[0]}x{size[1]} "
            "image its header declares: PIL decodes the rest as black rows without an error. "
            "Replace it with a complete copy or remove it"
        )


@contextmanager
def open_image(path: Path, max_pixels: int = MAX_PIXELS) -> Iterator[Any]:
    """``PIL.Image.open(path)``, refused with DataError when the image declares more than
    ``max_pixels`` pixels (read from the header, before any pixel is decoded).

    PIL only warns (DecompressionBombWarning) between its limit (89.5 M pixels) and twice
    that, then decodes: a 262 kB PNG declaring 10000 x 9000 RGB pixels took 6.5 s and 1 GB of
    memory in ``trainlab split``, with one Python warning that a run's log does not show. Real
    photos above the limit exist (a 100 MP medium-format camera): the limit is
    ``max_pixels`` (``trainlab split``) and ``data.max_pixels`` (train, eval, predict).
    """
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below instead
        try:
            image = Image.open(path)
        except Image.DecompressionBombError as err:
            raise too_many_pixels(path, err) from None
    with image:
        pixels = image.width * image.height
        if pixels > max_pixels:
            raise DataError(
                f"{path} is {image.width}x{image.height} = {pixels / 1e6:.1f} M pixels, more than "
                f"the limit of {max_pixels / 1e6:.1f} M (a tiny corrupt or hostile file can "
                f"declare that many; decoding takes {pixels * len(image.getbands()) / 1e9:.1f} "
                "GB): downscale it (e.g. to 4096 pixels on its longer side) or remove it; if it "
                f"is a real photo, raise the limit: max_pixels={pixels} for trainlab split, "
                f"data.max_pixels={pixels} for train, eval and predict"
            )
        yield image


def too_many_pixels(path: Path, err: Exception) -> DataError:
    """The error for an image over PIL's decompression-bomb limit (~179 M pixels).

    PIL raises it from ``Image.open``, outside ``OSError``: a 48 kB PNG declaring 20,000 x
    20,000 pixels ended ``trainlab split`` in a traceback. Decoding such a file would take
    gigabytes for an image that is resized to ``data.max_image_size`` anyway.
    """
    return DataError(
        f"{path} declares more pixels than PIL decodes safely ({err}): a corrupt or hostile "
        "file, or a very large photo; downscale it (e.g. to 4096 pixels on its longer side) "
        "or remove it"
    )
