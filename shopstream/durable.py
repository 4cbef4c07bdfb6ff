"""Durable renames: a file appears under its name only complete and fsynced, and the
rename itself is made durable (its folder fsynced).

Pure standard library (no pyarrow), so both the lake's writers
(:mod:`shopstream.lake.files`) and the embedded runner's checkpoints
(:mod:`shopstream.runners.embedded.checkpoint`) use it. Cost: two ``fsync`` calls and
one rename per published file.

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "x.tmp").write_text("done")
>>> publish(d / "x.tmp", d / "x")
>>> sorted(p.name for p in d.iterdir()), (d / "x").read_text()
(['x'], 'done')
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_directory", "publish"]


def _fsync(path: Path) -> None:
    """fsync the file or folder at ``path`` (opened read-only: either may be)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(folder: Path) -> None:
    """Make the names in ``folder`` durable (a rename is not, until its folder is synced)."""
    _fsync(folder)


def publish(tmp: Path, path: Path) -> None:
    """fsync the complete file ``tmp``, rename it to ``path`` and fsync the folder.

    Raises ``OSError`` as the system calls do (the caller names what it was writing).
    """
    _fsync(tmp)
    os.replace(tmp, path)
    fsync_directory(path.parent)
