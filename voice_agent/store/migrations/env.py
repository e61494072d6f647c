"""Alembic environment. Run programmatically by `voice_agent.store.database.migrate` (which hands
over an open connection); `alembic -x url=… upgrade head` from this folder works too."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from voice_agent.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
