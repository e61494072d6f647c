"""Which floor of the house may import which: no import cycles, no imports running back up.

Reads every module under voice_agent/ with `ast` (imports at module level and inside functions
alike) and checks the graph. A new rule is one row in RULES; a violation someone is still
fixing goes in PENDING (expected to fail) until it is gone.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PACKAGE = "voice_agent"


@dataclass(frozen=True)
class Rule:
    importer: str  # a module, or a package with everything under it
    forbidden: str
    why: str

    @property
    def key(self) -> tuple[str, str]:
        return self.importer, self.forbidden


RULES = [
    Rule("voice_agent.models", "voice_agent.nlu",
         "the model catalogue and registry are the ground floor; Gemma's loader is handed in"),
    Rule("voice_agent.models", "voice_agent.pipeline",
         "the model catalogue and registry are the ground floor; Smart Turn's loader is handed in"),
    Rule("voice_agent.nlu", "voice_agent.bench",
         "the benches measure understanding, understanding never needs a bench"),
    Rule("voice_agent.metrics", "voice_agent.store",
         "the call records hand metrics their gauges, metrics know no storage"),
    Rule("voice_agent.pipeline", "voice_agent.operator",
         "a call's pipeline publishes events; the operator page subscribes to them"),
    Rule("voice_agent.pipeline", "voice_agent.store",
         "a call's pipeline publishes events; the call records subscribe to them"),
    Rule("voice_agent.pipeline", "voice_agent.telephony",
         "edges hand the pipeline their transport; the pipeline knows no edge"),
    Rule("voice_agent.nlu", "voice_agent.pipeline",
         "understanding is used by the dialogue stage, never the other way round"),
]

# Known violations being fixed elsewhere: a rule's (importer, forbidden), or the modules of a
# cycle. Each is expected to fail until fixed; then its row goes.
PENDING: list[tuple[str, str] | frozenset[str]] = []
PENDING_CYCLES = [entry for entry in PENDING if isinstance(entry, frozenset)]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> set[str]:
    """Every voice_agent module `name` imports, wherever in the file the import statement is."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved from the importing module's package
                package = name.split(".") if is_package else name.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def import_graph() -> dict[str, set[str]]:
    files = sorted((REPO_ROOT / PACKAGE).rglob("*.py"))
    known = {module_name(f) for f in files}
    graph = {}
    for f in files:
        name = module_name(f)
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        graph[name] = imported_modules(tree, name, f.name == "__init__.py", known) - {name}
    return graph


GRAPH = import_graph()


def within(module: str, scope: str) -> bool:
    return module == scope or module.startswith(scope + ".")


def violations(rule: Rule) -> list[str]:
    return sorted(f"{importer} imports {target}"
                  for importer, targets in GRAPH.items() if within(importer, rule.importer)
                  for target in targets if within(target, rule.forbidden))


def import_cycles() -> list[set[str]]:
    """The strongly connected groups of modules (Tarjan): each one holds at least one cycle."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in GRAPH.get(module, ()):
            if target not in index:
                visit(target)
                lowest[module] = min(lowest[module], lowest[target])
            elif target in on_stack:
                lowest[module] = min(lowest[module], index[target])
        if lowest[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return groups


def one_cycle(group: set[str]) -> str:
    """A readable loop through a group: a → b → … → a."""
    start = min(group)
    path, seen = [start], {start}
    while True:
        targets = sorted(GRAPH[path[-1]] & group)
        if start in targets:
            return " → ".join([*path, start])
        step = next((t for t in targets if t not in seen), None)
        if step is None:  # a dead end inside the group: the loop closes elsewhere
            return " ↔ ".join(sorted(group))
        path.append(step)
        seen.add(step)


def test_the_graph_is_read_from_the_sources():
    # a broken parser would pass every rule: check imports known to exist, top and nested
    assert "voice_agent.events" in GRAPH["voice_agent.metrics"]
    assert "voice_agent.models.catalogue" in GRAPH["voice_agent.models.registry"]
    assert "voice_agent.nlu.gemma" in GRAPH["voice_agent.model_loaders"]  # inside a function


def test_no_import_cycles():
    unexpected = [g for g in import_cycles() if frozenset(g) not in PENDING_CYCLES]
    assert not unexpected, "import cycles:\n" + "\n".join(one_cycle(g) for g in unexpected)


@pytest.mark.parametrize("cycle", [
    pytest.param(cycle, marks=pytest.mark.xfail(reason="pending: being fixed elsewhere"))
    for cycle in PENDING_CYCLES
], ids=lambda cycle: " <-> ".join(sorted(cycle)))
def test_pending_cycle_is_gone(cycle):
    assert frozenset(cycle) not in {frozenset(g) for g in import_cycles()}


@pytest.mark.parametrize("rule", [
    pytest.param(rule, marks=[pytest.mark.xfail(reason="pending: being fixed elsewhere")]
                 if rule.key in PENDING else [])
    for rule in RULES
], ids=lambda rule: f"{rule.importer} must not import {rule.forbidden}")
def test_no_import_runs_back_up(rule):
    found = violations(rule)
    assert not found, f"{rule.why}:\n" + "\n".join(found)


def test_call_state_holds_no_untyped_blackboard():
    """Stages share per-call collaborators made by the call factory, never through `Any` slots
    on the call's state."""
    import dataclasses
    import typing

    from voice_agent.pipeline.call_state import CallState

    hints = typing.get_type_hints(CallState)
    untyped = [f.name for f in dataclasses.fields(CallState) if hints[f.name] is typing.Any]
    assert not untyped, f"CallState fields typed Any: {untyped}"


def test_only_the_twilio_edge_writes_twilios_json():
    """`mark`/`clear` are our own frames in the pipeline; the Twilio serializer alone writes
    them as Twilio JSON (the simulated Twilio line in testing/ plays Twilio's side)."""
    import re

    wire = re.compile(r"""["']event["']\s*:\s*["'](?:mark|clear|media)["']""")
    allowed = {"telephony/twilio", "testing"}
    offenders = []
    for path in sorted((REPO_ROOT / PACKAGE).rglob("*.py")):
        relative = path.relative_to(REPO_ROOT / PACKAGE).as_posix()
        if any(relative.startswith(prefix) for prefix in allowed):
            continue
        if wire.search(path.read_text(encoding="utf-8")):
            offenders.append(relative)
    assert not offenders, f"Twilio media-stream JSON outside the Twilio edge: {offenders}"
