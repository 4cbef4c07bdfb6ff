"""The erasure log: what each erasure removed, kept on record without the shopper's id.

:class:`ErasureLog` appends one JSON object a line (fsynced, never rewritten) for each
:class:`ErasureReport` of :func:`~shopstream.privacy.erasure.erase_user`, so that a request
can be shown to have been met. A record never holds the id: it keeps a digest of it
(:func:`subject_digest`), which whoever holds the id (and the key) can recompute to find the
request's record (:meth:`ErasureLog.find`).

Examples
--------
>>> import pathlib, tempfile
>>> log = ErasureLog(pathlib.Path(tempfile.mkdtemp()) / "erasures.jsonl")
>>> report = ErasureReport("e1", "1970-01-01T00:00:00Z", subject_digest("ann", None), "cli")
>>> log.append(report.record())
>>> log.find("ann")["erasureId"], log.find("bo") is None
('e1', True)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopstream.events.pseudonym import Pseudonymiser
from shopstream.privacy.errors import ErasureError

__all__ = ["ERASURE_LOG_ENV", "ErasureLog", "ErasureReport", "erasure_log_beside",
           "subject_digest"]

#: Environment variable naming the erasure log of ``serve`` (``--erasure-log``).
ERASURE_LOG_ENV = "SHOPSTREAM_ERASURE_LOG"


def subject_digest(user_id: str, pseudonymiser: Pseudonymiser | None) -> str:
    """What the erasure log keeps instead of the id: keyed (HMAC) when a key is
    configured, and never equal to the pseudonym the pipeline uses.

    >>> subject_digest("ann", None)[:7], len(subject_digest("ann", None))
    ('sha256:', 71)
    """
    data = ("shopstream-erasure:" + user_id).encode()
    if pseudonymiser is not None:
        inner = pseudonymiser.pseudonym(user_id).encode()
        return "hmac:" + hmac.new(inner, data, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class ErasureReport:
    """What one erasure removed, where (the record the log keeps)."""

    erasure_id: str
    at: str
    subject: str
    requested_by: str
    store: dict[str, Any] | None = None
    lake: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    live: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    models: dict[str, Any] | None = None
    sessions: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def store_keys(self) -> int:
        return int(self.store["keysRemoved"]) if self.store else 0

    @property
    def complete(self) -> bool:
        return not self.errors

    def record(self) -> dict[str, Any]:
        """The JSON object of the erasure log."""
        return {"erasureId": self.erasure_id, "at": self.at, "subject": self.subject,
                "requestedBy": self.requested_by, "complete": self.complete,
                "store": self.store, "lake": self.lake, "checkpoint": self.checkpoint,
                "live": self.live, "outputs": self.outputs, "models": self.models,
                "sessions": self.sessions,
                "seconds": round(self.seconds, 3), "errors": self.errors}


class ErasureLog:
    """The erasure log: one JSON object a line, appended and fsynced, never rewritten."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, separators=(",", ":")) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            msg = f"cannot write the erasure log {str(self.path)!r}: {exc.strerror}"
            raise ErasureError(msg) from None

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    def find(self, user_id: str, pseudonymiser: Pseudonymiser | None = None,
             ) -> dict[str, Any] | None:
        """The latest record of an erasure of ``user_id``, or ``None``."""
        subject = subject_digest(user_id, pseudonymiser)
        found = None
        for record in self.records():
            if record.get("subject") == subject:
                found = record
        return found


def erasure_log_beside(store_url: str | None) -> Path:
    """The default erasure log: beside a SQLite store (``features.erasures.jsonl`` for
    ``features.db``), else ``erasures.jsonl`` in the working directory.

    >>> str(erasure_log_beside("/data/features.db")), str(erasure_log_beside(None))
    ('/data/features.erasures.jsonl', 'erasures.jsonl')
    """
    if store_url is None or "://" in store_url:
        return Path("erasures.jsonl")
    path = Path(store_url)
    return path.with_name(path.stem + ".erasures.jsonl")
