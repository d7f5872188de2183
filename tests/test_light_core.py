"""The light core: the built wheel installed without extras into a fresh virtual environment.

There, `labelaudit check` gates a table and `labelaudit.audit` audits a DataFrame without torch, the
server stack or Ray being installed or imported, and asking for what an extra provides (a torch backbone,
images, `serve`, `worker`, `keys`) names the exact `pip install "labelaudit[...]"`. The install takes the
core's wheels from pip's cache (filled by `make setup`) or the package index.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.service_fixtures import csv_bytes, digits_arrays

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints-cpu.txt"


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, env={**env, "CI": "1"},
                          **kw)


@pytest.fixture(scope="module")
def core_env(tmp_path_factory) -> Path:
    """A fresh venv with `pip install labelaudit` (the wheel built from this checkout, no extras)."""
    tmp = tmp_path_factory.mktemp("light-core")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist",
                  ROOT])
    assert built.returncode == 0, built.stderr
    wheel = next((tmp / "dist").glob("labelaudit-*.whl"))
    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", venv])
    assert made.returncode == 0, made.stderr
    installed = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", "--only-binary", ":all:",
                      "--disable-pip-version-check", "-c", CONSTRAINTS, wheel])
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


def test_the_core_installs_no_torch_and_no_server(core_env):
    probe = _run([core_env / "bin" / "python", "-c",
                  "import importlib.util as u; print([m for m in ('torch', 'fastapi', 'sqlalchemy', 'uvicorn', "
                  "'alembic', 'psycopg', 'ray', 'PIL') if u.find_spec(m)])"])
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


def test_check_gates_a_table_without_extras(core_env, tmp_path):
    table = tmp_path / "digits.csv"
    table.write_bytes(csv_bytes(400))
    gate = _run([core_env / "bin" / "labelaudit", "check", table, "--max-issue-rate", "0.5",
                 "--json", tmp_path / "report.json"])
    assert gate.returncode == 0, gate.stderr
    assert (tmp_path / "report.json").exists()
    strict = _run([core_env / "bin" / "labelaudit", "check", table, "--max-issues", "0"])
    assert strict.returncode in (0, 1) and "Traceback" not in strict.stderr


def test_the_python_api_audits_a_dataframe_without_torch(core_env, tmp_path):
    (tmp_path / "app.py").write_text("raise SystemExit('a stray app.py must not be imported')\n")
    code = """
import sys
import pandas as pd
import labelaudit
from labelaudit.errors import MissingExtra
from sklearn.datasets import load_digits
d = load_digits(as_frame=True)
df = d.frame.rename(columns={"target": "digit"})
result = labelaudit.audit(df, label="digit", folds=3, progress=False)
assert len(result.issues) == len(df) and result.summary["backbone"] == "gbt", result.summary["backbone"]
heavy = [m for m in ("torch", "fastapi", "sqlalchemy", "uvicorn", "ray") if m in sys.modules]
assert not heavy, heavy
try:
    labelaudit.audit(df, label="digit", backbone="mlp", progress=False)
except MissingExtra as exc:
    print("MESSAGE", exc.message, exc.field)
"""
    ran = _run([core_env / "bin" / "python", "-c", code], cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "MESSAGE the 'mlp' backbone needs the 'torch' extra" in ran.stdout
    assert 'pip install "labelaudit[torch]" backbone' in ran.stdout


def _image_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name in ("cats/a.png", "dogs/b.png"):
            z.writestr(name, b"\x89PNG\r\n\x1a\n not really")
    return path


@pytest.mark.parametrize("args, extra", [
    (["serve"], "server"),
    (["worker"], "server"),
    (["keys", "list"], "server"),
    (["audit", "{table}", "--backbone", "cnn"], "torch"),
    (["audit", "{npz}"], "torch"),
    (["audit", "{zip}"], "torch"),
])
def test_what_needs_an_extra_says_which(core_env, tmp_path, args, extra):
    table = tmp_path / "t.csv"
    table.write_bytes(csv_bytes(100))
    X, y = digits_arrays(100)
    np.savez(tmp_path / "images.npz", X=X.reshape(-1, 8, 8).astype(np.uint8), y=y)
    paths = {"table": table, "npz": tmp_path / "images.npz", "zip": _image_zip(tmp_path / "images.zip")}
    ran = _run([core_env / "bin" / "labelaudit", *[a.format(**paths) for a in args]])
    assert ran.returncode == 2, (ran.stdout, ran.stderr)
    assert f'pip install "labelaudit[{extra}]"' in ran.stderr and "Traceback" not in ran.stderr


def test_penguins_in_a_notebook_and_through_the_client_give_the_same_rows(core_env, live_server, tmp_path):
    """The notebook issue's test, in the core's fresh venv from a folder holding an ``app.py``: the real
    penguins table as pandas writes it (its unnamed index, strings, missing values, and three blank labels
    added), audited here and by a running service, rows keyed by the DataFrame's index alike."""
    palmerpenguins = pytest.importorskip("palmerpenguins")
    df = palmerpenguins.load_penguins()
    df.loc[[3, 50, 200], "species"] = ["", None, "  "]
    df.to_csv(tmp_path / "penguins.csv")
    (tmp_path / "app.py").write_text("raise SystemExit('a stray app.py must not be imported')\n")
    code = f"""
import pandas as pd
import labelaudit
df = pd.read_csv("penguins.csv")
local = labelaudit.audit(df, label="species", progress=False).issues
remote = labelaudit.Client({live_server!r}).audit(df, label="species", progress=False).issues
assert list(remote.index) == list(local.index)
assert remote["given_label"].tolist() == local["given_label"].tolist()
assert set(local.index) == set(df.index) - {{3, 50, 200}}
print("ROWS", len(local), int(local["is_issue"].sum()))
"""
    ran = _run([core_env / "bin" / "python", "-c", code], cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "ROWS 341" in ran.stdout
