"""The docs site's hooks (scripts/mkdocs_hooks.py): command help pasted live, Sphinx
roles shown as code, and a command without a page failing the strict build (a warning)."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from shopstream.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "scripts" /
                                                  "mkdocs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(uri: str) -> SimpleNamespace:
    return SimpleNamespace(file=SimpleNamespace(src_uri=uri))


def test_a_marker_becomes_the_commands_help() -> None:
    hooks = _hooks()
    out = hooks.on_page_markdown("x\n<!-- help: db generate -->\ny", _page("a.md"), None, None)
    assert out.startswith("x\n```text\n$ shopstream db generate --help\nusage: shopstream db")
    assert "--customers N" in out and out.endswith("```\ny")


def test_sphinx_roles_render_as_code() -> None:
    html = ("see :class:<code>~shopstream.facade.Pipeline</code> and "
            ":func:<code>shopstream.pipeline.default_topology</code>")
    assert _hooks().on_page_content(html, _page("a.md"), None, None) == (
        "see <code>Pipeline</code> and <code>shopstream.pipeline.default_topology</code>")


def test_every_command_needs_a_page(caplog: pytest.LogCaptureFixture) -> None:
    hooks = _hooks()
    hooks.on_pre_build(None)
    for name in COMMANDS[:-1]:
        hooks.on_page_markdown("", _page(f"commands/{name}.md"), None, None)
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.shopstream"):
        hooks.on_post_build(None)
    assert [r.getMessage() for r in caplog.records] == [
        f"commands without a docs page (a page with <!-- help: NAME -->): {COMMANDS[-1]}"]
    caplog.clear()
    hooks.on_page_markdown(f"<!-- help: {COMMANDS[-1]} -->", _page("guide.md"), None, None)
    hooks.on_post_build(None)
    assert caplog.records == []


def test_an_unknown_command_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.shopstream"):
        out = _hooks().on_page_markdown("<!-- help: nosuch -->", _page("a.md"), None, None)
    assert out == "<!-- help: nosuch -->"
    assert caplog.records and "a.md" in caplog.records[0].getMessage()


def test_an_unknown_action_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.shopstream"):
        _hooks().on_page_markdown("<!-- help: db nosuch -->", _page("a.md"), None, None)
    assert "no help for 'shopstream db nosuch'" in caplog.records[0].getMessage()
