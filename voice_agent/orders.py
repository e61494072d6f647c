"""The demo order table, for scripts written before agent folders (voice_agent/agent/table.py).

An agent's tables are declared in its actions.yaml; `load_orders` opens the table whose CSV
is the given file, with the columns (and allowed values) declared there.
"""

from __future__ import annotations

from pathlib import Path

from voice_agent.agent.loader import read_agent
from voice_agent.agent.table import Row, Table

Order = Row  # a row: order.status, order.eta_days, …
OrderTable = Table


def load_orders(seed_file: Path, db_path: Path | None = None) -> Table:
    """The table whose CSV is `seed_file`, seeded into SQLite (`db_path`, or in memory)."""
    seed_file = seed_file.resolve()
    for folder in seed_file.parents:
        if not (folder / "agent.yaml").exists():
            continue
        agent, problems = read_agent(folder)
        if agent is None:
            raise ValueError("\n".join(str(p) for p in problems))
        for name, spec in agent.actions.tables.items():
            if (folder / spec.file).resolve() == seed_file:
                table = Table(name, spec, db_path)
                table.seed_csv(seed_file)
                return table
        break
    raise ValueError(f"{seed_file}: no agent folder declares this table (actions.yaml tables:)")
