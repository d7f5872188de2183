"""Property tests of the ingest readers on arbitrary and mutated bytes and on structured-but-wrong data.

The property everywhere: a reader either returns a :class:`Dataset` that keeps
its promises (contiguous int64 labels, finite features, valid probabilities,
safe example ids) or raises a :class:`LabelAuditError` with a 4xx status, a
``code`` and a ``field``. Any other exception is a bug (a 500 in the API).

Examples per test: 100, or ``HOSTILE_EXAMPLES`` for a longer hunt.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile

import hypothesis.extra.numpy as hnp
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest import FORMATS, IngestLimits, from_pred_probs, load_dataset, read_idx_array
from labelaudit.api.errors import status_of
from labelaudit.errors import LabelAuditError
from tests.hostile.corpus import csv_bytes, idx_bytes, idx_pair, image_members, npy_bytes, npz_bytes, \
    parquet_bytes, png_bytes, pred_probs, zip_bytes

#: Deterministic by default, so the suite is reproducible; HOSTILE_RANDOM=1 explores new examples.
FUZZ = settings(max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "100")), deadline=None, database=None,
                derandomize=not os.environ.get("HOSTILE_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(fn, *args, **kwargs):
    """``fn``'s result, or ``None`` when it raised a well-formed :class:`LabelAuditError`."""
    try:
        result = fn(*args, **kwargs)
    except LabelAuditError as exc:
        assert 400 <= status_of(exc) < 500, exc
        assert isinstance(exc.code, str) and exc.code and exc.code != "error", exc
        assert isinstance(exc.field, str) and exc.field, exc
        assert exc.message
        return None
    if isinstance(result, Dataset):
        assert_keeps_promises(result)
    return result


def assert_keeps_promises(ds: Dataset) -> None:
    n, k = ds.num_examples, ds.num_classes
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (n,)
    assert k >= 2 and len(set(ds.class_names)) == k
    assert all(isinstance(c, str) and "\x00" not in c for c in ds.class_names)
    assert ds.labels.min() >= 0 and ds.labels.max() < k
    if ds.features is not None:
        assert ds.features.shape[0] == n and ds.features.dtype in (np.float32, np.uint8)
        assert np.isfinite(ds.features).all()
    if ds.pred_probs is not None:
        P = ds.pred_probs
        assert P.shape == (n, k) and np.isfinite(P).all() and (P >= 0).all() and (P <= 1).all()
        assert np.allclose(P.sum(axis=1), 1, atol=1e-4)
    if ds.true_labels is not None:
        assert ds.true_labels.shape == (n,) and ds.true_labels.min() >= 0 and ds.true_labels.max() < k
    if ds.example_ids is not None:
        for path in ds.example_ids.tolist():
            parts = str(path).replace("\\", "/").split("/")
            assert ".." not in parts and not str(path).startswith("/")


