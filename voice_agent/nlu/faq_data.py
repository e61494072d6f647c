"""A company's FAQ knowledge base: `config/agents/<agent>/faq/<lang>.yaml`, loaded and checked.

Every error names the file and the line (PyYAML's node marks), so whoever edits the YAML finds
the place at once. The format is documented field by field in docs/faq.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LANGUAGE_FILE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?\.yaml$")
ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
ENTRY_KEYS = {"id", "questions", "answer", "notes"}


class FaqError(ValueError):
    """A FAQ file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class FaqEntry:
    id: str
    language: str
    questions: tuple[str, ...]
    answer: str
    source: str = ""  # "path:line", for messages


@dataclass
class Faq:
    """All languages' entries of one agent; `entries[lang][id]`."""

    entries: dict[str, dict[str, FaqEntry]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def languages(self) -> list[str]:
        return sorted(self.entries)

    def ids(self, language: str | None = None) -> set[str]:
        if language is not None:
            return set(self.entries.get(language, {}))
        return {i for per in self.entries.values() for i in per}

    def entry(self, entry_id: str, language: str) -> FaqEntry | None:
        return self.entries.get(language, {}).get(entry_id)

    def content_hash(self) -> str:
        """Changes whenever a question or an answer changes (keys the embedding cache)."""
        h = hashlib.sha256()
        for lang in self.languages:
            for entry_id in sorted(self.entries[lang]):
                e = self.entries[lang][entry_id]
                h.update("\x1f".join((lang, e.id, *e.questions, e.answer)).encode())
                h.update(b"\x1e")
        return h.hexdigest()


def _where(path: Path, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def _scalar_text(path: Path, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise FaqError(f"{_where(path, node)}: {what} must be text")
    text = " ".join(str(node.value).split())
    if not text:
        raise FaqError(f"{_where(path, node)}: {what} is empty")
    return text


def _mapping(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {str(k.value): (k, v) for k, v in node.value}


def _entry(path: Path, language: str, node: yaml.Node) -> FaqEntry:
    if not isinstance(node, yaml.MappingNode):
        raise FaqError(f"{_where(path, node)}: an entry must be a mapping (id, questions, answer)")
    fields = _mapping(node)
    unknown = sorted(set(fields) - ENTRY_KEYS)
    if unknown:
        key = fields[unknown[0]][0]
        raise FaqError(f"{_where(path, key)}: unknown field {unknown[0]!r} "
                       f"(allowed: {', '.join(sorted(ENTRY_KEYS))})")
    if "id" not in fields:
        raise FaqError(f"{_where(path, node)}: entry has no id")
    entry_id = _scalar_text(path, fields["id"][1], "id")
    if not ENTRY_ID.match(entry_id):
        raise FaqError(f"{_where(path, fields['id'][1])}: id {entry_id!r} must be lower-case "
                       "letters, digits, '_', '-' or '.'")
    if "answer" not in fields:
        raise FaqError(f"{_where(path, node)}: entry {entry_id!r} has no answer")
    answer = _scalar_text(path, fields["answer"][1], f"answer of {entry_id!r}")
    if "questions" not in fields:
        raise FaqError(f"{_where(path, node)}: entry {entry_id!r} has no questions")
    qnode = fields["questions"][1]
    if isinstance(qnode, yaml.ScalarNode) and qnode.tag == "tag:yaml.org,2002:null":
        raise FaqError(f"{_where(path, qnode)}: entry {entry_id!r} has no questions")
    if not isinstance(qnode, yaml.SequenceNode):
        raise FaqError(f"{_where(path, qnode)}: questions of {entry_id!r} must be a list")
    if not qnode.value:
        raise FaqError(f"{_where(path, qnode)}: entry {entry_id!r} has no questions")
    questions: list[str] = []
    for q in qnode.value:
        text = _scalar_text(path, q, f"a question of {entry_id!r}")
        if text.casefold() in (x.casefold() for x in questions):
            raise FaqError(f"{_where(path, q)}: question {text!r} repeated in {entry_id!r}")
        questions.append(text)
    return FaqEntry(entry_id, language, tuple(questions), answer, _where(path, node))


def load_faq_file(path: Path, language: str | None = None) -> list[FaqEntry]:
    """One language file: `entries:` list (a `language:` key, if given, must match the name)."""
    path = Path(path)
    language = language or path.stem
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise FaqError(f"{path}{line}: not valid YAML: {e.problem or e}") from e
    if root is None:
        raise FaqError(f"{path}:1: the file is empty (expected `entries:`)")
    if not isinstance(root, yaml.MappingNode):
        raise FaqError(f"{_where(path, root)}: expected a mapping with `entries:`")
    top = _mapping(root)
    if "language" in top:
        declared = _scalar_text(path, top["language"][1], "language")
        if declared != language:
            raise FaqError(f"{_where(path, top['language'][1])}: language {declared!r} does not "
                           f"match the file name ({language!r})")
    if "entries" not in top:
        raise FaqError(f"{_where(path, root)}: no `entries:` list")
    seq = top["entries"][1]
    if not isinstance(seq, yaml.SequenceNode):
        raise FaqError(f"{_where(path, seq)}: `entries` must be a list")
    entries: list[FaqEntry] = []
    seen: dict[str, str] = {}
    for node in seq.value:
        entry = _entry(path, language, node)
        if entry.id in seen:
            raise FaqError(f"{entry.source}: duplicate id {entry.id!r} "
                           f"(first at line {seen[entry.id].rsplit(':', 1)[1]})")
        seen[entry.id] = entry.source
        entries.append(entry)
    return entries


def load_faq(folder: Path) -> Faq:
    """Every `<lang>.yaml` of an agent's `faq/` folder; ids missing in some languages → warning."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FaqError(f"{folder}: no FAQ folder")
    faq = Faq()
    for path in sorted(folder.iterdir()):
        if LANGUAGE_FILE.match(path.name):
            faq.entries[path.stem] = {e.id: e for e in load_faq_file(path)}
    if not faq.entries:
        raise FaqError(f"{folder}: no <language>.yaml file")
    every = faq.ids()
    for lang in faq.languages:
        missing = sorted(every - faq.ids(lang))
        if missing:
            shown = ", ".join(missing[:12]) + (f" … (+{len(missing) - 12})" if len(missing) > 12
                                               else "")
            faq.warnings.append(f"{folder / (lang + '.yaml')}: {len(missing)} id(s) present in "
                                f"another language but not here: {shown}")
    return faq
