"""Streamed pred_probs ingest: the results of the whole-array code, in bounded memory.

From a path, ``.npy`` pred_probs (and an uncompressed NPZ member) are memory-mapped and
checked in row chunks; rows needing repair go to an unlinked temporary file. These tests
pin that every outcome (arrays, error code, field and message) equals the previous
whole-array code's, replayed below, with chunks small enough that errors land in later
chunks; and, in a fresh process, that ingesting and storing an 80 MB array keeps the
peak resident set well below the array's size.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from labelaudit.core.ingest import IngestLimits, from_pred_probs, load_dataset, read_npz, read_pred_probs
from labelaudit.core.ingest import pred_probs as pred_probs_module
from labelaudit.core.ingest.labels import label_values
from labelaudit.core.mapped import is_mapped
from labelaudit.errors import IngestError
from labelaudit.store.artifacts import ArtifactStore

ROOT = Path(__file__).resolve().parents[2]
N, K = 600, 13


def old_pred_probs(pred_probs, labels) -> np.ndarray:
    """The pred_probs checks and repair of ``from_pred_probs`` before streaming, on the whole array."""
    P = np.asarray(pred_probs)
    n, k = P.shape
    y = np.asarray(labels)
    if y.shape[0] != n:
        raise IngestError(f"pred_probs has {n} rows but labels has {y.shape[0]}", field="labels",
                          code="length_mismatch")
    y = label_values(y, "labels")
    if n and (y.min() < 0 or y.max() >= k):
        raise IngestError(f"labels must lie in 0..{k - 1} (one per pred_probs column)", field="labels",
                          code="label_out_of_range")
    P = P.astype(np.float32 if P.dtype == np.float32 else np.float64, copy=False)
    finite = np.isfinite(P).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise IngestError(f"row {row} has NaN or infinity", field="pred_probs", code="non_finite")
    tol = pred_probs_module.PRED_PROBS_TOLERANCE
    out_of_range = (P < -tol).any(axis=1) | (P > 1 + tol).any(axis=1)
    if out_of_range.any():
        row = int(np.flatnonzero(out_of_range)[0])
        raise IngestError(f"row {row} has values outside [0, 1] ({int(out_of_range.sum())} such rows)",
                          field="pred_probs", code="out_of_range")
    sums = P.sum(axis=1)
    bad = np.abs(sums - 1.0) > tol
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise IngestError(f"row {row} sums to {sums[row]:.6g}, not 1 ({int(bad.sum())} such rows)",
                          field="pred_probs", code="not_normalised")
    if (P < 0).any() or (P > 1).any() or (np.abs(sums - 1.0) > 1e-7).any():
        P = np.clip(P, 0.0, 1.0)
        P = P / P.sum(axis=1, keepdims=True)
    return P


def dyadic(n: int = N, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 1/2, 1/4, ... (exact in float32, summing to exactly 1: nothing to repair), rolled to the label."""
    row = 0.5 ** np.arange(1, k + 1)
    row[-1] = row[-2]
    y = np.arange(n) % k
    return np.stack([np.roll(row, c) for c in y]), y


