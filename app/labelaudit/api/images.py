"""Images rendered for the dashboard: one example's pixels as a PNG thumbnail."""

from __future__ import annotations

import io

import numpy as np


def image_png(pixels: np.ndarray, *, size: int | None = None) -> bytes:
    """One image (``c x h x w``, uint8 or float) as PNG bytes, scaled so its longer side is ``size``.

    Float images in [0, 1] are scaled by 255; other float ranges are stretched
    min-max per image. Upscaling uses nearest neighbour so small digits stay crisp.
    """
    from PIL import Image

    img = np.asarray(pixels)
    if img.dtype != np.uint8:
        img = img.astype(np.float64)
        lo, hi = float(img.min()), float(img.max())
        if lo >= 0.0 and hi <= 1.0:
            img = img * 255.0
        elif hi > lo:
            img = (img - lo) * (255.0 / (hi - lo))
        img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if img.shape[0] < 3:  # grayscale (a second channel, if any, is not shown)
        pil = Image.fromarray(np.ascontiguousarray(img[0]))
    else:
        pil = Image.fromarray(np.ascontiguousarray(img[:3].transpose(1, 2, 0)))
    if size:
        w, h = pil.size
        scale = size / max(w, h)
        new = (max(1, round(w * scale)), max(1, round(h * scale)))
        if new != pil.size:
            pil = pil.resize(new, Image.NEAREST if scale >= 1 else Image.BILINEAR)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
