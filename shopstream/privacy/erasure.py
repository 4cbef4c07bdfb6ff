"""Erasing a shopper: from the store, the lake, operator state and the checkpoint, on record.

:func:`erase_user` removes the shopper named by a raw user id (and, with a
pseudonymisation key, by its pseudonym) from

- operator keyed state: of a running engine (``live``: ``shopstream serve``'s pipeline)
  and of the checkpoint in ``checkpoint_dir``, which is rewritten so the next run resumes
  without them (:mod:`shopstream.privacy.scrub`);
- the Parquet lake (:mod:`shopstream.privacy.lake_erasure`; on S3
  :mod:`shopstream.privacy.s3_erasure`, through one commit) and the JSONL output streams
  of ``run --output-dir`` (:mod:`shopstream.privacy.output_erasure`);
- the jobs' saved model versions (their history, :meth:`ModelRepository.forget
  <shopstream.jobs.models.ModelRepository.forget>`);
- the feature store: every key that is theirs or their sessions' and every value that
  names them (``erase_entities`` of the embedded and Redis stores);

then appends what was removed, with counts and the time, to the erasure log
(:class:`ErasureLog`, JSON lines), so that a request can be shown to have been met. The
log never holds the id: it keeps a digest of it (:func:`subject_digest`), which whoever
holds the id (and the key) can recompute to find the request's record.

Examples
--------
>>> import pathlib, tempfile
>>> from shopstream.stores.embedded import SqliteStore
>>> from shopstream.stores.base import StoreEntry
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> store = SqliteStore(d / "f.db")
>>> store.write_batch([StoreEntry("user:ann:orders_count_24hr", 2),
...                    StoreEntry("user:bo:orders_count_24hr", 1)])
>>> log = ErasureLog(d / "erasures.jsonl")
>>> report = erase_user("ann", store=store, log=log, clock=lambda: 0.0)
>>> report.store_keys, store.get("user:bo:orders_count_24hr")
(1, 1)
>>> [r["at"] for r in log.records()], log.find("ann")["store"]["keysRemoved"]
(['1970-01-01T00:00:00Z'], 1)
>>> store.close()
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import msgspec

from shopstream.errors import ConfigError, ShopstreamError
from shopstream.events.pseudonym import Pseudonymiser
from shopstream.privacy.erasure_log import (
    ERASURE_LOG_ENV,
    ErasureLog,
    ErasureReport,
    erasure_log_beside,
    subject_digest,
)
from shopstream.privacy.errors import ErasureError  # defined there, importable from here
from shopstream.privacy.scrub import ScrubResult, scrub_engine_snapshot
from shopstream.redaction import redact
from shopstream.stores.key_owner import key_owned

__all__ = ["ERASURE_LOG_ENV", "ErasableStore", "ErasureError", "ErasureLog", "ErasureReport",
           "erase_user", "erasure_ids", "erasure_log_beside", "matching_keys", "models_beside",
           "scrub_engine", "subject_digest"]

_encode_json = msgspec.json.Encoder().encode
_MAX_ID = 256


@runtime_checkable
class ErasableStore(Protocol):
    """A store that can delete one shopper's entries (both stores implement it)."""

    url: str

    def erase_entities(self, ids: list[str], mentions: list[bytes]) -> list[str]: ...


class _Engine(Protocol):
    def snapshot(self) -> dict[str, Any]: ...
    def restore(self, snap: dict[str, Any]) -> None: ...


def erasure_ids(user_id: str, pseudonymiser: Pseudonymiser | None) -> frozenset[str]:
    """The ids a shopper may be known by: the raw id and, with a key, its pseudonym.

    >>> sorted(erasure_ids("ann", None))
    ['ann']
    >>> len(erasure_ids("ann", Pseudonymiser(b"k" * 16)))
    2
    >>> erasure_ids(" ", None)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: erase: the user id must be 1 to 256 characters, not blank
    """
    if not user_id or user_id.isspace() or len(user_id) > _MAX_ID:
        msg = f"erase: the user id must be 1 to {_MAX_ID} characters, not blank"
        raise ConfigError(msg)
    ids = {user_id}
    if pseudonymiser is not None:
        ids.add(pseudonymiser.pseudonym(user_id))
    return frozenset(ids)


