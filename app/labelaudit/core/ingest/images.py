"""Image archives: a zip in ImageFolder layout, ``class_name/*.png|jpg|jpeg``."""

from __future__ import annotations

from collections import Counter

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.archives import check_zip_limits, open_zip, zip_parts
from labelaudit.core.ingest.labels import encode_labels
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.messages import first_line, preview
from labelaudit.core.ingest.sources import Source
from labelaudit.core.constants import MAX_IMAGE_DECODE_PIXELS
from labelaudit.errors import IngestError
from labelaudit.extras import require

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def read_image_zip(source: Source, *, image_size: int | None = None, skip_corrupt: bool = False,
                   limits: IngestLimits = IngestLimits()) -> Dataset:
    """Read a zip archive in ImageFolder layout: ``class_name/*.png|jpg|jpeg``.

    The class of an image is the name of the folder holding it (a single folder
    wrapping the class folders is fine). Images are decoded with Pillow, kept
    grayscale when every image is, else converted to RGB, and resized to
    ``image_size`` (default: the most common size). Unreadable images are
    reported by path; with ``skip_corrupt`` they are skipped and listed in
    ``meta["skipped"]`` (as are images outside a class folder). The archive paths
    become the examples' ids.

    Nothing is decompressed before the archive passes the archive limits (members,
    declared sizes, paths, encryption, compression method), and no pixel is decoded
    before every image's header (size and mode, read by Pillow) keeps the limits:
    rows, values per example (each image at its own size, and at the common size),
    ``max_zip_pixels`` for the archive and ``max_array_bytes`` for the decoded
    array. Images are then decoded one at a time into that array, so the memory
    held is the array plus one image.

    Parameters
    ----------
    source : path, bytes or binary file
        The zip archive.
    image_size : int, optional
        Resize every image to this square size.
    skip_corrupt : bool
        Skip unreadable images instead of rejecting the archive.
    limits : IngestLimits
        The archive limits (``max_zip_*``) apply here.

    Returns
    -------
    Dataset
        An ``image`` dataset of uint8 ``(n, c, h, w)`` images, c = 1 or 3.

    Raises
    ------
    IngestError
        An unsafe or too large archive, no images in class folders, or
        unreadable images (without ``skip_corrupt``).
    """
    require("torch", "reading image archives", field="file", modules=("PIL",))
    from PIL import Image

    with open_zip(source, what="zip", limits=limits) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        check_zip_limits(members, limits)
        images = [m for m in members if m.filename.lower().endswith(IMAGE_EXTENSIONS)
                  and not any(part.startswith((".", "__MACOSX")) for part in zip_parts(m.filename))]
        if not images:
            raise IngestError("the archive holds no .png/.jpg/.jpeg images in class folders", field="file",
                              code="no_images")
        flat = [m.filename for m in images if len(zip_parts(m.filename)) < 2]
        if flat and not skip_corrupt:
            raise IngestError(f"{len(flat)} image{'s are' if len(flat) > 1 else ' is'} not inside a class folder "
                              f"(the layout is class_name/image.png): {preview(flat, 5)}", field="file",
                              code="no_class_folder")
        bad = [(name, "not inside a class folder") for name in flat]
        headers = _read_headers(archive, [m for m in images if len(zip_parts(m.filename)) >= 2], bad)
        size, channels = _plan(headers, image_size, limits)
        X = np.empty((len(headers), channels, size[1], size[0]), dtype=np.uint8)
        classes, paths = [], []
        for m, _, _ in headers:  # one image decoded at a time, straight into its row
            try:
                with Image.open(archive.open(m)) as img:
                    img.load()
                    img = img.convert("RGB" if channels == 3 else "L")
            except Exception as exc:  # hostile bytes past a valid header: truncated data, bad checksums
                bad.append((m.filename, first_line(exc)))
                continue
            if img.size != size:
                img = img.resize(size, Image.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
            X[len(paths)] = arr.transpose(2, 0, 1) if channels == 3 else arr[None]
            classes.append(zip_parts(m.filename)[-2])
            paths.append(m.filename)
    _refuse_bad(bad, skip_corrupt)
    if not paths:
        raise IngestError("no readable images in the archive", field="file", code="no_images")
    labels, _, names = encode_labels(np.asarray(classes), field="file")
    return Dataset(labels=labels, class_names=names, modality="image",
                   features=X[:len(paths)], example_ids=np.asarray(paths), meta={"format": "image-zip",
                                                                                  "skipped": [p for p, _ in bad]})


#: Pillow modes kept grayscale (one channel); every other mode becomes RGB
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def _read_headers(archive, members: list, bad: list) -> list[tuple]:
    """``(member, (width, height), mode)`` of every image whose header Pillow reads (no pixel is decoded);
    the others go to ``bad``."""
    from PIL import Image

    headers = []
    for m in members:
        # Hostile bytes: zipfile, zlib and Pillow's parsers raise many exception types, all meaning "unreadable".
        try:
            with Image.open(archive.open(m)) as img:
                headers.append((m, img.size, img.mode))
        except Exception as exc:
            bad.append((m.filename, first_line(exc)))
    return headers


def _plan(headers: list[tuple], image_size: int | None, limits: IngestLimits) -> tuple[tuple[int, int], int]:
    """The common ``(width, height)`` and channel count, once the headers keep every limit: rows, each image's
    and the archive's pixels, values per example and the decoded array's bytes; before any pixel is decoded."""
    n = len(headers)
    if n < limits.min_rows:
        raise IngestError(f"{n} readable images; an audit needs at least {limits.min_rows}", field="rows",
                          code="too_few_rows")
    if limits.max_rows is not None and n > limits.max_rows:
        raise IngestError(f"{n} images; the limit is {limits.max_rows}", field="rows", code="too_many_rows")
    channels = 1 if all(mode in GRAY_MODES for _, _, mode in headers) else 3
    pixels = sum(w * h for _, (w, h), _ in headers)
    if pixels > limits.max_zip_pixels:
        raise IngestError(f"the images decode to {pixels} pixels, more than {limits.max_zip_pixels}; refusing a "
                          "likely decompression bomb", field="file", code="archive_too_large")
    if image_size is not None:
        size = (int(image_size), int(image_size))
    else:
        size = Counter(wh for _, wh, _ in headers).most_common(1)[0][0]  # (width, height)
    values = size[0] * size[1] * channels
    if limits.max_values_per_example is not None and values > limits.max_values_per_example:
        raise IngestError(f"{values} pixels x channels per image; the limit is {limits.max_values_per_example}",
                          field="file", code="example_too_large")
    for m, (w, h), _ in headers:  # decoded one at a time, then resized: only each image's own size is bounded
        if w * h > MAX_IMAGE_DECODE_PIXELS:
            raise IngestError(f"{m.filename} is {w}x{h} pixels, more than the {MAX_IMAGE_DECODE_PIXELS} pixels an "
                              "image may decode to; refusing a likely decompression bomb",
                              field="file", code="example_too_large")
    if n * values > limits.max_array_bytes:
        raise IngestError(f"{n} images of {size[0]}x{size[1]}x{channels} decode to {n * values} bytes, more than "
                          f"{limits.max_array_bytes}", field="file", code="array_too_large")
    return size, channels


def _refuse_bad(bad: list, skip_corrupt: bool) -> None:
    if bad and not skip_corrupt:
        shown = "; ".join(f"{p} ({why})" for p, why in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise IngestError(f"{len(bad)} unreadable image{'s' if len(bad) > 1 else ''}: {shown}{more} "
                          "(pass skip_corrupt to skip them)", field="file", code="corrupt_image")
