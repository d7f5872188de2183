"""The import contracts in pyproject.toml ([tool.importlinter]) hold: the layers (entry points, api/worker/gate,
services, store, config, domain, vocabulary) import only downwards, the domain imports no settings, torch stays
in the backbones and one fold's training, and nothing in the package forms an import cycle (function-local
imports included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    # lint-imports of this interpreter, reading pyproject.toml in ROOT; --no-cache: nothing is written there
    run = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                          "lint_imports_command()", "--no-cache"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"an import contract is broken (lint-imports exit {run.returncode}):\n{report}"
    assert "0 broken" in report, report
