"""A progress bar for the client's round trip that works in Jupyter and on a terminal (tqdm), or nothing."""

from __future__ import annotations


class ProgressBar:
    """Upload bytes, then the audit's fraction (0-100%), in one tqdm bar; silent when not ``enabled``."""

    def __init__(self, *, enabled: bool = True):
        self.enabled = enabled
        self._bar = None

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=100, desc="uploading", unit="%", bar_format="{l_bar}{bar}| {n:.0f}% {postfix}")
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()

    def upload(self, sent: int, total: int) -> None:
        """``(bytes sent, total bytes)`` of the upload."""
        self._set(100.0 * sent / total if total else 100.0, "uploading", f"{sent / 1e6:.1f}/{total / 1e6:.1f} MB")

    def poll(self, progress: dict) -> None:
        """One poll's ``progress`` object of the audit."""
        text = progress.get("message") or progress.get("stage") or progress.get("status") or ""
        self._set(100.0 * float(progress.get("fraction") or 0.0), f"auditing ({progress.get('status')})", text)

    def _set(self, value: float, desc: str, postfix: str) -> None:
        if self._bar is None:
            return
        if self._bar.desc != desc:
            self._bar.set_description_str(desc, refresh=False)
            self._bar.reset(total=100)
        self._bar.n = value
        self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.refresh()
