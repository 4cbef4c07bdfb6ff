"""A local write-ahead log: records appended to segment files, made durable by ``sync``.

Each record is framed as ``length (u32) | crc32 (u32) | kind (u8) | payload`` (little
endian; the checksum covers kind and payload). A *position* is a byte offset in the
whole log, counted over every segment ever written: segment files are named after the
position of their first byte (``00000000000000000000.wal``), so a position names one
place for good, even after older segments are deleted.

Durability is the caller's choice of moment: :meth:`WriteAheadLog.append` writes into
the file's buffer, :meth:`WriteAheadLog.sync` flushes and ``fdatasync``\\ s once for every
record appended since (group commit). On open, a torn record at the end of the last
segment (a crash in the middle of a write that was never synced, hence never
acknowledged) is cut off; a bad record anywhere else is an error, never skipped.

Bounded disk: a segment is closed once it reaches ``segment_bytes``; :meth:`release`
deletes every closed segment that ends at or before a position a checkpoint covers.

Examples
--------
>>> import tempfile
>>> wal = WriteAheadLog(WalConfig(tempfile.mkdtemp(), segment_bytes=64))
>>> first = wal.append(1, b"hello")
>>> end = wal.append(1, b"world")
>>> wal.sync()
>>> [(kind, payload, pos) for kind, payload, pos in wal.records(0)]
[(1, b'hello', 14), (1, b'world', 28)]
>>> [payload for _, payload, _ in wal.records(first)]
[b'world']
>>> wal.close()
>>> WalConfig("d", segment_bytes=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: WalConfig.segment_bytes must be > 0, got 0
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# WalError lives in connectors/errors.py; imported from here too.
from shopstream.connectors.errors import WalError
from shopstream.errors import ConfigError

__all__ = ["WalConfig", "WalError", "WriteAheadLog"]

_HEADER = struct.Struct("<IIB")
_SUFFIX = ".wal"
#: A record larger than this is refused (and a header claiming more is corruption).
MAX_RECORD_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class WalConfig:
    """Where the log lives and how large a segment grows before the next one starts.

    Parameters
    ----------
    directory
        The log's own directory (created if missing).
    segment_bytes
        Size after which a segment is closed (default 64 MiB); the disk used is at most
        what was appended since the last released position plus one segment.
    """

    directory: str | Path
    segment_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.segment_bytes <= 0:
            msg = f"WalConfig.segment_bytes must be > 0, got {self.segment_bytes!r}"
            raise ConfigError(msg)


class WriteAheadLog:
    """Append, sync, read back from a position, and release what a checkpoint covers.

    ``append`` and ``sync`` belong to one writer thread; ``records`` (at start-up) and
    ``release`` (from the checkpointing thread) may run beside it.
    """

    def __init__(self, config: WalConfig) -> None:
        self.config = config
        self.directory = Path(config.directory)
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            starts = self._segment_starts()
            if not starts:
                starts = [0]
                self._create(0).close()
            last = starts[-1]
            end = last + _valid_length(self._path(last), last)
            self._segments = starts
            self._file: BinaryIO = open(self._path(last), "r+b")  # noqa: SIM115 - kept open
            self._file.truncate(end - last)
            self._file.seek(end - last)
        except OSError as exc:
            msg = f"cannot open the write-ahead log in {str(self.directory)!r}: {exc.strerror}"
            raise WalError(msg) from None
        self.position = end
        self.synced = end

    # -- writing -------------------------------------------------------------------------
    def append(self, kind: int, payload: bytes) -> int:
        """Write one record (not yet durable); return the position after it."""
        if len(payload) > MAX_RECORD_BYTES:
            msg = f"write-ahead log record of {len(payload)} bytes exceeds {MAX_RECORD_BYTES}"
            raise WalError(msg)
        header = _HEADER.pack(len(payload), zlib.crc32(payload, zlib.crc32(bytes((kind,)))),
                              kind)
        try:
            self._file.write(header)
            self._file.write(payload)
        except OSError as exc:
            msg = f"cannot append to the write-ahead log in {str(self.directory)!r}: " \
                  f"{exc.strerror}"
            raise WalError(msg) from None
        self.position += _HEADER.size + len(payload)
        return self.position

    def sync(self) -> None:
        """Make every appended record durable (one flush and ``fdatasync``), then start
        a new segment if this one is full."""
        if self.synced == self.position:
            return
        try:
            self._file.flush()
            os.fdatasync(self._file.fileno())
            self.synced = self.position
            if self.position - self._segments[-1] >= self.config.segment_bytes:
                self._rotate()
        except OSError as exc:
            msg = f"cannot sync the write-ahead log in {str(self.directory)!r}: {exc.strerror}"
            raise WalError(msg) from None

    def _rotate(self) -> None:
        new = self._create(self.position)
        self._file.close()
        self._file = new
        with self._lock:
            self._segments.append(self.position)

    def _create(self, start: int) -> BinaryIO:
        handle = open(self._path(start), "w+b")  # noqa: SIM115 - the caller keeps it
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's name must survive a crash too
        finally:
            os.close(dir_fd)
        return handle

    # -- reading and releasing ---------------------------------------------------------
    def records(self, start: int) -> Iterator[tuple[int, bytes, int]]:
        """``(kind, payload, position after it)`` of every synced record from ``start``
        (a position :meth:`append` returned, or 0)."""
        with self._lock:
            segments = list(self._segments)
        if start < segments[0]:
            msg = (f"write-ahead log position {start} was released (the log in "
                   f"{str(self.directory)!r} starts at {segments[0]})")
            raise WalError(msg)
        ends = [*segments[1:], self.synced]
        for seg_start, seg_end in zip(segments, ends, strict=True):
            if seg_end <= start:
                continue
            offset = max(start - seg_start, 0)
            with open(self._path(seg_start), "rb") as handle:
                handle.seek(offset)
                position = seg_start + offset
                while position < seg_end:
                    kind, payload = _read_record(handle, self._path(seg_start), position)
                    position += _HEADER.size + len(payload)
                    yield kind, payload, position

    def release(self, position: int) -> int:
        """Delete the closed segments that end at or before ``position``; return how many."""
        with self._lock:
            doomed = [s for s, nxt in zip(self._segments, self._segments[1:], strict=False)
                      if nxt <= position]
            self._segments = self._segments[len(doomed):]
        for start in doomed:
            self._path(start).unlink(missing_ok=True)
        return len(doomed)

    @property
    def disk_bytes(self) -> int:
        """Bytes of every segment still on disk."""
        with self._lock:
            first = self._segments[0]
        return self.position - first

    @property
    def segments(self) -> int:
        with self._lock:
            return len(self._segments)

    def close(self) -> None:
        self.sync()
        self._file.close()

    def _segment_starts(self) -> list[int]:
        starts = []
        for path in self.directory.iterdir():
            if path.suffix == _SUFFIX and path.stem.isdigit():
                starts.append(int(path.stem))
        return sorted(starts)

    def _path(self, start: int) -> Path:
        return self.directory / f"{start:020d}{_SUFFIX}"


def _read_record(handle: BinaryIO, path: Path, position: int) -> tuple[int, bytes]:
    header = handle.read(_HEADER.size)
    if len(header) < _HEADER.size:
        msg = f"write-ahead log {str(path)!r} ends inside a record at position {position}"
        raise WalError(msg)
    length, crc, kind = _HEADER.unpack(header)
    payload = handle.read(length) if length <= MAX_RECORD_BYTES else b""
    if len(payload) != length or zlib.crc32(payload, zlib.crc32(bytes((kind,)))) != crc:
        msg = f"write-ahead log {str(path)!r} has a corrupt record at position {position}"
        raise WalError(msg)
    return kind, payload


def _valid_length(path: Path, start: int) -> int:
    """Bytes of ``path`` up to the end of its last whole, checksummed record."""
    valid = 0
    with open(path, "rb") as handle:
        while True:
            try:
                _, payload = _read_record(handle, path, start + valid)
            except WalError:
                return valid
            valid += _HEADER.size + len(payload)
