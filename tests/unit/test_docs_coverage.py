"""Every command has its page and every exported name its API reference entry (#19).

Read from the code, not from a list kept by hand: the commands and their actions come
from the argparse parser of ``shopstream``, the names from the ``__all__`` of
``shopstream``, of ``shopstream.facade`` and of every package under ``shopstream/``.

What counts as documented:

- a command ``NAME``: the page ``docs/commands/NAME.md``; each action of it
  (``shopstream db generate``) is named on that page, by a ``<!-- help: db generate -->``
  marker (the hook pastes the live ``--help``) or in the text as ``shopstream db
  generate``;
- an exported name ``N`` of ``P.__all__``: a ``::: ident`` directive of mkdocstrings in
  ``docs/reference/*.md`` whose ``ident`` is ``P.N``, the defining module's path of the
  object (``N.__module__ + "." + N``), or the defining module itself rendered whole
  (``::: module`` with ``N`` in its ``members:`` option; or with no ``members:``, ``N``
  not dropped by its ``filters:`` and ``N`` with a docstring: mkdocstrings leaves out an
  unlisted member without one, ``show_if_no_docstring`` being off, and griffe does not
  read Sphinx ``#:`` comments; such a name needs an entry of its own, ``::: module.N``,
  which renders its name and signature or value). A whole package
  (``::: P``) does not count for names it only re-exports: the rendered page shows
  what ``P`` defines, so only an entry where the object is defined is certain to render
  it. A module listed in ``P.__all__`` (``shopstream.api.__all__`` lists modules) needs
  its own ``::: P.N`` directive, which renders the module's public names.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType

from shopstream.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "shopstream"

_DIRECTIVE = re.compile(r"^:::\s*([\w.]+)\s*$")
_LIST_OPTION = re.compile(r"^\s+(members|filters):\s*\[([^\]]*)\]\s*$")
# mkdocs.yml: plugins / mkdocstrings / handlers / python / options / filters
_SITE_FILTERS = ("!^_",)


@dataclass(frozen=True)
class Entry:
    """One ``::: ident`` directive; ``members`` is ``None`` when the module renders whole,
    ``filters`` are its name filters (mkdocstrings: a leading ``!`` excludes)."""

    ident: str
    members: frozenset[str] | None = None
    filters: tuple[str, ...] = _SITE_FILTERS

    def renders(self, name: str) -> bool:
        """Whether this whole-module entry shows the module's member ``name``.

        The rule of mkdocstrings-python's name filters: the last filter whose regex
        matches decides (``!`` drops); if none matches, the name is kept unless every
        filter is a positive one.
        """
        if self.members is not None:
            return name in self.members
        keep: bool | None = None
        for spec in self.filters:
            exclude = spec.startswith("!")
            if re.search(spec.removeprefix("!"), name):
                keep = not exclude
        if keep is None:
            return any(spec.startswith("!") for spec in self.filters)
        return keep


def _items(text: str) -> list[str]:
    return [item.strip().strip("'\"") for item in text.split(",") if item.strip()]


def directives(pages: list[Path]) -> list[Entry]:
    """The mkdocstrings directives of ``pages``, with their ``members`` and ``filters``."""
    entries: list[Entry] = []
    for page in pages:
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            match = _DIRECTIVE.match(line)
            if match is None:
                continue
            options: dict[str, list[str]] = {}
            for option in lines[i + 1:]:
                if not option.startswith((" ", "\t")):
                    break
                listed = _LIST_OPTION.match(option)
                if listed is not None:
                    options[listed.group(1)] = _items(listed.group(2))
            members = options.get("members")
            entries.append(Entry(match.group(1),
                                 None if members is None else frozenset(members),
                                 tuple(options.get("filters", _SITE_FILTERS))))
    return entries


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-parsers of ``parser`` by name (empty for a command without actions)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every command and action of ``shopstream``, as words: ``("db",)``, ``("db", "generate")``."""

    def walk(words: tuple[str, ...],
             parser: argparse.ArgumentParser) -> Iterator[tuple[str, ...]]:
        for name, sub in subcommands(parser).items():
            yield (*words, name)
            yield from walk((*words, name), sub)

    yield from walk((), build_parser())


def undocumented_commands(docs: Path) -> list[str]:
    """The commands and actions of ``shopstream`` that ``docs/commands/`` does not name."""
    missing: list[str] = []
    for words in command_paths():
        page = docs / "commands" / f"{words[0]}.md"
        if not page.is_file():
            if len(words) == 1:
                missing.append(f"{words[0]}: no page {page.relative_to(docs)}")
            continue
        if len(words) == 1:
            continue
        text = " ".join(page.read_text(encoding="utf-8").split())
        spoken = " ".join(words)
        marker = re.search(r"<!--\s*help:\s*" + re.escape(spoken) + r"\s*-->", text)
        if marker is None and f"shopstream {spoken}" not in text:
            missing.append(f"{spoken}: not named on {page.relative_to(docs)}")
    return missing