# --------------------------------------------------------------------------- arbitrary and mutated bytes


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` after a few truncations, bit flips, insertions, deletions or overwrites."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, max(len(buf) - 1, 0)))
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "overwrite"]))
        if kind == "truncate":
            del buf[pos:]
        elif kind == "flip" and buf:
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del buf[pos:pos + draw(st.integers(1, 64))]
        elif buf:
            chunk = draw(st.binary(min_size=1, max_size=16))
            buf[pos:pos + len(chunk)] = chunk
    return bytes(buf)


def _seeds() -> dict[str, tuple[str, bytes, bytes | None]]:
    """Valid files of every format: (file name, content, labels content)."""
    P, y = pred_probs(20)
    images, labels = idx_pair(20)
    return {
        "csv": ("d.csv", csv_bytes(), None),
        "csv.gz": ("d.csv.gz", gzip.compress(csv_bytes()), None),
        "parquet": ("d.parquet", parquet_bytes(pa.table({"f0": np.arange(20.0), "label": np.arange(20) % 2})), None),
        "npz": ("d.npz", npz_bytes(X=np.arange(60.0).reshape(20, 3), y=np.arange(20) % 2,
                                   class_names=np.array(["a", "b"])), None),
        "idx": ("x-images-idx3-ubyte", images, labels),
        "idx.gz": ("x-images-idx3-ubyte.gz", gzip.compress(images), gzip.compress(labels)),
        "pred-probs": ("x_pyx.npy", npy_bytes(P), npy_bytes(y)),
        "image-zip": ("d.zip", zip_bytes(image_members(per_class=6)), None),
    }


SEEDS = _seeds()


@FUZZ
@given(data=st.data(), seed=st.sampled_from(sorted(SEEDS)), mutate_labels=st.booleans())
def test_mutated_files_of_every_format(data, seed, mutate_labels):
    name, content, labels = SEEDS[seed]
    if labels is not None and mutate_labels:
        labels = data.draw(mutated(labels), label="labels")
    else:
        content = data.draw(mutated(content), label="content")
    outcome(load_dataset, content, name=name, labels=labels, folds=2, limits=IngestLimits(min_rows=2))


@FUZZ
@given(content=st.binary(max_size=2048), name=st.sampled_from(["x", "x.csv", "x.tsv", "x.parquet", "x.npz", "x.zip",
                                                               "x.csv.gz", "x-images-idx3-ubyte"]),
       fmt=st.sampled_from([None, *FORMATS, "npy"]))
def test_arbitrary_bytes_in_any_format(content, name, fmt):
    labels = npy_bytes(np.arange(4) % 2) if fmt in ("idx", "pred-probs", "npy") else None
    outcome(load_dataset, content, name=name, format=fmt, labels=labels, folds=2, limits=IngestLimits(min_rows=2))


@FUZZ
@given(head=st.sampled_from([b"PAR1", b"\x93NUMPY", b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"\x00\x00\x08\x03",
                             b"\x00\x00\x0d\x01", b"\xff\xfe", b"\xef\xbb\xbf"]),
       rest=st.binary(max_size=512))
def test_magic_numbers_with_garbage_behind_them(head, rest):
    outcome(load_dataset, head + rest, name="upload", folds=2, limits=IngestLimits(min_rows=2))


# --------------------------------------------------------------------------- structured but wrong tables

TOKENS = ["0", "1", "2", "-3.5", "1e400", "nan", "inf", "-inf", "", "abc", "é", '"', "\x00", "true", "2024-01-01",
          " ", "1,5", "\t"]


@FUZZ
@given(rows=st.lists(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=5), max_size=25),
       header=st.lists(st.sampled_from(["label", "f0", "f1", "true_label", "é", "", "label"]), min_size=1,
                       max_size=5),
       encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_csv_text_of_random_tokens(rows, header, encoding):
    text = "\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n"
    content = text.encode(encoding, errors="replace")
    outcome(load_dataset, content, name="t.csv", folds=2, limits=IngestLimits(min_rows=2))


def _column(kind: str, n: int):
    values = {
        "int": st.integers(-2**63, 2**63 - 1),
        "float": st.floats(allow_nan=True, allow_infinity=True, width=64),
        "text": st.text(max_size=6),
        "bool": st.booleans(),
        "maybe-int": st.one_of(st.none(), st.integers(0, 3)),
        "list": st.lists(st.integers(0, 3), max_size=2),
    }[kind]
    types = {"int": pa.int64(), "float": pa.float64(), "text": pa.string(), "bool": pa.bool_(),
             "maybe-int": pa.int64(), "list": pa.list_(pa.int64())}
    return st.lists(values, min_size=n, max_size=n).map(lambda v: pa.array(v, type=types[kind]))


@st.composite
def tables(draw) -> pa.Table:
    """Tables of a few typed columns with names that may clash, be empty, or hold odd characters."""
    n = draw(st.integers(0, 24))
    kinds = draw(st.lists(st.sampled_from(["int", "float", "text", "bool", "maybe-int", "list"]), min_size=1,
                          max_size=4))
    names = draw(st.lists(st.one_of(st.sampled_from(["label", "f0", "true_label"]), st.text(max_size=5)),
                          min_size=len(kinds), max_size=len(kinds)))
    if draw(st.booleans()):
        names[0] = "label"
    return pa.Table.from_arrays([draw(_column(kind, n)) for kind in kinds], names=names)


@FUZZ
@given(table=tables(), as_csv=st.booleans())
def test_tables_with_wrong_columns_types_and_names(table, as_csv):
    if as_csv:
        if any(pa.types.is_list(t) for t in table.schema.types):
            table = table.select([i for i, t in enumerate(table.schema.types) if not pa.types.is_list(t)])
        if table.num_columns == 0:
            return
        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        outcome(load_dataset, buf.getvalue(), name="t.csv", folds=2, limits=IngestLimits(min_rows=2))
    else:
        buf = io.BytesIO()
        pq.write_table(table, buf)
        outcome(load_dataset, buf.getvalue(), name="t.parquet", folds=2, limits=IngestLimits(min_rows=2))


# --------------------------------------------------------------------------- arrays

DTYPES = st.sampled_from([np.int8, np.uint8, np.int64, np.uint64, np.float16, np.float32, np.float64, np.complex64,
                          np.bool_, "U3", "S3", "M8[s]"])


def arrays(max_dims: int = 5):
    return DTYPES.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0,
                                                                     max_side=6)))


@FUZZ
@given(keys=st.dictionaries(st.sampled_from(["X", "y", "class_names", "true_labels", "pred_probs", "images"]),
                            arrays(), min_size=1, max_size=4))
def test_npz_of_arbitrary_arrays(keys):
    outcome(load_dataset, npz_bytes(**keys), name="a.npz", folds=2, limits=IngestLimits(min_rows=2))


@FUZZ
@given(P=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=8),
                    elements=st.floats(-0.5, 1.5) | st.sampled_from([0.0, 1.0, np.nan, np.inf, -np.inf])),
       y=hnp.arrays(st.sampled_from([np.int64, np.float64, np.uint8, np.bool_]), hnp.array_shapes(max_dims=2,
                                                                                                  max_side=8)))
def test_pred_probs_of_arbitrary_shapes_and_values(P, y):
    outcome(from_pred_probs, P, y)


@FUZZ
@given(code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0xFF]), ndim=st.integers(0, 6),
       dims=st.lists(st.sampled_from([0, 1, 2, 3, 2**31, 2**32 - 1]), max_size=6), data=st.binary(max_size=64),
       gz=st.booleans())
def test_idx_headers(code, ndim, dims, data, gz):
    raw = bytes([0, 0, code, ndim]) + np.asarray(dims, dtype=">u4").tobytes() + data
    arr = outcome(read_idx_array, gzip.compress(raw) if gz else raw)
    if arr is not None:
        assert arr.ndim == ndim and arr.nbytes == len(raw) - 4 - 4 * ndim


# --------------------------------------------------------------------------- archives


@FUZZ
@given(members=st.dictionaries(st.text(alphabet="ab./\\:C", min_size=1, max_size=10).map(lambda s: s + ".png"),
                               st.sampled_from(["png", "junk", "empty"]), max_size=8),
       per_class=st.integers(0, 3))
def test_image_zips_with_odd_member_names(members, per_class):
    content = {name: {"png": png_bytes(), "junk": b"\x89PNG junk", "empty": b""}[kind]
               for name, kind in members.items()}
    content.update(image_members(per_class=per_class))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in content.items():
            z.writestr(name, data)
    outcome(load_dataset, buf.getvalue(), name="x.zip", folds=1, limits=IngestLimits(min_rows=1))
    outcome(load_dataset, buf.getvalue(), name="x.zip", folds=1, limits=IngestLimits(min_rows=1), skip_corrupt=True)


@FUZZ
@given(fields=st.binary(min_size=18, max_size=18), comment=st.binary(max_size=64), prefix=st.binary(max_size=64))
def test_zip_end_records_with_arbitrary_fields(fields, comment, prefix):
    content = prefix + b"PK\x05\x06" + fields + comment  # fields: disks, counts, directory size and offset
    outcome(load_dataset, content, name="x.zip", folds=2, limits=IngestLimits(min_rows=2))
    outcome(load_dataset, content, name="x.npz", folds=2, limits=IngestLimits(min_rows=2))


def test_idx_round_trip_still_reads():
    """The bounded IDX reader gives back exactly what was written (raw and gzip)."""
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for gz in (False, True):
        assert np.array_equal(read_idx_array(idx_bytes(array, gz=gz)), array)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_column_limit_is_checked_before_parsing(fmt):
    """Parquet by its footer, CSV by its header line (a real 100,001-column Parquet file takes long to write)."""
    table = pa.table({**{f"f{i}": [1.0] * 12 for i in range(6)}, "label": [0, 1] * 6})
    content = parquet_bytes(table) if fmt == "parquet" else csv_bytes(table.to_pydict())
    with pytest.raises(LabelAuditError) as info:
        load_dataset(content, name=f"t.{fmt}", folds=2, limits=IngestLimits(max_table_columns=5))
    assert (info.value.code, info.value.field) == ("too_many_columns", "file")
