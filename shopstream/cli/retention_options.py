"""``--retention-config FILE``, shared by ``run`` and ``serve``.

The file is a jobs configuration (TOML or JSON, see docs/jobs.md) with a ``[retention]``
section: days per stream, ``default`` and ``store`` (the longest any value lives in the
feature store). The command's store writer caps every time to live at ``store`` days
(:meth:`~shopstream.privacy.retention.RetentionConfig.cap_ttls`); ``serve`` also hands
the periods to its retention cleanup job. The same file may be given as ``--jobs-config``.

Examples
--------
>>> import argparse, pathlib, tempfile
>>> parser = argparse.ArgumentParser()
>>> add_retention_argument(parser)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "jobs.json"
>>> _ = path.write_text('{"retention": {"events": 30, "store": 2}}')
>>> config = retention_config(parser.parse_args(["--retention-config", str(path)]))
>>> config.store_days, config.days_for("events")
(2, 30)
>>> retention_config(parser.parse_args([])) is None
True
"""

from __future__ import annotations

import argparse

from shopstream.jobs.config import load_retention_config
from shopstream.privacy.retention import RetentionConfig

__all__ = ["add_retention_argument", "retention_config"]


def add_retention_argument(parser: argparse.ArgumentParser) -> None:
    """``--retention-config FILE``."""
    parser.add_argument("--retention-config", metavar="FILE",
                        help="retention periods: the [retention] section of a TOML or JSON "
                             "jobs configuration (stream = days, default, store); store "
                             "values then live at most `store` days (default: no cap beyond "
                             "the built-in times to live; see docs/privacy.md)")


def retention_config(args: argparse.Namespace) -> RetentionConfig | None:
    """The periods of ``--retention-config``, or ``None`` when it is not given."""
    path = getattr(args, "retention_config", None)
    return load_retention_config(path) if path else None
