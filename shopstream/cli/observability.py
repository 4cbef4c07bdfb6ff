"""``--metrics-port``: ``/metrics`` and ``/health`` for ``shopstream run`` (always on with
``--kafka`` and ``--postgres``, on a free port unless one is given), and the sources that
count what they read for it.

Examples
--------
>>> import argparse, json, urllib.request
>>> parser = argparse.ArgumentParser(); add_metrics_arguments(parser)
>>> args = parser.parse_args(["--metrics-port", "0"])
>>> served = start_metrics(args, RunObserver("run"), quiet=True)
>>> json.loads(urllib.request.urlopen(served.url + "/health").read())["command"]
'run'
>>> served.stop()
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from shopstream.api.metrics_server import MetricsServer
from shopstream.api.run_metrics import RunObserver
from shopstream.cli.preflight import require_postgres
from shopstream.connectors.files import JsonlSource
from shopstream.stores.base import FeatureStore

__all__ = ["CountingJsonlSource", "ObservedRun", "RunObserver",
           "add_metrics_arguments", "metrics_wanted", "observed_run", "start_metrics"]


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """``--metrics-port`` and ``--metrics-host``."""
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve Prometheus /metrics and JSON /health on PORT (0: a free "
                             "port, printed at start); with --kafka or --postgres always on, "
                             "on a free port unless given")
    parser.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                        help="address of --metrics-port (default 127.0.0.1)")


def metrics_wanted(args: argparse.Namespace) -> bool:
    """Whether this run serves metrics: asked for, or a long-running input."""
    return (getattr(args, "metrics_port", None) is not None
            or bool(getattr(args, "kafka", None)) or bool(getattr(args, "postgres", None)))


def start_metrics(args: argparse.Namespace, observer: RunObserver,
                  quiet: bool = False) -> MetricsServer:
    """Start the metrics server of ``args`` for ``observer``; say where on stderr."""
    port = getattr(args, "metrics_port", None)
    server = MetricsServer(args.metrics_host, 0 if port is None else port,
                           observer.metrics, observer.health)
    server.start()
    if not quiet:
        print(f"shopstream {observer.command}: metrics at {server.url}/metrics, health at "
              f"{server.url}/health", file=sys.stderr, flush=True)
    return server


class ObservedRun:
    """The observability of one ``run``: nothing when not wanted (``observer`` is
    ``None``), else a :class:`RunObserver` among the taps and its server."""

    def __init__(self, args: argparse.Namespace, observer: RunObserver | None) -> None:
        self.args = args
        self.observer = observer
        self.server: MetricsServer | None = None

    def start(self, runner: Any) -> None:
        """Serve ``/metrics`` for ``runner`` (its engine exists once its run starts)."""
        if self.observer is not None:
            if getattr(self.args, "postgres", None):
                # Its one-line failure comes before the metrics banner.
                require_postgres(self.args.postgres)
            self.observer.set_engine(lambda: getattr(runner, "engine", None))
            self.server = start_metrics(self.args, self.observer)

    def file_source(self, path: str, runner: Any) -> str | JsonlSource:
        """The input file as the runner should read it: counted when observed."""
        if self.observer is None:
            return path
        counting = CountingJsonlSource(path, runner.limits.max_line_bytes)
        self.observer.set_events_in(lambda: counting.lines)
        return counting

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def observed_run(args: argparse.Namespace, store: FeatureStore | None,
                 taps: list[Any]) -> ObservedRun:
    """The observability ``args`` ask for; its observer is appended to ``taps``."""
    if not metrics_wanted(args):
        return ObservedRun(args, None)
    observer = RunObserver("run", store=store)
    taps.append(observer)
    return ObservedRun(args, observer)


class CountingJsonlSource(JsonlSource):
    """A :class:`JsonlSource` that counts the lines it yields (``lines``) for metrics."""

    def __init__(self, path: str, max_line_bytes: int | None = None) -> None:
        super().__init__(path, max_line_bytes=max_line_bytes)
        self.lines = 0

    def read(self, position: int | None) -> Iterator[tuple[bytes, int]]:
        for item in super().read(position):
            self.lines += 1
            yield item
