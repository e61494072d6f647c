"""Where every benchmark's dated section goes: docs/benchmarks.md, newest last."""

from __future__ import annotations

from voice_agent.config import REPO_ROOT

BENCHMARKS_MD = REPO_ROOT / "docs" / "benchmarks.md"


def append_to_benchmarks(section: str) -> None:
    """Append one bench's section (it carries its own machine, date and command)."""
    if not BENCHMARKS_MD.exists():  # a fork that dropped the file starts a new one
        BENCHMARKS_MD.parent.mkdir(exist_ok=True)
        BENCHMARKS_MD.write_text("# Benchmarks\n\nNewest results last. Medians and p95 "
                                 "from one run each; the machine is noisy.\n\n")
    with BENCHMARKS_MD.open("a", encoding="utf-8") as f:
        f.write(section)
