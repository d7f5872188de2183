"""What the benches that run each method in a fresh child process share: peak memory and running a child.

A child resets its peak resident set after its imports (:func:`reset_peak`), runs the
method, and prints one JSON line with :func:`peak_bytes`; the parent runs it with
:func:`run_child` and reads that line back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes (0 where there is none)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak() -> bool:
    """Reset this process's ``VmHWM`` to its current resident set; whether that was possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_bytes(reset: bool) -> int:
    """The peak resident set since :func:`reset_peak` (when ``reset`` worked), else since the process began."""
    if reset and status_bytes("VmHWM"):
        return status_bytes("VmHWM")
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_child(module: str, args: list[str], *, prefix: str, timeout: float = 3600) -> dict:
    """Run ``python -m module --workdir <fresh temp dir> *args`` from the repository root; its last line as JSON.

    ``{"error": ...}`` when it fails or runs past ``timeout`` seconds; the temp dir is removed.
    """
    work = Path(tempfile.mkdtemp(prefix=prefix))
    cmd = [sys.executable, "-m", module, *args, "--workdir", str(work)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {proc.returncode}: {tail[0][:120]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load_average() -> str:
    """The 1- and 5-minute load averages, for the benches' notes on how busy the machine was."""
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (5 min {five:.2f})"
