"""Errors of the embedded runner.

A checkpoint that cannot be written, read or resumed raises the shared
:class:`~shopstream.errors.CheckpointError` (``serve`` and the Flink runner raise it too);
an operator that misuses its state raises :class:`~shopstream.state.errors.StateError`.

Examples
--------
>>> from shopstream.runners.errors import RunnerError
>>> issubclass(EmbeddedRunnerError, RunnerError)
True
"""

from __future__ import annotations

from shopstream.errors import CheckpointError
from shopstream.runners.errors import RunnerError

__all__ = ["CheckpointError", "EmbeddedRunnerError"]


class EmbeddedRunnerError(RunnerError):
    """The embedded runner could not run a topology as asked."""
