"""Progress reports from long audit steps, and cancellation checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional

from labelaudit.errors import AuditCancelled


@dataclass(frozen=True)
class Progress:
    """Where a running audit is.

    ``fraction`` runs from 0 to 1 over the whole audit; ``fold``/``epoch`` are
    1-based while training and ``None`` outside it.
    """

    stage: str
    fraction: float
    fold: Optional[int] = None
    folds: Optional[int] = None
    epoch: Optional[int] = None
    epochs: Optional[int] = None
    message: str = ""
    member: Optional[int] = None  # 1-based model of an ensemble (None without one)
    members: Optional[int] = None

    def to_dict(self) -> dict:
        return asdict(self)


ProgressCallback = Callable[[Progress], None]
StopCheck = Callable[[], bool]


def report(callback: ProgressCallback | None, progress: Progress) -> None:
    """Send ``progress`` to ``callback`` when there is one."""
    if callback is not None:
        callback(progress)


def check_stop(should_stop: StopCheck | None) -> None:
    """Raise :class:`AuditCancelled` when the caller asked to stop."""
    if should_stop is not None and should_stop():
        raise AuditCancelled("the audit was cancelled")
