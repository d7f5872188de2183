"""The notebook face of labelaudit: a DataFrame (or a path, or arrays) in, a ranked DataFrame out.

:func:`audit` runs an audit in this process and returns an :class:`AuditResult` whose
:attr:`~AuditResult.issues` DataFrame is keyed by the input's index; :func:`inject_noise`
returns a copy of a DataFrame with controlled label noise and a ``true_label`` column.
The package's top level re-exports both (``labelaudit.audit(df, label="species")``).
"""

from __future__ import annotations

from labelaudit.notebook.audit import audit
from labelaudit.notebook.noise import inject_noise
from labelaudit.notebook.result import AuditResult

__all__ = ["AuditResult", "audit", "inject_noise"]
