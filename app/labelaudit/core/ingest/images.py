"""Image archives: a zip in ImageFolder layout, ``class_name/*.png|jpg|jpeg``."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.archives import check_zip_limits, open_zip, zip_parts
from labelaudit.core.ingest.labels import encode_labels
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.messages import first_line, preview
from labelaudit.core.ingest.sources import Source
from labelaudit.errors import IngestError

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
    declared sizes, paths, encryption, compression method), and decoding stops
    once the images together pass ``limits.max_zip_pixels``.

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
        decoded, classes, paths = [], [], []
        bad = [(name, "not inside a class folder") for name in flat]
        pixels = 0
        for m in images:
            parts = zip_parts(m.filename)
            if len(parts) < 2:
                continue
            # Hostile bytes: zipfile, zlib and Pillow's decoders raise many exception types, all meaning "unreadable".
            try:
                img = Image.open(io.BytesIO(archive.read(m)))
            except Exception as exc:
                bad.append((m.filename, first_line(exc)))
                continue
            with img:
                pixels += img.width * img.height
                if pixels > limits.max_zip_pixels:
                    raise IngestError(f"the images decode to more than {limits.max_zip_pixels} pixels; refusing a "
                                      "likely decompression bomb", field="file", code="archive_too_large")
                try:
                    img.load()
                    gray = img.mode in ("1", "L", "LA", "I", "I;16", "F")
                    decoded.append(img.convert("L" if gray else "RGB"))
                except Exception as exc:
                    bad.append((m.filename, first_line(exc)))
                    continue
            classes.append(parts[-2])
            paths.append(m.filename)
    if bad and not skip_corrupt:
        shown = "; ".join(f"{p} ({why})" for p, why in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise IngestError(f"{len(bad)} unreadable image{'s' if len(bad) > 1 else ''}: {shown}{more} "
                          "(pass skip_corrupt to skip them)", field="file", code="corrupt_image")
    if not decoded:
        raise IngestError("no readable images in the archive", field="file", code="no_images")
    rgb = any(img.mode == "RGB" for img in decoded)
    if image_size is not None:
        size = (int(image_size), int(image_size))
    else:
        size = Counter(img.size for img in decoded).most_common(1)[0][0]  # (width, height)
    channels = 3 if rgb else 1
    X = np.empty((len(decoded), channels, size[1], size[0]), dtype=np.uint8)
    for i, img in enumerate(decoded):
        img = img.convert("RGB" if rgb else "L")
        if img.size != size:
            img = img.resize(size, Image.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
        X[i] = arr.transpose(2, 0, 1) if rgb else arr[None]
    labels, _, names = encode_labels(np.asarray(classes), field="file")
    return Dataset(labels=labels, class_names=names, modality="image",
                   features=X, example_ids=np.asarray(paths), meta={"format": "image-zip",
                                                                    "skipped": [p for p, _ in bad]})
