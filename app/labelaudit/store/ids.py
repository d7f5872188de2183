"""Time-ordered ids: a prefix, 12 hex digits of milliseconds, 8 random hex digits.

Ids sort by creation time, so lists page by id (keyset) without a second key.
"""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    """A new id such as ``ds_018c2f1a9b3e5f0c1d2e``."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(4)}"
