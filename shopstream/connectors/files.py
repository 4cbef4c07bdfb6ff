"""JSONL files: a source with byte offsets (so a run can resume) and one sink per stream.

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "in.jsonl").write_bytes(b'{"a":1}\\n\\n{"a":2}\\n')
>>> [(line, end) for line, end in JsonlSource(d / "in.jsonl")]
[(b'{"a":1}', 8), (b'{"a":2}', 17)]
>>> [(line, end) for line, end in JsonlSource(d / "in.jsonl", start_offset=8)]
[(b'{"a":2}', 17)]
>>> _ = (d / "long.jsonl").write_bytes(b'{"a":"' + b"x" * 50 + b'"}\\n{"a":3}\\n')
>>> [(line, end) for line, end in JsonlSource(d / "long.jsonl", max_line_bytes=9)]
[(b'{"a":"xxxx', 59), (b'{"a":3}', 67)]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import msgspec

from shopstream.errors import SourceError
from shopstream.events.records import Output

__all__ = ["JsonlSinks", "JsonlSource"]

#: Bytes a stream's encoded lines gather before they go to its file.
_BATCH_BYTES = 1 << 16


class JsonlSource:
    """Lines of a JSONL file (or ``-`` for standard input) with the byte offset after each.

    Blank lines are skipped: they carry no event. ``start_offset`` resumes a file part-way.
    A line longer than ``max_line_bytes`` is never held whole in memory: its first
    ``max_line_bytes + 1`` bytes are yielded (for the decoder to refuse) and the rest is
    skipped.
    """

    def __init__(self, path: str | Path, start_offset: int = 0,
                 max_line_bytes: int | None = None) -> None:
        self.path = str(path)
        self.start_offset = start_offset
        self.max_line_bytes = max_line_bytes
        if self.is_stdin:
            if start_offset:
                msg = "standard input cannot be resumed part-way; give --input FILE"
                raise SourceError(msg)
            return
        target = Path(self.path)
        if not target.exists():
            msg = f"input file {self.path!r} does not exist"
            raise SourceError(msg)
        if not target.is_file():
            msg = f"input {self.path!r} is not a regular file"
            raise SourceError(msg)
        if not os.access(target, os.R_OK):
            msg = f"input file {self.path!r} is not readable"
            raise SourceError(msg)
        size = target.stat().st_size
        if start_offset > size:
            msg = (f"checkpoint offset {start_offset} is past the end of {self.path!r} "
                   f"({size} bytes): the input changed since the checkpoint")
            raise SourceError(msg)

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"

    @property
    def name(self) -> str:
        """The path, as dead letters name their source."""
        return self.path

    @property
    def exhausted(self) -> bool:
        """A file always ends complete."""
        return True

    def read(self, position: int | None) -> Iterator[tuple[bytes, int]]:
        """The :class:`~shopstream.runners.embedded.source.Source` view: lines from byte
        ``position`` on."""
        if not position:
            return iter(self)
        return iter(JsonlSource(self.path, position, self.max_line_bytes))

    def commit(self, position: int) -> None:
        """Files need no acknowledgement."""

    def close(self) -> None:
        """Each read closes its own handle."""

    def size(self) -> int | None:
        """Bytes in the file, or ``None`` for standard input."""
        return None if self.is_stdin else Path(self.path).stat().st_size

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        if self.is_stdin:
            yield from _lines(sys.stdin.buffer, 0, self.max_line_bytes)
            return
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below, generator-owned
        except OSError as exc:
            msg = f"cannot read input file {self.path!r}: {exc.strerror}"
            raise SourceError(msg) from None
        with handle:
            handle.seek(self.start_offset)
            yield from _lines(handle, self.start_offset, self.max_line_bytes)


def _lines(handle: IO[bytes], offset: int, cap: int | None) -> Iterator[tuple[bytes, int]]:
    if cap is None:
        for line in handle:
            offset += len(line)
            stripped = line.strip()
            if stripped:
                yield stripped, offset
        return
    readline = handle.readline
    while line := readline(cap + 2):  # room for the content, one byte more, and "\n"
        offset += len(line)
        if len(line) > cap + 1 and not line.endswith(b"\n"):
            line = line[:cap + 1]
            while rest := readline(1 << 20):  # skip the rest without holding it
                offset += len(rest)
                if rest.endswith(b"\n"):
                    break
        stripped = line.strip()
        if stripped:
            yield stripped, offset


class JsonlSinks:
    """One ``<stream>.jsonl`` file per output stream under ``directory``.

    ``positions()`` flushes and fsyncs every file and returns its size, for a checkpoint;
    ``truncate(positions)`` cuts files back to a checkpoint so a resumed run neither loses
    nor duplicates lines.

    Each record is encoded once, straight into its stream's buffer, and the buffer goes
    to the file in batches of ``_BATCH_BYTES`` (and at every checkpoint and at close):
    a write and a copy of the line per record cost about as much as encoding it.
    """

    def __init__(self, directory: str | Path, streams: Iterable[str],
                 positions: dict[str, int] | None = None) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"cannot create output directory {str(directory)!r}: {exc.strerror}"
            raise SourceError(msg) from None
        self._encode_into = msgspec.json.Encoder().encode_into
        self._files: dict[str, IO[bytes]] = {}
        self._buffers: dict[str, bytearray] = {}
        self.counts: dict[str, int] = {}
        for stream in streams:
            path = self.directory / f"{stream}.jsonl"
            keep = (positions or {}).get(stream, 0)
            try:
                handle = open(path, "r+b" if keep and path.exists() else "wb")  # noqa: SIM115
            except OSError as exc:
                msg = f"cannot write output file {str(path)!r}: {exc.strerror}"
                raise SourceError(msg) from None
            handle.truncate(keep)
            handle.seek(keep)
            self._files[stream] = handle
            self._buffers[stream] = bytearray()
            self.counts[stream] = 0

    def path(self, stream: str) -> Path:
        return self.directory / f"{stream}.jsonl"

    def write(self, out: Output) -> None:
        stream = out.stream
        buffer = self._buffers.get(stream)
        if buffer is None:
            return
        end = len(buffer)
        try:
            self._encode_into(out.record, buffer, -1)
        except BaseException:
            del buffer[end:]  # a record that does not encode leaves no partial line
            raise
        buffer.append(10)  # b"\n"
        self.counts[stream] += 1
        if len(buffer) >= _BATCH_BYTES:
            self._files[stream].write(buffer)
            buffer.clear()

    def _write_buffers(self) -> None:
        for stream, buffer in self._buffers.items():
            if buffer:
                self._files[stream].write(buffer)
                buffer.clear()

    def positions(self) -> dict[str, int]:
        self._write_buffers()
        result = {}
        for stream, handle in self._files.items():
            handle.flush()
            os.fsync(handle.fileno())
            result[stream] = handle.tell()
        return result

    def close(self) -> None:
        self._write_buffers()
        for handle in self._files.values():
            handle.flush()
            handle.close()
