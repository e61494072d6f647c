"""Settings for the operator tests: one operator account, call records in a file of the test's."""

from __future__ import annotations

from pathlib import Path

from voice_agent.operator.auth import hash_password

PASSWORD = "correct horse battery staple"
HASH = hash_password(PASSWORD)


def operator_settings(settings, users: dict[str, str] | None = None, db: Path | None = None,
                      **operator):
    """`settings` with operator alice (PASSWORD) unless `users` says otherwise; with `db`, the
    call records go to that SQLite file (else storage is off)."""
    op = settings.operator.model_copy(
        update={"users": {"alice": HASH} if users is None else users, **operator})
    storage = settings.storage.model_copy(
        update={"enabled": db is not None, "url": f"sqlite:///{db}" if db else "sqlite://"})
    return settings.model_copy(update={"operator": op, "storage": storage})
