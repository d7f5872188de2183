"""labelaudit: which of my labels are wrong, and how many?

Cross-validated predicted probabilities and confident-learning (cleanlab)
rankings of label issues, as a library, a command and a REST service.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labelaudit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