def scrub_engine(engine: _Engine, ids: frozenset[str],
                 sessions: frozenset[str] = frozenset()) -> ScrubResult:
    """Remove the shopper of ``ids`` from a running engine's state (call it on the thread
    that owns the engine): snapshot, scrub, restore."""
    result = scrub_engine_snapshot(engine.snapshot(), ids, sessions)
    engine.restore(result.snapshot)
    return result


def matching_keys(entries: Iterable[tuple[str, Any]], ids: Iterable[str],
                  mentions: Iterable[bytes]) -> list[str]:
    """The keys of ``(key, value)`` pairs that belong to one of ``ids``
    (:func:`~shopstream.stores.key_owner.key_owned`) or whose JSON value contains one of
    ``mentions``: the rule of the stores' ``erase_entities``, for copies of store values
    held elsewhere (the store writer's mirror).

    >>> matching_keys([("user:u1:x", 1), ("user:u10:x", 2), ("recs:session:s", {"u": "u1"})],
    ...               ["u1"], [b'"u1"'])
    ['user:u1:x', 'recs:session:s']
    """
    owners = frozenset(ids)
    needles = list(mentions)
    found = []
    for key, value in entries:
        if key_owned(key, owners):
            found.append(key)
            continue
        encoded = _encode_json(value)
        if any(needle in encoded for needle in needles):
            found.append(key)
    return found


def models_beside(store_url: str) -> Path | None:
    """The jobs' default model directory beside a SQLite store (``features.models`` for
    ``features.db``) when it exists; ``None`` for a server store or when there is none.

    >>> models_beside("redis://localhost:6379") is None
    True
    """
    if "://" in store_url:
        return None
    path = Path(store_url)
    beside = path.with_name(path.stem + ".models")
    return beside if beside.is_dir() else None


def _load_checkpoint(directory: Path) -> dict[str, Any] | None:
    from shopstream.runners.embedded.checkpoint import CheckpointStore

    return CheckpointStore(directory).load()


def _save_checkpoint(directory: Path, snapshot: dict[str, Any]) -> None:
    from shopstream.runners.embedded.checkpoint import CheckpointStore

    CheckpointStore(directory).save(snapshot)


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def erase_user(user_id: str, *, store: ErasableStore | None = None,
               lake: str | Path | None = None, checkpoint_dir: str | Path | None = None,
               output_dir: str | Path | None = None, models: str | Path | None = None,
               pseudonymiser: Pseudonymiser | None = None, log: ErasureLog | None = None,
               live: Callable[[frozenset[str]], ScrubResult] | None = None,
               requested_by: str = "cli", clock: Callable[[], float] = time.time,
               ) -> ErasureReport:
    """Erase the shopper ``user_id`` everywhere given, and record it in ``log``.

    ``output_dir`` is the ``--output-dir`` of ``run``: its JSONL streams are rewritten
    without their records, and the checkpoint's file positions follow.
    ``models`` is the directory of the jobs' trained model versions: each version holding
    their history is rewritten without it.
    ``live`` scrubs a running pipeline: it is called with the ids and returns the
    :class:`ScrubResult` (``serve`` runs :func:`scrub_engine` on its pipeline thread).
    A part that fails is named in the report's ``errors`` (and in the log); the others
    are still done. Raises :class:`ErasureError` after logging when any part failed.
    """
    ids = erasure_ids(user_id, pseudonymiser)
    started = time.perf_counter()
    report = ErasureReport(erasure_id=uuid.uuid4().hex, at=_utc(clock()),
                           subject=subject_digest(user_id, pseudonymiser),
                           requested_by=requested_by)
    sessions: set[str] = set()
    # The order matters: the live pipeline, the lake and the checkpoint find the sessions
    # the outputs and the store are then cleared of.
    if live is not None:
        _erase_live(live, ids, sessions, report)
    if lake is not None:
        _erase_lake(lake, ids, sessions, report)
    checkpoint = None if checkpoint_dir is None else _scrub_checkpoint(
        Path(checkpoint_dir), ids, sessions, report)
    if output_dir is not None:
        checkpoint = _erase_outputs(output_dir, ids | sessions, checkpoint, report)
    if checkpoint is not None and checkpoint_dir is not None:
        try:
            _save_checkpoint(Path(checkpoint_dir), checkpoint)
        except ShopstreamError as exc:
            report.errors.append(f"checkpoint: {exc}")
    if models is not None:
        _erase_models(models, ids, report)
    if store is not None:
        _erase_store(store, ids, sessions, report)
    report.sessions = len(sessions)
    report.seconds = time.perf_counter() - started
    if log is not None:
        log.append(report.record())
    if report.errors:
        msg = "erasure incomplete: " + "; ".join(report.errors)
        raise ErasureError(msg)
    return report


