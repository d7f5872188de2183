"""Read-only memory maps of arrays in files, and handing their pages back once read.

A mapped array costs no memory until it is read, but every page read stays in the
process's resident set (and counts in its peak, ``VmHWM``) until the kernel wants the
memory back. Code that streams through a mapped array once (ingest's checks, the
artifact writer) calls :func:`release_pages` on each chunk it is done with, so a pass
keeps one chunk resident, not the array.
"""

from __future__ import annotations

import mmap
import struct
import zipfile
from pathlib import Path

import numpy as np

_ZIP_LOCAL_HEADER = 30  # fixed part of a zip local file header

try:  # numpy >= 2
    from numpy.lib.array_utils import byte_bounds as _byte_bounds
except ImportError:  # pragma: no cover - numpy 1.x
    _byte_bounds = np.byte_bounds


def map_array(path: str | Path, *, offset: int, shape: tuple[int, ...], dtype, fortran: bool = False) -> np.ndarray:
    """The array of ``shape`` and ``dtype`` stored at byte ``offset`` of ``path``, as a read-only memory map."""
    return np.memmap(path, dtype=dtype, mode="r", shape=shape, offset=offset, order="F" if fortran else "C")


def stored_member_offset(fh, info: zipfile.ZipInfo) -> int:
    """Where the data of the zip member ``info`` start in the archive file ``fh`` (past its local header).

    For a stored (uncompressed) member these are the member's bytes as they are.
    """
    fh.seek(info.header_offset)
    header = fh.read(_ZIP_LOCAL_HEADER)
    if len(header) < _ZIP_LOCAL_HEADER or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + _ZIP_LOCAL_HEADER + name_len + extra_len


def is_mapped(array) -> bool:
    """Whether ``array`` is (a view of) a read-only memory map."""
    return _read_only_map(array) is not None


def release_pages(view) -> None:
    """Drop the pages under ``view``, part of a read-only memory map, from this process's resident set.

    The data stay in the file (and the page cache); reading them again maps them
    again. Pages shared with neighbouring rows go too, which costs a re-read at
    most. Anything else (an array in memory, a writable map) is left alone.
    """
    mm = _read_only_map(view)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if mm is None or advice is None or not hasattr(mm, "madvise") or view.size == 0:
        return
    base = np.frombuffer(mm, dtype=np.uint8, count=1).ctypes.data
    low, high = _byte_bounds(view)
    page = mmap.PAGESIZE
    first = (low - base) // page * page
    last = min(len(mm), -(-(high - base) // page) * page)
    if last > first:
        mm.madvise(advice, first, last - first)


def _read_only_map(array) -> mmap.mmap | None:
    """The ``mmap`` under ``array`` when it is a read-only ``np.memmap`` (or a view of one)."""
    obj = array
    while isinstance(obj, np.ndarray):
        if isinstance(obj, np.memmap) and isinstance(obj.base, mmap.mmap):
            return obj.base if obj.mode == "r" else None
        obj = obj.base
    return None
