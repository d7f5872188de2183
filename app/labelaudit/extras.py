"""The optional parts of labelaudit, and the one message for each when it is missing.

``pip install labelaudit`` is the light core (tables, text, pred_probs, the CLI, the Python API, the REST
client). Images and the torch backbones need ``labelaudit[torch]``; ``serve``, ``worker`` and ``keys`` need
``labelaudit[server]``; the Ray executor ``labelaudit[ray]``.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec

from labelaudit.errors import MissingExtra

#: extra -> the modules that must import for it (the first one missing is named in the message)
EXTRAS: dict[str, tuple[str, ...]] = {
    "torch": ("torch", "PIL"),
    "server": ("fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "multipart", "prometheus_client"),
    "ray": ("ray",),
}


@cache
def has_module(module: str) -> bool:
    """Whether ``module`` can be imported here (found on the path; not imported)."""
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def install_hint(extra: str) -> str:
    """The command that installs ``extra``."""
    return f'pip install "labelaudit[{extra}]"'


def require(extra: str, what: str, *, field: str | None = None, modules: tuple[str, ...] | None = None) -> None:
    """Raise :class:`~labelaudit.errors.MissingExtra` unless ``extra``'s modules (or ``modules``) are installed.

    ``what`` says what needed it, e.g. ``"the 'cnn' backbone"``; the message names the package that is
    missing and the exact install command.
    """
    for module in modules or EXTRAS[extra]:
        if not has_module(module):
            raise MissingExtra(f"{what} needs the {extra!r} extra ({module} is not installed): "
                               f"{install_hint(extra)}", field=field)
