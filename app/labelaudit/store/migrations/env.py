"""Alembic environment: uses the connection handed over by :func:`labelaudit.store.migrations.upgrade`,
else the URL from the config or ``LABELAUDIT_DATABASE_URL``."""

from alembic import context
from sqlalchemy import create_engine

from labelaudit.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # command-line use: `alembic -c ... upgrade head`
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from labelaudit.config import get_settings

        url = get_settings().resolved_database_url
    with create_engine(url).begin() as conn:
        _run(conn)
