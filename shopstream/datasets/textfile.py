"""Opening a dataset's text file: one place that reads it and names it when it cannot.

Every dataset module parses from a text stream (``read_...``, testable on a
``StringIO``) and loads a file through :func:`read_text_file`, so a missing,
unreadable or wrongly encoded file always fails the same way: a
:class:`~shopstream.errors.DatasetError` naming what was read and the path. Memory and
time are the parser's: the file is streamed to it, never read whole here.

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.txt"
>>> def attempt(**options):
...     try:
...         return read_text_file(path, lambda source: source.read(), "toy file", **options)
...     except DatasetError as exc:
...         return str(exc).replace(str(path), "PATH")
>>> attempt()
"cannot read toy file 'PATH': No such file or directory"
>>> _ = path.write_bytes(b"caf\\xe9\\n")
>>> attempt(encoding="latin-1")
'café\\n'
>>> attempt()[:60]
"cannot read toy file 'PATH': 'utf-8' codec can't decode byte"
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

from shopstream.errors import DatasetError

__all__ = ["read_text_file"]

T = TypeVar("T")


def read_text_file(path: Path, read: Callable[[TextIO], T], what: str, *,
                   encoding: str = "utf-8", newline: str | None = None) -> T:
    """``read`` applied to ``path`` opened as text; a :class:`DatasetError` naming
    ``what`` and ``path`` when the file cannot be opened, read or decoded."""
    try:
        with path.open(encoding=encoding, newline=newline) as source:
            return read(source)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        msg = f"cannot read {what} {str(path)!r}: {reason}"
        raise DatasetError(msg) from exc
