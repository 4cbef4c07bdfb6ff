"""SQL text the lake's views and reports share: quoting, and picking a named report.

Examples
--------
>>> quote("it's")
"'it''s'"
>>> pick({"a": "SELECT 1"}, "a", "report")
'SELECT 1'
>>> try:
...     pick({"a": "SELECT 1"}, "b", "shop report")
... except LakeError as exc:
...     print(exc)
no shop report named 'b'; known: ['a']
"""

from __future__ import annotations

from collections.abc import Mapping

from shopstream.lake.errors import LakeError

__all__ = ["pick", "quote"]


def quote(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def pick(reports: Mapping[str, str], name: str, kind: str) -> str:
    """The SQL of ``name`` in ``reports`` (``kind`` names them in the error)."""
    try:
        return reports[name]
    except KeyError:
        msg = f"no {kind} named {name!r}; known: {sorted(reports)}"
        raise LakeError(msg) from None
