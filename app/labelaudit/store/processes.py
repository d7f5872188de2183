"""Which process owns a temporary file: ``<pid>.<start>`` tags in file names, and whether that process is gone.

The start time (``/proc/<pid>/stat``, clock ticks since boot) tells a restarted server that got
the same pid as a killed one (usual in containers) from the killed one.
"""

from __future__ import annotations

import os

from labelaudit.core.cpubudget import start_ticks


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
