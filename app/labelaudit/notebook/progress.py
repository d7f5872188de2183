"""A progress bar for an audit in this process: tqdm's, which draws itself in Jupyter and on a terminal."""

from __future__ import annotations

from labelaudit.core.progress import Progress


class AuditProgressBar:
    """Shows an audit's :class:`~labelaudit.core.progress.Progress` (0-100%, stage, fold, epoch); nothing at all
    when not ``enabled``."""

    def __init__(self, *, enabled: bool = True):
        self.enabled = enabled
        self._bar = None

    def __enter__(self) -> AuditProgressBar:
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=100, desc="auditing", unit="%", bar_format="{l_bar}{bar}| {n:.0f}% {postfix}")
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()

    def __call__(self, progress: Progress) -> None:
        if self._bar is None:
            return
        where = []
        if progress.fold is not None:
            where.append(f"fold {progress.fold}/{progress.folds}")
        if progress.epoch is not None:
            where.append(f"epoch {progress.epoch}/{progress.epochs}")
        self._bar.set_description_str(progress.stage, refresh=False)
        self._bar.set_postfix_str(", ".join(where) or progress.message, refresh=False)
        self._bar.n = round(100.0 * progress.fraction, 1)
        self._bar.refresh()
