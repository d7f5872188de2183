"""Which format a file is in: from its first bytes (and its name as a fallback), or from the name a caller
gives it."""

from __future__ import annotations

import gzip
import io
import zlib

from labelaudit.core.ingest.idx import is_idx_header
from labelaudit.errors import IngestError, UnsupportedFormat
from labelaudit.vocab import InputFormat, values

#: the formats :func:`~labelaudit.core.ingest.load_dataset` reads, as strings
FORMATS: tuple[str, ...] = values(InputFormat)
#: other names callers give formats
_ALIASES = {"zip": InputFormat.IMAGE_ZIP, "images": InputFormat.IMAGE_ZIP, "pq": InputFormat.PARQUET,
            "pyx": InputFormat.PRED_PROBS, "npy": InputFormat.PRED_PROBS, "tsv": InputFormat.CSV}
#: file name endings that name a format, tried in order
_SUFFIXES = ((".parquet", InputFormat.PARQUET), (".pq", InputFormat.PARQUET), (".npz", InputFormat.NPZ),
             (".csv", InputFormat.CSV), (".tsv", InputFormat.CSV))


def detect_format(head: bytes, name: str | None = None) -> str:
    """Guess the format from the first bytes (and the file name as a fallback).

    Parameters
    ----------
    head : bytes
        The file's first bytes (4096 are plenty).
    name : str, optional
        The file's name.

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    UnsupportedFormat
        Bytes of no format read here.
    IngestError
        An empty file.
    """
    return _detect(head, (name or "").lower()).value


def _detect(head: bytes, suffix: str) -> InputFormat:
    if head.startswith(b"PAR1"):
        return InputFormat.PARQUET
    if head.startswith(b"\x93NUMPY"):
        return InputFormat.PRED_PROBS
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return InputFormat.IMAGE_ZIP if suffix.endswith(".zip") else InputFormat.NPZ
    if head.startswith(b"\x1f\x8b"):
        try:
            inner = gzip.GzipFile(fileobj=io.BytesIO(head)).read(4)
        except (OSError, EOFError, zlib.error):
            inner = b""
        if is_idx_header(inner):
            return InputFormat.IDX
        if suffix.endswith((".csv.gz", ".csv")):
            return InputFormat.CSV
        raise UnsupportedFormat("a gzip file that is neither IDX nor CSV", field="format")
    if is_idx_header(head):
        return InputFormat.IDX
    for ext, fmt in _SUFFIXES:
        if suffix.endswith(ext):
            return fmt
    if not head:
        raise IngestError("the file is empty", field="file", code="empty_file")
    if b"\x00" not in head[:1024]:
        return InputFormat.CSV
    raise UnsupportedFormat(
        "could not recognise the format; give one of: " + ", ".join(FORMATS), field="format"
    )


def normalise_format(fmt: str) -> str:
    """The format a caller names (any case, ``_`` for ``-``, or an alias such as ``npy`` or ``zip``).

    Raises
    ------
    UnsupportedFormat
        A name of no format read here.
    """
    f = fmt.lower().replace("_", "-")
    f = _ALIASES[f].value if f in _ALIASES else f
    if f not in FORMATS:
        raise UnsupportedFormat(f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}", field="format")
    return f
