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

__all__ = ["AuditResult", "Client", "__version__", "audit", "inject_noise"]


def __getattr__(name: str):
    # The public names load on first use, so `import labelaudit` stays light (no httpx, pandas or
    # scikit-learn until they are used).
    if name == "Client":
        from labelaudit.client import Client

        return Client
    if name in ("AuditResult", "audit", "inject_noise"):
        import labelaudit.notebook

        return getattr(labelaudit.notebook, name)
    raise AttributeError(f"module 'labelaudit' has no attribute {name!r}")
