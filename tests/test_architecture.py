"""The import contracts in pyproject.toml ([tool.importlinter]) hold: the domain imports no layer above it
and no settings, torch stays in the backbones and one fold's training, the domain's modules form no cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    pytest.importorskip("importlinter")
    # lint-imports of this interpreter, reading pyproject.toml in ROOT; --no-cache: nothing is written there
    run = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                          "lint_imports_command()", "--no-cache"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"an import contract is broken (lint-imports exit {run.returncode}):\n{report}"
    assert "0 broken" in report, report
