"""Errors of the Flink runner."""

from __future__ import annotations

from shopstream.errors import ConfigError, ShopstreamError

__all__ = ["FlinkClusterError", "FlinkJobError", "FlinkNotInstalledError", "FlinkRestoreError",
           "FlinkUnsupportedError"]


class FlinkUnsupportedError(ConfigError):
    """The topology or an option asks for something the Flink runner does not do yet."""


class FlinkRestoreError(ConfigError):
    """A checkpoint or savepoint cannot restore this job as it is (its state would be
    dropped without a word): the message names the operator uids and state names."""


class FlinkNotInstalledError(ShopstreamError):
    """PyFlink is missing: ``pip install 'shopstream[flink]'``."""


class FlinkJobError(ShopstreamError):
    """The Flink job failed; the message ends with the tail of its log."""


class FlinkClusterError(ShopstreamError):
    """A standalone cluster could not be started, found or reached."""