def packages() -> list[str]:
    """``shopstream``, ``shopstream.facade`` and every package under ``shopstream/``."""
    names = ["shopstream", "shopstream.facade"]
    for init in sorted(PACKAGE.rglob("__init__.py")):
        parts = init.parent.relative_to(ROOT).parts
        if parts != ("shopstream",):
            names.append(".".join(parts))
    return names


def exported(package: str) -> Iterator[tuple[str, str]]:
    """``(name, defining path)`` of each name in ``package.__all__`` (not ``__version__``)."""
    module = importlib.import_module(package)
    for name in getattr(module, "__all__", ()):
        if name.startswith("__"):
            continue
        if (PACKAGE.parent / (package.replace(".", "/") + f"/{name}.py")).is_file() or \
                (PACKAGE.parent / package.replace(".", "/") / name / "__init__.py").is_file():
            yield name, f"{package}.{name}"
            continue
        value = getattr(module, name)
        owner = getattr(value, "__module__", None)
        if isinstance(value, type | FunctionType) and isinstance(owner, str):
            yield name, f"{owner}.{name}"
        else:  # a constant or a type alias: its module is the one that assigns it
            yield name, f"{assigned_in(package, name)}.{name}"


def assigned_in(package: str, name: str) -> str:
    """The module of ``package`` (itself or one of its modules) that assigns ``name``."""
    folder = PACKAGE.parent / package.replace(".", "/")
    files = [folder / "__init__.py", *sorted(folder.glob("*.py"))] if folder.is_dir() \
        else [folder.with_suffix(".py")]
    for path in files:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
                return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if isinstance(node, ast.ImportFrom) and node.module and \
                    any(alias.name == name for alias in node.names):
                return node.module  # re-exported from another package
    return package


def has_docstring(defined: str) -> bool:
    """Whether the object at the dotted path ``defined`` has a docstring in its source: a
    member without one is left out when its module renders whole (mkdocstrings'
    ``show_if_no_docstring`` is off), so only an entry of its own shows it. For an
    attribute, the docstring is the string right after the assignment (griffe's rule)."""
    module, name = defined.rsplit(".", 1)
    path = PACKAGE.parent / module.replace(".", "/")
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    body = ast.parse(path.read_text(encoding="utf-8")).body
    for node, after in zip(body, [*body[1:], None], strict=True):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and \
                node.name == name:
            return ast.get_docstring(node) is not None
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                and isinstance(after.value.value, str)
    return False


def has_entry(package: str, name: str, defined: str, entries: list[Entry]) -> bool:
    """Whether a directive of ``entries`` renders ``package.name`` (see the module doc)."""
    owner = defined.rsplit(".", 1)[0]
    for entry in entries:
        if entry.ident in (f"{package}.{name}", defined):
            return True
        if entry.ident == owner and entry.renders(name) and \
                (entry.members is not None or
                 (owner != package and has_docstring(defined))):
            return True
    return False


def undocumented_names(docs: Path) -> list[str]:
    """The exported names without an entry in ``docs/reference/``."""
    entries = directives(sorted((docs / "reference").glob("*.md")))
    missing: list[str] = []
    for package in packages():
        for name, defined in exported(package):
            if not has_entry(package, name, defined, entries):
                missing.append(f"{package}.{name} (defined as {defined})")
    return missing


def test_every_command_and_action_has_its_page() -> None:
    assert [words[0] for words in command_paths() if len(words) == 1] == list(COMMANDS)
    assert undocumented_commands(DOCS) == []


def test_every_exported_name_has_a_reference_entry() -> None:
    assert undocumented_names(DOCS) == []


def test_a_missing_page_action_or_entry_is_reported(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for page in [*(DOCS / "commands").glob("*.md"), *(DOCS / "reference").glob("*.md")]:
        target = docs / page.relative_to(DOCS)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    (docs / "commands" / "sql.md").unlink()
    db = docs / "commands" / "db.md"
    db.write_text(db.read_text(encoding="utf-8").replace("<!-- help: db clear -->", "")
                  .replace("shopstream db clear", "db clear"), encoding="utf-8")
    cli = docs / "reference" / "cli.md"
    cli.write_text(cli.read_text(encoding="utf-8").replace(
        "members: [build_parser, main, requested_command]", "members: [main]"),
        encoding="utf-8")
    assert undocumented_commands(docs) == ["db clear: not named on commands/db.md",
                                           "sql: no page commands/sql.md"]
    assert undocumented_names(docs) == [
        "shopstream.cli.build_parser (defined as shopstream.cli.build_parser)",
        "shopstream.cli.requested_command (defined as shopstream.cli.requested_command)"]
