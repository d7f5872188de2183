"""The limits a dataset must keep to be read, in one frozen object."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestLimits:
    """Every limit ingest enforces: the dataset's size, and the guards against hostile files.

    The defaults are those of library and CLI use: rows, classes and values per
    example are not capped, while the guards against hostile files (zip bombs,
    headers announcing huge arrays, tables of countless columns) always hold. The
    server builds its limits from its settings (``Settings.ingest_limits()``).

    Attributes
    ----------
    min_rows : int
        Fewest rows an audit accepts (``too_few_rows``).
    max_rows : int, optional
        Most rows (``too_many_rows``); where a file states its row count (Parquet
        metadata, a ``.npy`` header) it is refused before its data are read.
        ``None``: no limit.
    max_classes : int, optional
        Most classes (``too_many_classes``). ``None``: no limit.
    max_values_per_example : int, optional
        Most features per row, or pixels x channels per image
        (``example_too_large``). ``None``: no limit.
    max_table_columns : int
        Most columns of a CSV or Parquet table, checked before parsing (pyarrow
        takes seconds per 100,000 columns, so a one-line file could otherwise hold
        the server for hours).
    max_array_bytes : int
        Largest decoded IDX or ``.npy`` array, checked against its header before
        anything is allocated.
    max_zip_uncompressed_bytes : int
        Most bytes the members of an image or NPZ archive may declare unpacked.
    max_zip_members : int
        Most files in an image or NPZ archive.
    max_zip_ratio : int
        Highest compression ratio of one archive member larger than 1 MiB.
    max_zip_pixels : int
        Most pixels the images of an archive may decode to, all together.
    """

    min_rows: int = 10
    max_rows: int | None = None
    max_classes: int | None = None
    max_values_per_example: int | None = None
    max_table_columns: int = 100_000
    max_array_bytes: int = 8 * 1024**3
    max_zip_uncompressed_bytes: int = 8 * 1024**3
    max_zip_members: int = 2_000_000
    max_zip_ratio: int = 1000
    max_zip_pixels: int = 1 << 30
