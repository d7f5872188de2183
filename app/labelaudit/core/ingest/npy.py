"""``.npy`` arrays: their header checked before anything is allocated, then read or memory-mapped.

NPZ members are ``.npy`` data too, so the NPZ reader uses these checks on each member.
"""

from __future__ import annotations

import io
import lzma
import math
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.messages import first_line
from labelaudit.core.ingest.sources import Source, binary_stream, read_all
from labelaudit.core.mapped import map_array
from labelaudit.errors import IngestError

#: what reading hostile archive members and .npy files raises (numpy parses a header's dict with
#: ``tokenize`` and ``ast.literal_eval``, and its dtype with ``np.dtype``)
READ_ERRORS = (OSError, EOFError, ValueError, TypeError, KeyError, SyntaxError, tokenize.TokenError, zlib.error,
               zipfile.BadZipFile, lzma.LZMAError, NotImplementedError)


def read_npy(source: Source, *, field: str, mmap: bool = False, limits: IngestLimits = IngestLimits()) -> np.ndarray:
    """Read one ``.npy`` array (no pickles); errors name ``field``.

    Parameters
    ----------
    source : path, bytes or binary file
        The ``.npy`` file.
    field : str
        The field every error names.
    mmap : bool
        With a path: return a read-only memory map instead of reading the array,
        after the same header checks.
    limits : IngestLimits
        ``max_array_bytes`` caps the array its header announces.

    Returns
    -------
    np.ndarray

    Raises
    ------
    IngestError
        An archive instead of an array, an unreadable, truncated or too large
        array, or one of Python objects.
    """
    with binary_stream(source) as fh:
        head = fh.read(6)
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise IngestError("expected a .npy array, got an archive (NPZ or zip)", field=field, code="parse_error")
    max_bytes = limits.max_array_bytes
    if isinstance(source, (str, Path)):
        if mmap:
            return _map_npy(source, size, field=field, max_bytes=max_bytes)
        return load_npy(lambda: open(source, "rb"), size, field=field, max_bytes=max_bytes)
    data = read_all(source)
    return load_npy(lambda: io.BytesIO(data), len(data), field=field, max_bytes=max_bytes)


def load_npy(open_fn, size: int, *, field: str, max_bytes: int) -> np.ndarray:
    """Read the ``.npy`` array ``open_fn()`` gives (``size`` bytes long), checking its header first
    (:func:`npy_header`)."""
    from numpy.lib import format as npy

    with open_fn() as fh:
        npy_header(fh, size, field=field, max_bytes=max_bytes)
    with open_fn() as fh:
        try:
            return npy.read_array(fh, allow_pickle=False)
        except READ_ERRORS as exc:
            raise IngestError(f"could not read the .npy file: {first_line(exc)}", field=field,
                              code="parse_error") from exc


def npy_header(fh, size: int, *, field: str, max_bytes: int) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Read and check the header of the ``.npy`` data starting at ``fh``'s position (``size`` bytes in all).

    Returns the shape, whether it is Fortran-ordered, the dtype and the header's length.
    A header announcing more data than the file holds, or more than ``max_bytes``,
    or Python objects, is refused before anything is allocated.
    """
    from numpy.lib import format as npy

    begin = fh.tell()
    try:
        version = npy.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(fh)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not read")
        header = fh.tell() - begin
    except READ_ERRORS as exc:
        raise IngestError(f"could not read the .npy file: {first_line(exc)}", field=field,
                          code="parse_error") from exc
    if dtype.hasobject:
        raise IngestError("the .npy file holds Python objects (pickles), which are not loaded", field=field,
                          code="parse_error")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > max_bytes:
        raise IngestError(f"the .npy header announces shape {shape} ({nbytes} bytes); the limit is "
                          f"{max_bytes}", field=field, code="array_too_large")
    if nbytes > size - header:
        raise IngestError(f"the .npy file is truncated: its header announces shape {shape} ({nbytes} bytes) but "
                          f"{size - header} bytes follow", field=field, code="parse_error")
    return shape, fortran, dtype, header


def _map_npy(path: str | Path, size: int, *, field: str, max_bytes: int) -> np.ndarray:
    """The ``.npy`` file at ``path`` (``size`` bytes) as a read-only memory map, after :func:`npy_header`."""
    with open(path, "rb") as fh:
        shape, fortran, dtype, header = npy_header(fh, size, field=field, max_bytes=max_bytes)
    return map_data(path, header, shape, dtype, fortran, field=field)


def map_data(path: str | Path, offset: int, shape: tuple[int, ...], dtype: np.dtype, fortran: bool, *,
             field: str) -> np.ndarray:
    """Checked ``.npy`` data at ``offset`` of ``path`` as a read-only memory map (an empty array as itself)."""
    if math.prod(shape) * dtype.itemsize == 0:
        return np.zeros(shape, dtype=dtype)  # nothing to map (mmap refuses a length of 0)
    try:
        return map_array(path, offset=offset, shape=shape, dtype=dtype, fortran=fortran)
    except (OSError, ValueError) as exc:
        raise IngestError(f"could not read the .npy file: {first_line(exc)}", field=field,
                          code="parse_error") from exc
