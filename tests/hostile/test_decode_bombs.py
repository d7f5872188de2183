"""Decode bombs against a real server: zips of large solid PNGs (a few hundred KB each, 10000 x 10000 RGB = 300 MB
decoded) are refused from their headers, before any pixel is decoded: a fast 422, and the server's peak memory
(its ``VmHWM``) grows by less than ``GROWTH_MB`` (it grew by 2.9 GB before, issue 20). A wide CSV is refused
from its header line. Figures in docs/reliability.md."""

from __future__ import annotations

import io
import os
import struct
import time
import zipfile
import zlib
from pathlib import Path

import httpx
import pytest

from tests.service_fixtures import free_port, service_env, serving

SIDE = 10_000
GROWTH_MB = 100


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    """The database plays no part here."""
    return request.param


def solid_png(side: int = SIDE) -> bytes:
    """A ``side`` x ``side`` RGB PNG of one colour, compressed row by row (never held decoded here either)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\x00" + b"\x80\x20\x10" * side
    body = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def bomb_zip(png: bytes, count: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(count):
            zf.writestr(f"{'ab'[i % 2]}/{i}.png", png)
    return buf.getvalue()


def _server_pid() -> int:
    """The server: this test process's child."""
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            return int(stat.parent.name)
    raise AssertionError("no server process")


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def server(service_settings, tmp_path):
    env = service_env(service_settings, LABELAUDIT_PORT=free_port(), LABELAUDIT_WORKERS=0)
    with serving(env, tmp_path / "server.log") as url:
        yield url


def test_png_bombs_are_refused_from_their_headers(server):
    png = solid_png()
    assert len(png) < 1_000_000
    small = io.BytesIO()
    with zipfile.ZipFile(small, "w") as zf:  # warm-up: Pillow and the upload path loaded, not measured
        tiny = solid_png(8)
        for i in range(12):
            zf.writestr(f"{'ab'[i % 2]}/{i}.png", tiny)
    with httpx.Client(base_url=server, timeout=120) as c:
        assert c.post("/v1/datasets", files={"file": ("warm.zip", small.getvalue())}).status_code == 201
        pid = _server_pid()
        before = _peak_mb(pid)
        figures = []
        for count, code in ((3, "too_few_rows"), (10, "example_too_large"), (12, "archive_too_large")):
            body = bomb_zip(png, count)
            t = time.perf_counter()
            r = c.post("/v1/datasets", files={"file": ("bomb.zip", body)})
            seconds = time.perf_counter() - t
            assert r.status_code == 422 and r.json()["errors"][0]["code"] == code, r.text
            growth = _peak_mb(pid) - before
            figures.append((count, len(body) // 1024, code, round(seconds, 2), round(growth, 1)))
            assert seconds < 5 and growth < GROWTH_MB, figures
        print("\n(images, zip KB, answer, seconds, server peak growth MB):", figures)


def test_a_wide_csv_is_refused_from_its_header(server):
    cols = 99_999
    body = (",".join(f"f{i}" for i in range(cols)) + ",label\n" + "\n".join(
        ",".join(["1"] * cols) + f",{i % 2}" for i in range(14))).encode()
    with httpx.Client(base_url=server, timeout=120) as c:
        t = time.perf_counter()
        r = c.post("/v1/datasets", files={"file": ("wide.csv", body)})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "too_many_columns", r.text
        assert time.perf_counter() - t < 2
