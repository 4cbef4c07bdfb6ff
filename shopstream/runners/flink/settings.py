"""The Flink configuration of a job: where it runs, checkpoints, restore (no PyFlink).

Examples
--------
>>> from shopstream.runners.flink.runner import FlinkConfig
>>> job_settings(FlinkConfig())
{'python.execution-mode': 'thread', 'pipeline.object-reuse': 'true'}
>>> settings = job_settings(FlinkConfig(jobmanager="127.0.0.1:8081",
...                                     checkpoint_dir="/tmp/ck", restore_from="/tmp/ck/x/chk-3"))
>>> settings["execution.target"], settings["rest.port"], settings["execution.checkpointing.dir"]
('remote', '8081', 'file:///tmp/ck')
>>> settings["execution.state-recovery.path"]
'file:///tmp/ck/x/chk-3'
>>> parse_jobmanager("localhost")
Traceback (most recent call last):
...
shopstream.errors.ConfigError: --jobmanager must be HOST:PORT, got 'localhost'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from shopstream.errors import ConfigError, ShopstreamError

if TYPE_CHECKING:
    from shopstream.runners.flink.runner import FlinkConfig

#: Restarts from the last checkpoint before a job with checkpoints is failed.
RESTART_ATTEMPTS = 3

__all__ = ["RESTART_ATTEMPTS", "job_settings", "latest_checkpoint", "parse_jobmanager"]


def parse_jobmanager(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as ``(host, port)``; :class:`ConfigError` naming the value otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        msg = f"--jobmanager must be HOST:PORT, got {text!r}"
        raise ConfigError(msg)
    return host, int(port)


def _uri(path: str) -> str:
    """A path as a URI; a URI (``file:/x``, as Flink names savepoints, ``s3://b/x``) as is.

    >>> _uri("file:/tmp/sp"), _uri("s3://bucket/ck"), _uri("/tmp/ck")
    ('file:/tmp/sp', 's3://bucket/ck', 'file:///tmp/ck')
    """
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]+:", path):
        return path
    return Path(path).resolve().as_uri()


def job_settings(config: FlinkConfig) -> dict[str, str]:
    """Flink configuration keys (Flink 2.x names) for a job run with ``config``."""
    settings = {"python.execution-mode": config.execution_mode,
                # Records pass between chained Java operators (the timestamp assigner
                # behind each events path, the sinks) without a copy each: none of them
                # keeps a record, and every Python operator's output is a new object.
                "pipeline.object-reuse": "true"}
    if config.jobmanager is not None:
        host, port = parse_jobmanager(config.jobmanager)
        settings |= {"execution.target": "remote", "rest.address": host,
                     "rest.port": str(port)}
    if config.checkpoint_dir is not None:
        settings |= {
            "state.backend.type": "hashmap",
            "execution.checkpointing.dir": _uri(config.checkpoint_dir),
            "execution.checkpointing.interval": f"{config.checkpoint_interval_ms} ms",
            # Aligned barriers: state is consistent with the source position, so only the
            # sinks' records after the checkpoint repeat on restore (at-least-once output).
            "execution.checkpointing.mode": "EXACTLY_ONCE",
            # Kept when the job is cancelled, so it can be restarted from its checkpoint.
            "execution.checkpointing.externalized-checkpoint-retention":
                "RETAIN_ON_CANCELLATION",
            # A few restarts from the last checkpoint (a lost TaskManager), not Flink's
            # default with checkpoints of restarting a failing job forever.
            "restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": str(RESTART_ATTEMPTS),
            "restart-strategy.fixed-delay.delay": "2 s",
        }
    if config.restore_from is not None:
        settings["execution.state-recovery.path"] = _uri(config.restore_from)
    return settings


def latest_checkpoint(checkpoint_dir: str | Path) -> Path:
    """The newest complete checkpoint under ``checkpoint_dir`` (Flink writes
    ``<dir>/<job id>/chk-<n>/_metadata``; a checkpoint without ``_metadata`` is partial).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for chk in ("a/chk-2", "a/chk-10", "b/chk-11"):
    ...     (root / chk).mkdir(parents=True)
    >>> for chk in ("a/chk-2", "a/chk-10"):
    ...     (root / chk / "_metadata").write_bytes(b"x")
    1
    1
    >>> latest_checkpoint(root).relative_to(root).as_posix()
    'a/chk-10'
    """
    found = [(meta.stat().st_mtime_ns, int(meta.parent.name[4:]), meta.parent)
             for meta in Path(checkpoint_dir).glob("*/chk-*/_metadata")
             if meta.parent.name[4:].isdigit()]
    if not found:
        msg = f"no complete Flink checkpoint in {str(checkpoint_dir)!r} (nothing to resume)"
        raise ShopstreamError(msg)
    return max(found)[2]
