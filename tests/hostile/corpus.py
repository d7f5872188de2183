"""Hostile and malformed uploads for ``POST /v1/datasets``, built in code, each with the answer it must get.

Every entry names the exact status, ``errors[0].code`` and ``errors[0].field``
the API must answer with. None may create a dataset or leave a file behind.
Nothing here is a committed binary: the bytes are made from small valid
datasets, then cut, corrupted, re-encoded or re-labelled.

The zip ``too many members`` entries need a server whose ``LABELAUDIT_MAX_ZIP_MEMBERS``
is :data:`TEST_MAX_ZIP_MEMBERS` (see ``conftest.py``): a real 2,000,001-member
archive is some 200 MB.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: the corpus server's archive member limit (``LABELAUDIT_MAX_ZIP_MEMBERS``)
TEST_MAX_ZIP_MEMBERS = 500
#: the corpus server's upload limit (``LABELAUDIT_MAX_UPLOAD_BYTES``); every other entry is far below it
TEST_MAX_UPLOAD_BYTES = 4 * 1024 * 1024
N = 40  # rows of the valid datasets the bad ones are made from


@dataclass(frozen=True)
class BadUpload:
    """One hostile upload and the problem it must get back."""

    id: str
    status: int
    code: str
    field: str
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    #: a hand-made request body and its content type (for broken multipart), instead of ``files``/``form``
    raw: tuple[bytes, str] | None = None
    #: send ``raw`` without a Content-Length (chunked), so the server must count while it reads
    chunked: bool = False


# --------------------------------------------------------------------------- valid material


def columns(n: int = N, d: int = 3, k: int = 2) -> dict[str, list]:
    """A small valid table: float features ``f0..`` and an integer ``label`` (``k`` classes)."""
    rng = np.random.default_rng(0)
    cols = {f"f{j}": [round(float(v), 3) for v in rng.normal(size=n)] for j in range(d)}
    cols["label"] = [i % k for i in range(n)]
    return cols


def csv_text(cols: dict[str, list]) -> str:
    lines = [",".join(cols)]
    lines += [",".join(str(col[i]) for col in cols.values()) for i in range(len(next(iter(cols.values()))))]
    return "\n".join(lines) + "\n"


def csv_bytes(cols: dict[str, list] | None = None) -> bytes:
    return csv_text(cols or columns()).encode()


def with_column(name: str, values: list, cols: dict[str, list] | None = None) -> dict[str, list]:
    """``cols`` (default :func:`columns`) with column ``name`` set to ``values``."""
    out = dict(cols or columns())
    out[name] = values
    return out


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=True)
    return buf.getvalue()


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy_header(shape: tuple, descr: str = "<f8") -> bytes:
    """Just the header of a ``.npy`` file announcing ``shape``."""
    from numpy.lib import format as npy

    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def idx_bytes(array, *, code: int = 0x08, dims: tuple | None = None, gz: bool = False) -> bytes:
    """An IDX file (type ``code``: 0x08 uint8, 0x0D float32) of ``array``; ``dims`` overrides the header."""
    dtypes = {0x08: ">u1", 0x0D: ">f4"}
    array = np.asarray(array)
    dims = array.shape if dims is None else dims
    data = bytes([0, 0, code, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()
    data += array.astype(dtypes[code]).tobytes()
    return gzip.compress(data, mtime=0) if gz else data


def idx_pair(n: int = N) -> tuple[bytes, bytes]:
    rng = np.random.default_rng(1)
    return idx_bytes(rng.integers(0, 255, (n, 6, 6))), idx_bytes(np.arange(n) % 2)


def pred_probs(n: int = N, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(n) % k
    P = np.full((n, k), 0.1 / (k - 1))
    P[np.arange(n), y] = 0.9
    return P, y


def png_bytes(value: int = 0, size: int = 8) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((size, size), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG announcing ``width x height`` pixels with (almost) no pixel data: opens, fails to decode."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(
        b"IEND", b"")


def image_members(classes=("cat", "dog"), per_class: int = 12, root: str = "") -> dict[str, bytes]:
    return {f"{root}{c}/{i}.png": png_bytes((11 * i + 60 * j) % 256)
            for j, c in enumerate(classes) for i in range(per_class)}


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buf.getvalue()


def patch_zip(data: bytes, *, flag_bits: int | None = None, method: int | None = None,
              file_size: int | None = None, declared_entries: int | None = None) -> bytes:
    """Rewrite fields of every member's local and central headers (and the end record's member count)."""
    buf = bytearray(data)
    end = buf.rfind(b"PK\x05\x06")
    count, _, offset = struct.unpack_from("<HII", buf, end + 10)
    pos = offset
    for _ in range(count):
        assert buf[pos:pos + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", buf, pos + 28)
        local = struct.unpack_from("<I", buf, pos + 42)[0]
        for value, central_at, local_at, fmt in ((flag_bits, 8, 6, "<H"), (method, 10, 8, "<H"),
                                                 (file_size, 24, 22, "<I")):
            if value is not None:
                struct.pack_into(fmt, buf, pos + central_at, value)
                struct.pack_into(fmt, buf, local + local_at, value)
        pos += 46 + name_len + extra_len + comment_len
    if declared_entries is not None:
        struct.pack_into("<HH", buf, end + 8, declared_entries, declared_entries)
    return bytes(buf)


def corrupt_member_data(data: bytes, name: str) -> bytes:
    """Overwrite the compressed bytes of member ``name`` with a deflate stream that cannot decode."""
    buf = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    name_len, extra_len = struct.unpack_from("<HH", buf, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    buf[start:start + info.compress_size] = b"\xff" * info.compress_size  # reserved block type 3
    return bytes(buf)


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "hostileBOUNDARY",
              close: bool = True) -> tuple[bytes, str]:
    """A hand-made multipart body of ``(name, filename, content)`` parts, optionally without its closing line."""
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    if close:
        out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------------- the corpus


def _csv_entries() -> list[BadUpload]:
    good = csv_bytes()
    latin1 = csv_text(with_column("label", ["café" if i % 2 else "thé" for i in range(N)])).encode("latin-1")
    wide = (",".join(f"c{i}" for i in range(100_001)) + ",label\n").encode() + b"0," * 100_001 + b"1\n"
    # class names, not numbers: 1,001 distinct numbers in 2,002 rows read as a regression target
    many_classes = csv_bytes(with_column("label", [f"c{i // 2}" for i in range(2002)], columns(2002)))

    def csv(id, content, status, code, field, name="data.csv", **form):
        return BadUpload(id, status, code, field, files={"file": (name, content)}, form=form)

    return [
        csv("csv-empty", b"", 422, "empty_file", "file"),
        csv("csv-blank-lines", b"\n\n\n", 422, "empty_file", "file"),
        csv("csv-header-only", b"f0,f1,label\n", 422, "empty_file", "file"),
        csv("csv-truncated-mid-row", good[: len(good) // 2 + 7], 422, "parse_error", "file"),
        csv("csv-unterminated-quote", b'f0,label\n1,0\n"2,1\n3,0,9\n', 422, "parse_error", "file"),
        csv("csv-latin1", latin1, 422, "invalid_encoding", "file"),
        csv("csv-latin1-header", "é,label\n".encode("latin-1") + b"1,0\n" * 20, 422, "invalid_encoding", "file"),
        csv("csv-utf16", good.decode().encode("utf-16"), 422, "invalid_encoding", "file"),
        csv("csv-utf16-no-bom", good.decode().encode("utf-16-le"), 422, "invalid_encoding", "file"),
        csv("csv-binary-garbage", bytes(range(256)) * 8, 422, "invalid_encoding", "file"),
        csv("csv-gzip-corrupt", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4, 422, "parse_error", "file",
            name="data.csv.gz"),
        csv("csv-mixed-types", csv_bytes(with_column("f1", [1.5] * (N - 1) + ["abc"])), 422,
            "non_numeric_feature", "f1"),
        csv("csv-inf-feature", csv_bytes(with_column("f0", [1.0] * (N - 1) + ["inf"])), 422, "non_finite", "f0"),
        csv("csv-float32-overflow", csv_bytes(with_column("f2", [1e300] + [1.0] * (N - 1))), 422, "non_finite",
            "f2"),
        # missing feature values ("", nan) are read as missing, not refused (tests/audit/test_roles.py)
        csv("csv-no-label-column", csv_bytes({k: v for k, v in columns().items() if k != "label"}), 422,
            "missing_label_column", "label_column"),
        csv("csv-label-column-option-absent", good, 422, "missing_label_column", "label_column",
            label_column="target"),
        csv("csv-label-column-is-a-feature", good, 422, "continuous_labels", "f0", label_column="f0"),
        csv("csv-all-labels-missing", csv_bytes(with_column("label", [""] * N)), 422, "missing_values", "label"),
        csv("csv-inf-label", csv_bytes(with_column("label", [0.0, float("inf")] * (N // 2))), 422, "non_finite",
            "label"),
        csv("csv-fractional-label", csv_bytes(with_column("label", [0.5, 1.0] * (N // 2))), 422,
            "continuous_labels", "label"),
        csv("csv-huge-label", csv_bytes(with_column("label", [0, 1e300] * (N // 2))), 422, "invalid_labels",
            "label"),
        csv("csv-single-class", csv_bytes(with_column("label", [7] * N)), 422, "single_class", "label"),
        csv("csv-too-few-rows", csv_bytes(columns(5)), 422, "too_few_rows", "rows"),
        csv("csv-class-of-one", csv_bytes(with_column("label", [0, 1] * (N // 2 - 1) + [0, 2])), 422,
            "class_too_small", "labels"),
        csv("csv-too-many-classes", many_classes, 422, "too_many_classes", "labels"),
        csv("csv-only-label-column", csv_bytes({"label": columns()["label"]}), 422, "missing_features", "features"),
        csv("csv-duplicate-columns", b"f0,f0,label\n" + b"1,2,0\n3,4,1\n" * 20, 422, "duplicate_column", "f0"),
        csv("csv-too-many-columns", wide, 422, "too_many_columns", "file"),
        csv("csv-sent-as-parquet", good, 422, "parse_error", "file", format="parquet"),
        csv("csv-sent-as-npy", good, 422, "parse_error", "pred_probs", format="npy"),
        BadUpload("csv-with-labels-file", 422, "unused_labels", "labels",
                  files={"file": ("data.csv", good), "labels_file": ("labels.npy", npy_bytes(np.arange(N) % 2))}),
        csv("format-unknown", good, 415, "unsupported_format", "format", format="xlsx"),
        csv("unknown-binary-no-extension", b"\x00\x01\x02garbage" * 50, 415, "unsupported_format", "format",
            name="blob"),
    ]


def _parquet_entries() -> list[BadUpload]:
    labels = pa.array([i % 2 for i in range(N)])
    feature = pa.array(np.arange(N, dtype=np.float64))
    good = parquet_bytes(pa.table({"f0": feature, "label": labels}))

    def table(**cols) -> bytes:
        return parquet_bytes(pa.table(cols))

    def pq_entry(id, content, status, code, field, **form):
        return BadUpload(id, status, code, field, files={"file": ("data.parquet", content)}, form=form)

    return [
        pq_entry("parquet-truncated", good[: len(good) // 2], 422, "parse_error", "file"),
        pq_entry("parquet-magic-only", b"PAR1", 422, "parse_error", "file"),
        pq_entry("parquet-corrupt-footer", b"PAR1" + b"\x00" * 100 + b"\x10\x00\x00\x00PAR1", 422, "parse_error",
                 "file"),
        pq_entry("parquet-zero-rows", table(f0=pa.array([], pa.float64()), label=pa.array([], pa.int64())), 422,
                 "empty_file", "file"),
        pq_entry("parquet-list-feature", table(f0=pa.array([[1, 2]] * N), label=labels), 422, "nested_column",
                 "f0"),
        # decimals are numbers written as text: read as a numeric feature
        pq_entry("parquet-struct-label", table(f0=feature, label=pa.array([{"c": i % 2} for i in range(N)])), 422,
                 "invalid_labels", "label"),
        pq_entry("parquet-list-label", table(f0=feature, label=pa.array([[i % 2] for i in range(N)])), 422,
                 "invalid_labels", "label"),
        pq_entry("parquet-binary-label", table(f0=feature, label=pa.array([b"\xff\x00" * (i % 2 + 1)
                                                                           for i in range(N)])), 422,
                 "invalid_labels", "label"),
        pq_entry("parquet-no-label", table(f0=feature), 422, "missing_label_column", "label_column"),
        pq_entry("parquet-null-labels", table(f0=feature, label=pa.nulls(N, pa.int64())), 422, "missing_values",
                 "label"),
        pq_entry("parquet-inf-feature", table(f0=pa.array([np.inf] + [1.0] * (N - 1)), label=labels), 422,
                 "non_finite", "f0"),
        pq_entry("parquet-nul-in-class-name", table(f0=feature, label=pa.array([f"c\x00{i % 2}" for i in range(N)])),
                 422, "invalid_text", "labels"),
        pq_entry("parquet-duplicate-columns",
                 parquet_bytes(pa.Table.from_arrays([feature, feature, labels], names=["f0", "f0", "label"])), 422,
                 "duplicate_column", "f0"),
        BadUpload("parquet-with-labels-file", 422, "unused_labels", "labels",
                  files={"file": ("data.parquet", good), "labels_file": ("labels.npy", npy_bytes(labels))}),
    ]


def _npz_entries() -> list[BadUpload]:
    X = np.random.default_rng(2).normal(size=(N, 3))
    y = np.arange(N) % 2
    good = npz_bytes(X=X, y=y)
    deflated = zip_bytes({"X.npy": npy_bytes(X), "y.npy": npy_bytes(y)})

    def npz(id, content, status, code, field):
        return BadUpload(id, status, code, field, files={"file": ("data.npz", content)})

    def header_only_npz(shape) -> bytes:
        return zip_bytes({"X.npy": npy_header(shape) + b"\x00" * 64, "y.npy": npy_bytes(y)},
                         compression=zipfile.ZIP_STORED)

    return [
        npz("npz-truncated", good[: len(good) // 2], 422, "parse_error", "file"),
        npz("npz-object-array", npz_bytes(X=np.array([object()] * N, dtype=object), y=y), 422, "parse_error", "X"),
        npz("npz-no-y", npz_bytes(X=X), 422, "missing_label_column", "y"),
        npz("npz-no-X", npz_bytes(y=y), 422, "missing_features", "X"),
        npz("npz-X-1d", npz_bytes(X=np.zeros(N), y=y), 422, "invalid_shape", "X"),
        npz("npz-X-5d", npz_bytes(X=np.zeros((N, 2, 2, 2, 2)), y=y), 422, "invalid_shape", "X"),
        npz("npz-X-no-features", npz_bytes(X=np.zeros((N, 0)), y=y), 422, "invalid_shape", "X"),
        npz("npz-X-complex", npz_bytes(X=X + 1j, y=y), 422, "non_numeric_feature", "X"),
        npz("npz-X-strings", npz_bytes(X=X.astype(str), y=y), 422, "non_numeric_feature", "X"),
        npz("npz-X-nan", npz_bytes(X=np.where(X > 1, np.nan, X), y=y), 422, "non_finite", "X"),
        npz("npz-images-inf", npz_bytes(X=np.full((N, 4, 4), np.inf, np.float32), y=y), 422, "non_finite", "X"),
        npz("npz-y-2d", npz_bytes(X=X, y=y[:, None]), 422, "invalid_shape", "y"),
        npz("npz-length-mismatch", npz_bytes(X=X, y=y[:-1]), 422, "length_mismatch", "y"),
        npz("npz-y-fractional", npz_bytes(X=X, y=y + 0.5), 422, "invalid_labels", "y"),
        npz("npz-y-complex", npz_bytes(X=X, y=y + 0j), 422, "invalid_labels", "y"),
        npz("npz-class-names-short", npz_bytes(X=X, y=y, class_names=np.array(["a"])), 422, "label_out_of_range",
            "y"),
        npz("npz-class-names-duplicate", npz_bytes(X=X, y=y, class_names=np.array(["a", "a"])), 422,
            "duplicate_class_names", "class_names"),
        npz("npz-class-names-scalar", npz_bytes(X=X, y=y, class_names=np.array("ab")), 422, "invalid_shape",
            "class_names"),
        npz("npz-true-labels-strings", npz_bytes(X=X, y=y, true_labels=np.array(["a"] * N)), 422, "invalid_labels",
            "true_labels"),
        npz("npz-header-announces-more", header_only_npz((N, 3)), 422, "parse_error", "X"),
        npz("npz-header-announces-petabytes", header_only_npz((10**9, 10**6)), 422, "array_too_large", "X"),
        npz("npz-declared-4gb-member", patch_zip(deflated, file_size=0xFFFFFFF0), 422, "archive_too_large", "file"),
        npz("npz-pred-probs-one-column", npz_bytes(pred_probs=np.ones((N, 1)), y=np.zeros(N, int)), 422,
            "invalid_shape", "pred_probs"),
    ]


def _idx_entries() -> list[BadUpload]:
    images, labels = idx_pair()
    rng = np.random.default_rng(3)
    big = idx_bytes(rng.integers(0, 255, (400, 28, 28)), gz=True)
    corrupt = bytearray(big)
    corrupt[len(big) // 2:len(big) // 2 + 64] = b"\x00" * 64
    bomb = gzip.compress(idx_bytes(np.zeros((N, 6, 6))) + b"\x00" * 50_000_000, compresslevel=1, mtime=0)

    def idx(id, status, code, field, image_bytes, label_bytes=None):
        files = {"file": ("x-images-idx3-ubyte", image_bytes)}
        if label_bytes is not None:
            files["labels_file"] = ("x-labels-idx1-ubyte", label_bytes)
        return BadUpload(id, status, code, field, files=files)

    return [
        idx("idx-without-labels", 422, "missing_labels", "labels", images),
        idx("idx-truncated", 422, "parse_error", "images", images[:-100], labels),
        idx("idx-labels-not-idx", 422, "parse_error", "labels", images, csv_bytes()),
        idx("idx-labels-empty", 422, "parse_error", "labels", images, b""),
        idx("idx-count-mismatch", 422, "length_mismatch", "labels", images, idx_bytes(np.arange(N - 1) % 2)),
        idx("idx-labels-are-images", 422, "invalid_shape", "labels", images, images),
        idx("idx-images-are-labels", 422, "invalid_shape", "images", labels, labels),
        idx("idx-gzip-truncated", 422, "parse_error", "images", big[: len(big) // 2], labels),
        idx("idx-gzip-corrupt", 422, "parse_error", "images", bytes(corrupt), labels),
        idx("idx-gzip-bomb", 422, "parse_error", "images", bomb, labels),
        idx("idx-dims-overflow-int64", 422, "array_too_large", "images",
            bytes([0, 0, 8, 3]) + np.asarray([2**31, 2**31, 4], ">u4").tobytes(), labels),
        idx("idx-float-labels-fractional", 422, "invalid_labels", "labels", images,
            idx_bytes(np.arange(N) % 2 + 0.5, code=0x0D)),
        idx("idx-float-images-nan", 422, "non_finite", "images",
            idx_bytes(np.full((N, 6, 6), np.nan), code=0x0D), labels),
        idx("idx-single-class", 422, "single_class", "labels", images, idx_bytes(np.zeros(N))),
    ]


def _pred_probs_entries() -> list[BadUpload]:
    P, y = pred_probs()

    def pp(id, status, code, field, probs, labels=None, **form):
        files = {"file": ("x_pyx.npy", probs if isinstance(probs, bytes) else npy_bytes(probs))}
        if labels is not None:
            files["labels_file"] = ("x_labels.npy", labels if isinstance(labels, bytes) else npy_bytes(labels))
        return BadUpload(id, status, code, field, files=files, form=form)

    negative = P.copy()
    negative[3] = [1.5, -0.5, 0.0]
    unnormalised = P.copy()
    unnormalised[5] *= 1.1
    nan = P.copy()
    nan[7, 1] = np.nan
    good = npy_bytes(P)
    return [
        pp("pred-probs-without-labels", 422, "missing_labels", "labels", P),
        pp("pred-probs-1d", 422, "invalid_shape", "pred_probs", P[:, 0], y),
        pp("pred-probs-3d", 422, "invalid_shape", "pred_probs", P[:, :, None], y),
        pp("pred-probs-one-column", 422, "invalid_shape", "pred_probs", np.ones((N, 1)), np.zeros(N, int)),
        pp("pred-probs-nan", 422, "non_finite", "pred_probs", nan, y),
        pp("pred-probs-out-of-range", 422, "out_of_range", "pred_probs", negative, y),
        pp("pred-probs-not-normalised", 422, "not_normalised", "pred_probs", unnormalised, y),
        pp("pred-probs-strings", 422, "invalid_dtype", "pred_probs", P.astype(str), y),
        pp("pred-probs-object-pickle", 422, "parse_error", "pred_probs", np.array([object()] * N, dtype=object), y),
        pp("pred-probs-truncated", 422, "parse_error", "pred_probs", good[:-50], y),
        pp("pred-probs-header-announces-petabytes", 422, "array_too_large", "pred_probs",
           npy_header((10**12, 10**3)) + b"\x00" * 64, y),
        pp("pred-probs-header-only", 422, "parse_error", "pred_probs", good[:40], y, format="pred-probs"),
        pp("pred-probs-labels-length", 422, "length_mismatch", "labels", P, y[:-1]),
        pp("pred-probs-labels-out-of-range", 422, "label_out_of_range", "labels", P, y + 3),
        pp("pred-probs-labels-negative", 422, "label_out_of_range", "labels", P, y - 1),
        pp("pred-probs-labels-fractional", 422, "invalid_labels", "labels", P, y + 0.5),
        pp("pred-probs-labels-2d", 422, "invalid_shape", "labels", P, y[:, None]),
        pp("pred-probs-labels-strings", 422, "invalid_labels", "labels", P, y.astype(str)),
        pp("pred-probs-labels-csv", 422, "parse_error", "labels", P, csv_bytes()),
        pp("pred-probs-labels-npz", 422, "parse_error", "labels", P, npz_bytes(y=y)),
        pp("pred-probs-zero-rows", 422, "too_few_rows", "rows", np.zeros((0, 3)), np.zeros(0, int)),
        pp("pred-probs-empty-class", 422, "class_too_small", "labels", P, y % 2),
    ]


def _zip_entries() -> list[BadUpload]:
    members = image_members()
    good = zip_bytes(members)
    many = {f"cat/{i}.txt": b"" for i in range(TEST_MAX_ZIP_MEMBERS + 1)}
    bombs = {f"cat/{i}.png": png_header(8000, 8000) for i in range(20)}

    def z(id, status, code, field, content, **form):
        return BadUpload(id, status, code, field, files={"file": ("images.zip", content)}, form=form)

    def plus(name: str, data: bytes = b"x") -> bytes:
        return zip_bytes({**members, name: data})

    return [
        z("zip-truncated", 422, "parse_error", "file", good[: len(good) // 2]),
        z("zip-empty-archive", 422, "no_images", "file", zip_bytes({})),
        z("zip-no-images", 422, "no_images", "file", zip_bytes({"readme.txt": b"hello"})),
        z("zip-traversal", 422, "unsafe_path", "file", plus("../x/a.png")),
        z("zip-traversal-inside", 422, "unsafe_path", "file", plus("cat/../../a.png")),
        z("zip-traversal-backslash", 422, "unsafe_path", "file", plus("..\\x\\a.png")),
        z("zip-absolute-path", 422, "unsafe_path", "file", plus("/etc/cat/a.png")),
        z("zip-drive-letter", 422, "unsafe_path", "file", plus("C:/cat/a.png")),
        z("zip-too-many-members", 422, "archive_too_large", "file", zip_bytes(many, zipfile.ZIP_STORED)),
        z("zip-too-many-members-understated", 422, "archive_too_large", "file",
          patch_zip(zip_bytes(many, zipfile.ZIP_STORED), declared_entries=1)),
        z("zip-declared-total-over-limit", 422, "archive_too_large", "file",
          patch_zip(zip_bytes({f"cat/{i}.png": b"x" * 100 for i in range(3)}), file_size=0xFFFFFFF0)),
        z("zip-declared-ratio-bomb", 422, "archive_too_large", "file",
          patch_zip(zip_bytes({"cat/a.png": b"x" * 100}), file_size=0x7FFFFFFF)),
        z("zip-pixel-bomb", 422, "archive_too_large", "file", zip_bytes(bombs)),
        z("zip-nested-zip", 422, "no_images", "file", zip_bytes({"cat/inner.zip": good})),
        z("zip-encrypted", 422, "encrypted_archive", "file", patch_zip(good, flag_bits=0x1)),
        z("zip-unknown-compression", 422, "unsupported_compression", "file", patch_zip(good, method=99)),
        z("zip-corrupt-deflate", 422, "corrupt_image", "file", corrupt_member_data(good, "dog/3.png")),
        z("zip-corrupt-image", 422, "corrupt_image", "file", plus("cat/broken.png", b"\x89PNG not really")),
        z("zip-png-decompression-bomb", 422, "corrupt_image", "file", plus("cat/huge.png", png_header(30000, 30000))),
        z("zip-images-outside-class-folders", 422, "no_class_folder", "file", plus("loose.png", png_bytes())),
        z("zip-single-class", 422, "single_class", "labels", zip_bytes(image_members(classes=("cat",)))),
        z("zip-sent-as-npz", 422, "missing_label_column", "y", good, format="npz"),
    ]


def _multipart_entries() -> list[BadUpload]:
    good = csv_bytes()
    big = b"f0,label\n" + b"1,0\n2,1\n" * (TEST_MAX_UPLOAD_BYTES // 8 + 1000)
    return [
        BadUpload("upload-over-the-limit", 413, "too_large", "file", files={"file": ("big.csv", big)}),
        BadUpload("upload-over-the-limit-chunked", 413, "too_large", "file",
                  raw=multipart([("file", "big.csv", big)]), chunked=True),
        BadUpload("multipart-no-file-part", 422, "missing", "file", raw=multipart([("name", None, b"no file")])),
        BadUpload("multipart-unexpected-file-field", 422, "unexpected_field", "other",
                  files={"other": ("a.csv", good)}),
        BadUpload("multipart-file-twice", 422, "duplicate_field", "file",
                  raw=multipart([("file", "a.csv", good), ("file", "b.csv", good)])),
        BadUpload("multipart-no-closing-boundary", 422, "invalid_multipart", "file",
                  raw=multipart([("file", "a.csv", good)], close=False)),
        BadUpload("multipart-not-multipart-inside", 422, "invalid_multipart", "file",
                  raw=(b"this is not a multipart body at all", "multipart/form-data; boundary=xyz")),
        BadUpload("multipart-no-boundary", 415, "unsupported_media_type", "file",
                  raw=(good, "multipart/form-data")),
        BadUpload("multipart-huge-part-header", 422, "invalid_multipart", "file",
                  raw=(b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + b"a" * 20_000
                       + b".csv\"\r\n\r\n" + good + b"\r\n--b--\r\n", "multipart/form-data; boundary=b")),
        BadUpload("multipart-too-many-parts", 422, "too_many_parts", "f31",
                  raw=multipart([("file", "a.csv", good)] + [(f"f{i}", None, b"x") for i in range(40)])),
        BadUpload("not-multipart-json", 415, "unsupported_media_type", "file",
                  raw=(b'{"name": "x"}', "application/json")),
    ]


def build_corpus() -> list[BadUpload]:
    """Every entry, each id unique."""
    entries = (_csv_entries() + _parquet_entries() + _npz_entries() + _idx_entries() + _pred_probs_entries()
               + _zip_entries() + _multipart_entries())
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)), "corpus ids must be unique"
    return entries


CORPUS: list[BadUpload] = build_corpus()