def _erase_live(live: Callable[[frozenset[str]], ScrubResult], ids: frozenset[str],
                sessions: set[str], report: ErasureReport) -> None:
    """Scrub the running pipeline; its sessions join ``sessions``."""
    try:
        result = live(ids)
        sessions |= result.sessions
        report.live = result.counts()
        report.errors += [f"live pipeline: broadcast state of {name!r} still names them"
                          for name in result.unscrubbed]
    except ShopstreamError as exc:
        report.errors.append(f"live pipeline: {exc}")


def _erase_lake(lake: str | Path, ids: frozenset[str], sessions: set[str],
                report: ErasureReport) -> None:
    """Rewrite the lake without them; the sessions its rows name join ``sessions``."""
    try:
        from shopstream.privacy.lake_erasure import erase_from_lake

        erased = erase_from_lake(lake, ids, sessions)
        sessions |= set(erased.sessions)
        report.lake = {"filesRewritten": erased.files_rewritten,
                       "filesDeleted": erased.files_deleted,
                       "rowsRemoved": erased.rows_removed,
                       "rows": sum(erased.rows_removed.values())}
        if erased.commit:  # a lake on S3: the commit that replaced its files
            report.lake["lake"] = redact(str(lake))
            report.lake["commit"] = erased.commit
    except ShopstreamError as exc:
        report.errors.append(f"lake: {exc}")


def _scrub_checkpoint(directory: Path, ids: frozenset[str], sessions: set[str],
                      report: ErasureReport) -> dict[str, Any] | None:
    """The checkpoint of ``directory`` with its engine state scrubbed (not saved yet), or
    ``None`` when there is none or it cannot be read."""
    try:
        checkpoint = _load_checkpoint(directory)
        if checkpoint is None:
            report.checkpoint = {"found": False}
            return None
        scrubbed = scrub_engine_snapshot(checkpoint["engine"], ids, frozenset(sessions))
        sessions |= scrubbed.sessions
        report.errors += [f"checkpoint: broadcast state of {name!r} still names them"
                          for name in scrubbed.unscrubbed]
        report.checkpoint = scrubbed.counts()
        return {**checkpoint, "engine": scrubbed.snapshot}
    except ShopstreamError as exc:
        report.errors.append(f"checkpoint: {exc}")
        return None


def _erase_outputs(output_dir: str | Path, names: frozenset[str],
                   checkpoint: dict[str, Any] | None, report: ErasureReport,
                   ) -> dict[str, Any] | None:
    """Rewrite the output streams without ``names``; the checkpoint with its file
    positions moved to match."""
    try:
        from shopstream.privacy.output_erasure import erase_from_outputs

        positions = checkpoint.get("sinks") if checkpoint is not None else None
        written, moved = erase_from_outputs(output_dir, names, positions)
        if checkpoint is not None and moved is not None:
            checkpoint = {**checkpoint, "sinks": moved}
        report.outputs = {"filesRewritten": written.files_rewritten,
                          "linesRemoved": written.lines_removed,
                          "lines": sum(written.lines_removed.values())}
    except ShopstreamError as exc:
        report.errors.append(f"outputs: {exc}")
    return checkpoint


def _erase_models(models: str | Path, ids: frozenset[str], report: ErasureReport) -> None:
    """Rewrite the saved model versions that hold their history."""
    try:
        from shopstream.jobs.models import ModelRepository

        repository = ModelRepository(models)
        report.models = {"versionsRewritten": sum(repository.forget(one)
                                                  for one in sorted(ids))}
    except ShopstreamError as exc:
        report.errors.append(f"models: {exc}")


def _erase_store(store: ErasableStore, ids: frozenset[str], sessions: set[str],
                 report: ErasureReport) -> None:
    """Delete their keys and their sessions' keys, and the values that name them."""
    try:
        mentions = [json.dumps(one).encode() for one in sorted(ids)]
        keys = store.erase_entities(sorted(ids | sessions), mentions)
        kinds: dict[str, int] = {}
        for key in keys:
            kind = key.split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        report.store = {"keysRemoved": len(keys), "byKind": kinds}
    except ShopstreamError as exc:
        report.errors.append(f"store: {exc}")
