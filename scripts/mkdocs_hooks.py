"""MkDocs hooks of the docs site (``hooks:`` in mkdocs.yml); not part of the package.

- ``<!-- help: db generate -->`` in a page becomes the live ``shopstream db generate
  --help`` text, so a command page cannot drift from its options.
- Sphinx roles of the numpydoc docstrings (``:class:`~a.b.C```) show as code
  (``C``), not as ``:class:`` followed by the dotted path.
- Every command of ``shopstream --help`` must have its page: ``commands/NAME.md``, or a
  page whose markdown holds a ``<!-- help: NAME ... -->`` marker. A command without one
  is a warning, which ``mkdocs build --strict`` turns into a failed build.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from typing import Any

log = logging.getLogger("mkdocs.plugins.shopstream")

_MARKER = re.compile(r"<!--\s*help:\s*([a-z0-9 _-]+?)\s*-->")
_seen: set[str] = set()
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([\w.]+)</code>")


def _help(words: list[str]) -> str:
    from shopstream.cli import COMMANDS, build_parser

    if words[0] not in COMMANDS:
        msg = f"'{words[0]}' is not a shopstream command"
        raise ValueError(msg)
    os.environ["COLUMNS"] = "80"  # argparse wraps to the terminal: fix it for the page
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), \
            contextlib.suppress(SystemExit):
        build_parser([words[0]]).parse_args([*words, "--help"])
    text = out.getvalue().strip()
    if not text:
        msg = f"no help for 'shopstream {' '.join(words)}'"
        raise ValueError(msg)
    return text


def on_pre_build(config: Any) -> None:
    _seen.clear()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    uri = page.file.src_uri
    if uri.startswith("commands/"):
        _seen.add(uri.removeprefix("commands/").removesuffix(".md"))

    def replace(match: re.Match[str]) -> str:
        words = match.group(1).split()
        _seen.add(words[0])
        try:
            text = _help(words)
        except ValueError as exc:
            log.warning("%s: %s", page.file.src_uri, exc)
            return match.group(0)
        return f"```text\n$ shopstream {' '.join(words)} --help\n{text}\n```"

    return _MARKER.sub(replace, markdown)


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        short, path = match.groups()
        return f"<code>{path.rsplit('.', 1)[-1] if short else path}</code>"

    return _ROLE.sub(replace, html)


def on_post_build(config: Any) -> None:
    from shopstream.cli import COMMANDS

    missing = [name for name in COMMANDS if name not in _seen]
    if missing:
        log.warning("commands without a docs page (a page with <!-- help: NAME -->): %s",
                    ", ".join(missing))
