"""Engine from a URL, and the schema brought to the newest alembic revision at start-up.

SQLite is the default (a file relative to the repository root, or `sqlite://` in memory);
PostgreSQL by URL (`postgresql+psycopg://user@host:5432/db`; `?options=-csearch_path%3Dname`
puts the tables in a schema of their own). Several workers may start at once: the upgrade is
serialised by a PostgreSQL advisory lock, or a lock file beside the SQLite database.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from voice_agent.config import REPO_ROOT

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_ID = 7_412_001  # any constant shared by every worker


def resolve_url(url: str) -> str:
    """Relative SQLite paths are relative to the repository root (like every path in config)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    path = Path(parsed.database)
    if not path.is_absolute():
        path = REPO_ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = resolve_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    in_memory = not parsed.database or parsed.database == ":memory:"
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30},
        # one shared connection, or every thread would see its own empty in-memory database
        poolclass=StaticPool if in_memory else None,
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")  # readers (operator page) don't block the writer
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


@contextmanager
def _sqlite_file_lock(engine: Engine):
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(engine: Engine, revision: str = "head") -> None:
    """`alembic upgrade head`, programmatically, one worker at a time."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_ID})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return
    with _sqlite_file_lock(engine), engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
