"""Streaming uploads of `labelaudit check --server`: exact multipart bytes, bounded client memory, progress."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc

import httpx
import numpy as np
import pytest
from python_multipart.multipart import MultipartParser, parse_options_header
from rich.console import Console

from labelaudit.client import Client
from labelaudit.client.multipart import MultipartBody
from labelaudit.console import ProgressDisplay


def parse(body: bytes, content_type: str) -> dict[str, tuple[dict, bytes]]:
    """The parts of a multipart body: field name -> (content-disposition parameters, bytes)."""
    _, params = parse_options_header(content_type)
    parts: dict[str, tuple[dict, bytes]] = {}
    state = {"headers": {}, "name": b"", "value": b"", "data": bytearray()}

    def on_header_field(data, start, end):
        state["name"] += data[start:end]

    def on_header_value(data, start, end):
        state["value"] += data[start:end]

    def on_header_end():
        state["headers"][state["name"].lower()] = state["value"]
        state["name"], state["value"] = b"", b""

    def on_part_data(data, start, end):
        state["data"] += data[start:end]

    def on_part_end():
        _, opts = parse_options_header(state["headers"][b"content-disposition"])
        parts[opts[b"name"].decode()] = ({k.decode(): v.decode() for k, v in opts.items()}, bytes(state["data"]))
        state.update(headers={}, data=bytearray())

    parser = MultipartParser(params[b"boundary"], {"on_header_field": on_header_field,
                                                   "on_header_value": on_header_value, "on_header_end": on_header_end,
                                                   "on_part_data": on_part_data, "on_part_end": on_part_end})
    parser.write(body)
    parser.finalize()
    return parts


def test_body_is_valid_multipart_with_exact_length(tmp_path):
    data, labels = tmp_path / 'pyx "odd"\\name.npy', tmp_path / "labels.npy"
    data.write_bytes(os.urandom(3_000_001))
    labels.write_bytes(b"\x93NUMPY labels")
    seen = []
    body = MultipartBody({"name": "a set", "label_column": "lab\u00e9l"}, {"file": data, "labels_file": labels},
                         chunk_size=65_536, progress=lambda sent, total: seen.append((sent, total)))
    raw = b"".join(body)
    assert len(raw) == len(body) == body.total == int(body.headers["Content-Length"])
    parts = parse(raw, body.content_type)
    assert parts["name"][1] == b"a set" and parts["label_column"][1] == "lab\u00e9l".encode()
    assert parts["file"][1] == data.read_bytes() and parts["labels_file"][1] == labels.read_bytes()
    assert parts["file"][0]["filename"] == 'pyx %22odd%22\\name.npy'  # quotes escaped as browsers and httpx do
    sent = [s for s, _ in seen]
    assert sent == sorted(sent) and seen[-1] == (body.total, body.total) and len(seen) > 40


def test_large_upload_streams_in_bounded_memory_with_progress(tmp_path):
    """A 64 MB file goes out through httpx piece by piece: traced memory stays a few MB, progress reaches 100%."""
    size = 64 * 1024 * 1024
    path = tmp_path / "big_pyx.npy"
    with open(path, "wb") as fh:
        block = os.urandom(1024 * 1024)
        for _ in range(size // len(block)):
            fh.write(block)
    received = {"bytes": 0, "hash": hashlib.sha256(), "length": None, "type": None}

    def server(request: httpx.Request) -> httpx.Response:
        received["length"] = int(request.headers["content-length"])
        received["type"] = request.headers["content-type"]
        assert "transfer-encoding" not in request.headers
        for chunk in request.stream:  # the body as it is sent, never joined
            assert len(chunk) <= 2 * 1024 * 1024, "the body came in big pieces"
            received["bytes"] += len(chunk)
            received["hash"].update(chunk)
        return httpx.Response(201, json={"id": "ds_1"})

    class Sink(httpx.BaseTransport):  # unlike httpx.MockTransport, does not read the whole body first
        def handle_request(self, request):
            return server(request)

    progress = []
    tracemalloc.start()
    try:
        with Client("http://labelaudit.test", transport=Sink()) as client:
            dataset_id = client.upload(path, progress=lambda sent, total: progress.append((sent, total)))["id"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dataset_id == "ds_1"
    assert peak < 8 * 1024 * 1024, f"client peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB upload"
    assert received["bytes"] == received["length"] > size
    assert progress[-1] == (received["length"], received["length"])
    assert all(a[0] <= b[0] for a, b in zip(progress, progress[1:]))
    # what arrived is the multipart body of the file, byte for byte
    boundary = received["type"].split("boundary=")[1]
    expected = hashlib.sha256()
    for piece in MultipartBody({"name": path.name, "label_column": "label"}, {"file": path}, boundary=boundary):
        expected.update(piece)
    assert received["hash"].hexdigest() == expected.hexdigest()


def test_upload_to_the_service_stores_the_exact_file(client, tmp_path):
    from tests.service_fixtures import synthetic_pred_probs

    P, y = synthetic_pred_probs(400)
    data, labels = tmp_path / "p_pyx.npy", tmp_path / "p_labels.npy"
    np.save(data, P)
    np.save(labels, y)
    seen = []
    dataset_id = Client("http://testserver", transport=client._transport).upload(
        data, labels=labels, progress=lambda sent, total: seen.append((sent, total)))["id"]
    got = client.get(f"/v1/datasets/{dataset_id}").json()
    assert got["rows"] == 400 and got["modality"] == "pred_probs"
    assert got["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert seen[-1][0] == seen[-1][1]


def test_a_file_that_changes_while_sent_fails(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 100_000)
    body = MultipartBody({}, {"file": path}, chunk_size=10_000)
    pieces = iter(body)
    next(pieces)
    with open(path, "ab") as fh:
        fh.write(b"more")
    with pytest.raises(OSError, match="grew"):
        list(pieces)


def test_progress_display_shows_upload_lines_off_a_terminal():
    out = io.StringIO()
    with ProgressDisplay(Console(file=out, width=120), live=False) as progress:
        progress.upload(0, 2_000_000)
        progress.upload(1_000_000, 2_000_000)
        progress.upload(2_000_000, 2_000_000)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[  0.0%] uploading") and "100.0%" in lines[-1] and "2.0 MB of 2.0 MB" in lines[-1]
    quiet = io.StringIO()
    with ProgressDisplay(Console(file=quiet), enabled=False) as progress:
        progress.upload(5, 10)
    assert quiet.getvalue() == ""


def test_progress_display_bar_on_a_terminal():
    out = io.StringIO()
    with ProgressDisplay(Console(file=out, width=120, force_terminal=True), live=True) as progress:
        progress.upload(1_000_000, 2_000_000)
        progress.upload(2_000_000, 2_000_000)
        assert progress._bar.tasks[-1].completed == 2_000_000 and progress._bar.tasks[-1].finished


def test_pred_probs_files_are_streamed_without_a_local_load(tmp_path):
    from labelaudit.check.remote import is_pred_probs_npy as _is_pred_probs_npy

    npy, csv = tmp_path / "p.npy", tmp_path / "d.csv"
    np.save(npy, np.eye(3, dtype=np.float32))
    csv.write_text("a,label\n1,x\n")
    assert _is_pred_probs_npy(npy, None) and not _is_pred_probs_npy(csv, None)
    assert _is_pred_probs_npy(csv, "pred-probs") and not _is_pred_probs_npy(npy, "csv")
    assert not _is_pred_probs_npy(tmp_path / "missing.npy", None)
