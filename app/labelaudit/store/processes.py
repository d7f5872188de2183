"""Which process owns a temporary file: ``<pid>.<start>`` tags in file names, and whether that process is gone.

The start time (``/proc/<pid>/stat``, clock ticks since boot) tells a restarted server that got
the same pid as a killed one (usual in containers) from the killed one.
"""

from __future__ import annotations

import os
from pathlib import Path


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot; 0 when unknown), or ``None`` when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # pragma: no cover - no /proc: ask the kernel whether the pid lives
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


def process_tag() -> str:
    """This process as the owner of temporary files: ``<pid>.<start>``."""
    pid = os.getpid()
    return f"{pid}.{start_ticks(pid) or 0}"


def is_gone(tag: str) -> bool:
    """Whether the process a :func:`process_tag` names has ended (its pid is free, or taken by a newer process)."""
    pid, _, start = tag.partition(".")
    ticks = start_ticks(int(pid))
    if ticks is None:
        return True
    return start.isdigit() and int(start) != 0 and ticks != 0 and ticks != int(start)