def softmax(n: int = N, k: int = K, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    logits = np.random.default_rng(seed).normal(0, 2, (n, k))
    P = np.exp(logits)
    return P / P.sum(axis=1, keepdims=True), np.arange(n) % k


def case(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(pred_probs, labels)`` as float64; the faults sit in later chunks (and in several of them)."""
    P, y = softmax() if name == "softmax" else dyadic()
    if name == "repair":  # within the tolerance: clipped and renormalised
        P[401, 0] += 5e-5
        P[457, 1] += P[457, 0] + 5e-5
        P[457, 0] = -5e-5
        P[590, 2] += 2e-5
    elif name == "nan":  # NaN wins over an earlier out-of-range row
        P[3] = [1.5, -0.5] + [0.0] * (K - 2)
        P[451, 4] = np.nan
    elif name == "inf":
        P[588, 0] = np.inf
    elif name == "out_of_range":  # counted over all chunks; wins over an earlier unnormalised row
        P[10] *= 1.01
        P[307] = [1.5, -0.5] + [0.0] * (K - 2)
        P[540] = [-0.25, 1.25] + [0.0] * (K - 2)
    elif name == "not_normalised":
        P[333] *= 1.01
        P[598] *= 0.98
    elif name == "label_out_of_range":
        y = y.copy()
        y[590] = K
    elif name == "length_mismatch":
        y = y[:-1]
    return P, y


#: each case and the start of what the whole-array code gives: an error's code and message, or "ok"
CASES = {
    "valid": "ok", "softmax": "ok", "repair": "ok",
    "nan": ("non_finite", "row 451 has NaN"), "inf": ("non_finite", "row 588 has NaN"),
    "out_of_range": ("out_of_range", "row 307 has values outside [0, 1] (2 such rows)"),
    "not_normalised": ("not_normalised", "row 333 sums to 1.01, not 1 (2 such rows)"),
    "label_out_of_range": ("label_out_of_range", "labels must lie in 0..12"),
    "length_mismatch": ("length_mismatch", "pred_probs has 600 rows but labels has 599"),
}
#: how the file stores the array: native float32 / float64, big-endian (read as float64), Fortran order
LAYOUTS = ["<f4", "<f8", ">f4", "F<f8", "F<f4"]


def stored_as(P: np.ndarray, layout: str) -> np.ndarray:
    order = "F" if layout.startswith("F") else "C"
    return np.array(P, dtype=layout.lstrip("F"), order=order)


def npy_bytes(P: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, P)
    return buf.getvalue()


def outcome(fn):
    """What ``fn()`` gives: the pred_probs array, or the error as (code, field, message)."""
    try:
        return fn()
    except IngestError as exc:
        return (exc.code, exc.field, exc.message)


def assert_same(got, want) -> None:
    if isinstance(want, tuple):
        assert got == want
        return
    assert not isinstance(got, tuple), got
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few rows, so a 600-row array spans hundreds of them."""
    monkeypatch.setattr(pred_probs_module, "PRED_PROBS_CHUNK_BYTES", 256)


@pytest.fixture
def temp_dir(tmp_path) -> Path:
    """Where repaired copies go; every test checks it is empty afterwards."""
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", CASES)
def test_streamed_equals_whole_array(name, layout, small_chunks, tmp_path, temp_dir):
    P, y = case(name)
    P = stored_as(P, layout)
    want = outcome(lambda: old_pred_probs(P, y))
    if CASES[name] == "ok":
        assert not isinstance(want, tuple), want
        if name != "softmax":  # valid native floats are used as they are; the rest is a new array
            assert (want is P) == (name == "valid" and layout != ">f4")
    else:
        assert want[0] == CASES[name][0] and want[2].startswith(CASES[name][1]), want
    np.save(tmp_path / "p_pyx.npy", P)
    np.save(tmp_path / "p_labels.npy", y)
    np.savez(tmp_path / "stored.npz", pred_probs=P, y=y)
    np.savez_compressed(tmp_path / "deflated.npz", pred_probs=P, y=y)

    def streamed():
        ds = read_pred_probs(tmp_path / "p_pyx.npy", None, temp_dir=temp_dir)
        assert is_mapped(ds.pred_probs)
        return ds.pred_probs

    def mapped_npz():
        ds = read_npz(tmp_path / "stored.npz", temp_dir=temp_dir)
        assert is_mapped(ds.pred_probs)
        return ds.pred_probs

    assert_same(outcome(lambda: from_pred_probs(P, y).pred_probs), want)
    one_row = IngestLimits(min_rows=1)
    assert_same(outcome(lambda: load_dataset(npy_bytes(P), labels=y, limits=one_row, folds=1).pred_probs), want)
    assert_same(outcome(streamed), want)
    assert_same(outcome(mapped_npz), want)
    assert_same(outcome(lambda: read_npz(tmp_path / "deflated.npz").pred_probs), want)
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize("chunk_bytes", [1, 256, 10**9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stored_repair_equals_the_old_formula(chunk_bytes, dtype, monkeypatch, tmp_path, temp_dir):
    """One row per chunk, a few, or one chunk: the stored artifact holds the old repair, as float32."""
    monkeypatch.setattr(pred_probs_module, "PRED_PROBS_CHUNK_BYTES", chunk_bytes)
    P, y = softmax(n=300, k=37, seed=1)
    P = P.astype(dtype)
    P[::7, 0] += 4e-5
    want = old_pred_probs(P, y)
    assert want is not P  # this array needs repair
    np.save(tmp_path / "p_pyx.npy", P)
    np.save(tmp_path / "p_labels.npy", y)
    ds = load_dataset(tmp_path / "p_pyx.npy", temp_dir=temp_dir)
    assert ds.pred_probs.dtype == dtype and np.array_equal(ds.pred_probs, want)
    assert list(temp_dir.iterdir()) == []  # unlinked while still mapped
    store = ArtifactStore(tmp_path / "artifacts")
    back = store.load_dataset(store.put_dataset(ds), class_names=ds.class_names, modality="pred_probs")
    assert back.pred_probs.dtype == np.float32 and np.array_equal(back.pred_probs, want.astype(np.float32))
    assert np.array_equal(back.labels, y)


def test_integer_one_hot_is_converted_chunkwise(small_chunks, tmp_path, temp_dir):
    y = np.arange(N) % K
    P = np.eye(K, dtype=np.int64)[y]
    np.save(tmp_path / "p_pyx.npy", P)
    np.save(tmp_path / "p_labels.npy", y)
    ds = read_pred_probs(tmp_path / "p_pyx.npy", None, temp_dir=temp_dir)
    assert is_mapped(ds.pred_probs)
    assert_same(ds.pred_probs, old_pred_probs(P, y))
    assert list(temp_dir.iterdir()) == []


def test_npz_member_with_a_bad_crc_is_refused_as_before(tmp_path):
    """Mapping a stored member still reads it through zipfile once: a corrupt member is a parse_error."""
    P, y = dyadic()
    path = tmp_path / "d.npz"
    np.savez(path, pred_probs=P, y=y)
    data = bytearray(path.read_bytes())
    at = data.index(P[100].tobytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IngestError) as info:
        read_npz(path)
    assert (info.value.code, info.value.field) == ("parse_error", "pred_probs")
    assert info.value.message == "could not read 'pred_probs.npy' in the NPZ file: Bad CRC-32 for file " \
                                 "'pred_probs.npy'"


def test_no_temp_file_is_left_when_ingest_or_save_fails(monkeypatch, small_chunks, tmp_path):
    from labelaudit.config import get_settings
    from labelaudit.services.datasets import ingest_file
    from labelaudit.store.artifacts import artifact_store, dataset_arrays as load_arrays
    from labelaudit.store.db import open_database

    settings = get_settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                            workers=0, min_rows=10, auth="off")
    db = open_database(settings)
    artifacts = artifact_store(settings)
    P, y = case("repair")
    np.save(tmp_path / "p_pyx.npy", P)
    np.save(tmp_path / "p_labels.npy", y)
    tmp = settings.data_dir / "tmp"

    def upload(**kw):
        return ingest_file(db, artifacts, settings, tmp_path / "p_pyx.npy", sha256="0" * 64, name="p",
                           filename="p_pyx.npy", labels_path=tmp_path / "p_labels.npy", **kw)

    rec = upload()
    assert list(tmp.iterdir()) == []
    assert np.array_equal(load_arrays(artifacts, rec).pred_probs, old_pred_probs(P, y).astype(np.float32))

    def full_disk(ds):
        raise OSError("no space left on device")

    with monkeypatch.context() as m:
        m.setattr(artifacts, "put_dataset", full_disk)  # saving fails with the repaired copy mapped
        with pytest.raises(OSError, match="no space"):
            upload()
    assert list(tmp.iterdir()) == []

    monkeypatch.setattr(settings, "max_classes", 3)  # fails after the repaired copy exists
    with pytest.raises(IngestError, match="classes; the limit is 3"):
        upload()
    assert list(tmp.iterdir()) == []

    original, calls = pred_probs_module._repaired, []

    def failing(block):  # the disk fills up while the repaired copy is written
        calls.append(1)
        if len(calls) > 5:
            raise OSError("no space left on device")
        return original(block)

    monkeypatch.setattr(pred_probs_module, "_repaired", failing)
    with pytest.raises(OSError, match="no space"):
        upload()
    assert list(tmp.iterdir()) == []
    db.dispose()


# --------------------------------------------------------------------------- bounded memory

_CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path

    import numpy as np

    from labelaudit.core.ingest import load_dataset
    from labelaudit.store.artifacts import ArtifactStore

    def status(field):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    data, out, tmp, warm = (Path(a) for a in sys.argv[1:5])
    store = ArtifactStore(out)
    store.put_dataset(load_dataset(warm, temp_dir=tmp))  # imports and first-use allocations, not measured
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        print(json.dumps({"reset": False}))
        sys.exit(0)
    base = status("VmHWM")
    ds = load_dataset(data, temp_dir=tmp)
    digest = store.put_dataset(ds)
    print(json.dumps({"reset": True, "base": base, "peak": status("VmHWM"), "digest": digest,
                      "dtype": str(ds.pred_probs.dtype), "classes": ds.class_names}))
""")


def _write_large(path: Path, n: int, k: int, dtype, *, repair: bool) -> None:
    """A synthetic ``path`` (``*_pyx.npy``) of n x k pred_probs and its ``*_labels.npy``, written in chunks;
    with ``repair``, every row needs renormalising, else none does."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, k))
    step = 20_000
    for i, s in enumerate(range(0, n, step)):
        rng = np.random.default_rng([7, i])
        counts = np.floor(rng.dirichlet(np.ones(k), min(step, n - s)) * 2**20)
        counts[:, -1] += 2**20 - counts.sum(axis=1)
        block = counts / 2**20  # multiples of 2**-20: exact in float32, rows sum to exactly 1
        if repair:
            block[:, 0] += 3e-5  # off by more than 1e-7, within the tolerance: every row is renormalised
        out[s:s + len(block)] = block
    out.flush()
    del out
    np.save(str(path).replace("_pyx", "_labels"), np.arange(n) % k)


@pytest.mark.parametrize("dtype, repair", [(np.float32, False), (np.float64, True)], ids=["float32", "float64-repair"])
def test_ingest_and_store_peak_memory_is_a_fraction_of_the_array(dtype, repair, tmp_path):
    n, k = 200_000, 100
    data = tmp_path / "big_pyx.npy"
    _write_large(data, n, k, dtype, repair=repair)
    warm = tmp_path / "warm_pyx.npy"
    _write_large(warm, 200, 10, dtype, repair=repair)
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(data), str(tmp_path / "artifacts"), str(temp),
                           str(warm)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result["reset"]:
        pytest.skip("/proc/self/clear_refs is not writable: the peak cannot be reset")
    array_bytes = n * k * np.dtype(dtype).itemsize
    growth = result["peak"] - result["base"]
    assert growth < 0.5 * array_bytes, f"peak grew {growth / 1e6:.0f} MB for a {array_bytes / 1e6:.0f} MB array"
    assert result["dtype"] == np.dtype(dtype).name
    assert list(temp.iterdir()) == []

    P = np.load(data, mmap_mode="r")
    want = old_pred_probs(P, np.arange(n) % k) if repair else P
    stored = ArtifactStore(tmp_path / "artifacts").load_dataset(result["digest"], class_names=result["classes"],
                                                                  modality="pred_probs")
    assert stored.pred_probs.dtype == np.float32
    assert np.array_equal(stored.pred_probs, np.asarray(want, dtype=np.float32))
