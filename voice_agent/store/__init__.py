"""Call records: tables (models), schema migrations, the event writer, queries, retention."""

from voice_agent.store.queries import CallStore
from voice_agent.store.writer import StoreWriter

__all__ = ["CallStore", "StoreWriter"]
