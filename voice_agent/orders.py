"""The order table: SQLite, seeded from config/orders.yaml. Order replies read only from here.

By default an in-memory database is seeded at start-up (the demo store); `orders_db` in config
names a file instead, seeded only while its table is empty, so a company can load its own data.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

SCHEMA = """CREATE TABLE IF NOT EXISTS orders (
    number TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('processing', 'shipped', 'delivered', 'cancelled')),
    eta_days INTEGER,
    delivered_days_ago INTEGER,
    refund TEXT
)"""
COLUMNS = ("number", "status", "eta_days", "delivered_days_ago", "refund")


@dataclass
class Order:
    number: str
    status: str
    eta_days: int | None = None
    delivered_days_ago: int | None = None
    refund: str | None = None


class OrderTable:
    """Read access to orders by number; safe to share between calls (one lock, one connection)."""

    def __init__(self, db_path: Path | None = None) -> None:
        self._db = sqlite3.connect(str(db_path) if db_path else ":memory:",
                                   check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(SCHEMA)

    def seed(self, yaml_file: Path, only_if_empty: bool = True) -> int:
        """Load orders from the YAML seed file; returns how many rows were written."""
        if not yaml_file.exists():
            return 0
        rows = (yaml.safe_load(yaml_file.read_text(encoding="utf-8")) or {}).get("orders", [])
        with self._lock, self._db:
            if only_if_empty and self._db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]:
                return 0
            self._db.executemany(
                f"INSERT OR REPLACE INTO orders ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
                [tuple(str(r["number"]) if c == "number" else r.get(c) for c in COLUMNS)
                 for r in rows],
            )
        return len(rows)

    def get(self, number: str) -> Order | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM orders WHERE number = ?", (number,)
            ).fetchone()
        return Order(*row) if row else None

    def __contains__(self, number: object) -> bool:
        return isinstance(number, str) and self.get(number) is not None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            numbers = [r[0] for r in self._db.execute("SELECT number FROM orders ORDER BY number")]
        return iter(numbers)


def load_orders(seed_file: Path, db_path: Path | None = None) -> OrderTable:
    table = OrderTable(db_path)
    table.seed(seed_file)
    return table
