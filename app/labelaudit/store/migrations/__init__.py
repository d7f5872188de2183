"""Alembic migrations, shipped inside the package and applied at start-up.

:func:`upgrade` runs ``alembic upgrade head`` programmatically on an engine; on
PostgreSQL an advisory lock keeps an API and several workers starting together
from migrating at the same time.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
_LOCK_ID = 7_316_402_215


def alembic_config(url: str | None = None):
    """An Alembic ``Config`` pointing at this folder (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
