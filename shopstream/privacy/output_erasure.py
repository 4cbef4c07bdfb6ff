"""Removing one shopper's records from the JSONL output streams of ``shopstream run``.

Each ``OUTPUT_DIR/<stream>.jsonl`` that holds a line naming the shopper (one of their ids
or sessions as a JSON string, or escaped inside one, as a dead letter's raw line holds
it) is rewritten without those lines (temporary name, fsync, rename). A checkpoint
records how far each file was written; the byte positions it holds are moved back by
what was removed before them, so a resumed run cuts the files at the same records.

Cost: one read of every output file, one rewrite of each file that held their lines.

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "fraud-alerts.jsonl").write_bytes(
...     b'{"userId":"ann","n":1}\\n{"userId":"bo","n":2}\\n{"userId":"ann","n":3}\\n')
>>> erased, positions = erase_from_outputs(d, frozenset({"ann"}), {"fraud-alerts": 46})
>>> erased.lines_removed, positions
({'fraud-alerts': 2}, {'fraud-alerts': 23})
>>> (d / "fraud-alerts.jsonl").read_bytes()
b'{"userId":"bo","n":2}\\n'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from shopstream.privacy.errors import ErasureError

__all__ = ["OutputErasure", "erase_from_outputs"]


@dataclass
class OutputErasure:
    """Lines removed per stream, and the files rewritten."""

    files_rewritten: int = 0
    lines_removed: dict[str, int] = field(default_factory=dict)


def _patterns(names: frozenset[str]) -> list[bytes]:
    out: list[bytes] = []
    for name in sorted(names):
        quoted = json.dumps(name, ensure_ascii=False).encode()
        out.append(quoted)
        out.append(json.dumps(quoted.decode(), ensure_ascii=False).encode()[1:-1])
    return out


def erase_from_outputs(directory: str | Path, names: frozenset[str],
                       positions: dict[str, int] | None = None,
                       ) -> tuple[OutputErasure, dict[str, int] | None]:
    """Rewrite the ``*.jsonl`` files of ``directory`` without the lines naming one of
    ``names`` (ids and sessions); return what was removed and ``positions`` (a
    checkpoint's file sizes by stream) moved back accordingly."""
    root = Path(directory)
    if not root.is_dir():
        msg = f"erase: the output directory {str(root)!r} is not a directory"
        raise ErasureError(msg)
    patterns = _patterns(names)
    result = OutputErasure()
    moved = dict(positions) if positions is not None else None
    for path in sorted(root.glob("*.jsonl")):
        stream = path.name[:-len(".jsonl")]
        try:
            data = path.read_bytes()
        except OSError as exc:
            msg = f"erase: cannot read {str(path)!r}: {exc.strerror}"
            raise ErasureError(msg) from None
        if not any(p in data for p in patterns):
            continue
        kept: list[bytes] = []
        offset = removed = removed_before = 0
        limit = moved.get(stream) if moved is not None else None
        for line in data.splitlines(keepends=True):
            if any(p in line for p in patterns):
                removed += 1
                if limit is not None and offset + len(line) <= limit:
                    removed_before += len(line)
            else:
                kept.append(line)
            offset += len(line)
        _rewrite(path, b"".join(kept))
        result.files_rewritten += 1
        result.lines_removed[stream] = removed
        if moved is not None and limit is not None:
            moved[stream] = limit - removed_before
    return result, moved


def _rewrite(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".erase-tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        msg = f"erase: cannot rewrite {str(path)!r}: {exc.strerror}"
        raise ErasureError(msg) from None
