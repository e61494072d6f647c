"""YAML files that remember where each value was written, so every error names file and line.

PyYAML's composer keeps a mark (line, column) on every node; we build the plain Python data and,
beside it, a map from each value's path (("intents", "cancel_order", "slots")) to its line.
Duplicate keys, which PyYAML would silently overwrite, are reported here (a duplicate intent
name is a mistake a company makes when two people edit one file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an agent folder, where it is."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.message}"


@dataclass
class YamlDoc:
    """A parsed file: its data and the line of every value in it (1-based)."""

    path: Path
    data: Any
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)

    def line(self, *keys: object) -> int | None:
        """The line of the value at `keys`, or of its nearest written parent."""
        path = tuple(str(k) for k in keys)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, message: str, *keys: object) -> Problem:
        return Problem(self.path, self.line(*keys), message)


def _walk(node: yaml.Node, path: tuple[str, ...], doc: YamlDoc, problems: list[Problem]) -> None:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(Problem(doc.path, line, f"duplicate key {key!r} (first on line "
                                                        f"{seen[key]})"))
            seen[key] = line
            doc.lines[(*path, key)] = line  # a key's line is where a reader looks for it
            _walk(value_node, (*path, key), doc, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, str(i)), doc, problems)


def read_yaml(path: Path, problems: list[Problem]) -> YamlDoc | None:
    """Parse one file; syntax errors and duplicate keys go to `problems` (None: unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        problems.append(Problem(path, None, f"cannot read: {e.strerror or e}"))
        return None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problems.append(Problem(path, mark.line + 1 if mark else None,
                                f"YAML syntax: {e.problem or e}"))
        return None
    doc = YamlDoc(path, data)
    if node is not None:
        _walk(node, (), doc, problems)
    return doc
