"""A company's small table (CSV or SQLite) behind a `table` action: rows by key, typed columns.

The CSV seeds an SQLite table (in memory, or the file named by `db`, seeded only while empty so
a company's own rows survive a restart). Columns with `values:` get a CHECK constraint: a row
with a status nobody wrote a reply for cannot get in. One connection and one lock, shared by
every call.
"""

from __future__ import annotations

import csv
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from voice_agent.agent.models import TableSpec

SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "number": "REAL"}


class Row(dict):
    """A table row: by column name, as a mapping or an attribute (`row.status`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def convert(value: str | None, column_type: str) -> Any:
    """A CSV cell as its column's type; an empty cell is NULL."""
    if value is None or value == "":
        return None
    if column_type == "integer":
        return int(value)
    if column_type == "number":
        return float(value)
    return value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


class Table:
    """Rows of one table by key; safe to share between calls."""

    def __init__(self, name: str, spec: TableSpec, db_path: Path | None = None) -> None:
        self.name, self.spec = name, spec
        self._db = sqlite3.connect(str(db_path) if db_path else ":memory:",
                                   check_same_thread=False)
        self._lock = threading.Lock()
        cols = []
        for col, cspec in spec.columns.items():
            sql = f"{_quote(col)} {SQL_TYPES[cspec.type]}"
            if col == spec.key:
                sql += " PRIMARY KEY"
            if cspec.values:
                allowed = ", ".join("'" + v.replace("'", "''") + "'" for v in cspec.values)
                sql += f" CHECK ({_quote(col)} IN ({allowed}))"
            cols.append(sql)
        with self._lock, self._db:
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {_quote(name)} ({', '.join(cols)})")

    @property
    def columns(self) -> list[str]:
        return list(self.spec.columns)

    def seed_csv(self, path: Path, only_if_empty: bool = True) -> int:
        """Rows from a CSV file; returns how many were written."""
        if not path.exists():
            return 0
        _, rows = read_csv(path)
        cols = self.columns
        with self._lock, self._db:
            count = self._db.execute(f"SELECT COUNT(*) FROM {_quote(self.name)}").fetchone()[0]
            if only_if_empty and count:
                return 0
            self._db.executemany(
                f"INSERT OR REPLACE INTO {_quote(self.name)} "
                f"({', '.join(map(_quote, cols))}) VALUES ({', '.join('?' for _ in cols)})",
                [tuple(convert(r.get(c), self.spec.columns[c].type) for c in cols)
                 for r in rows])
        return len(rows)

    def get(self, key: str) -> Row | None:
        cols = self.columns
        with self._lock:
            found = self._db.execute(
                f"SELECT {', '.join(map(_quote, cols))} FROM {_quote(self.name)} "
                f"WHERE {_quote(self.spec.key)} = ?", (str(key),)).fetchone()
        return Row(zip(cols, found, strict=True)) if found else None

    def update(self, key: str, values: dict[str, Any]) -> None:
        """Write a change (tables with `writes: table` only; demo tables keep it per call)."""
        sets = ", ".join(f"{_quote(c)} = ?" for c in values)
        with self._lock, self._db:
            self._db.execute(
                f"UPDATE {_quote(self.name)} SET {sets} WHERE {_quote(self.spec.key)} = ?",
                (*values.values(), str(key)))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            keys = [r[0] for r in self._db.execute(
                f"SELECT {_quote(self.spec.key)} FROM {_quote(self.name)} "
                f"ORDER BY {_quote(self.spec.key)}")]
        return iter(keys)


def open_table(name: str, spec: TableSpec, folder: Path, db_path: Path | None = None) -> Table:
    """The table named in actions.yaml: a CSV seeds SQLite; a .sqlite/.db file is used as is."""
    source = folder / spec.file
    if source.suffix in (".sqlite", ".db"):
        return Table(name, spec, source)
    table = Table(name, spec, db_path)
    table.seed_csv(source)
    return table
