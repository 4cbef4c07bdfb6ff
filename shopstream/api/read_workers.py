"""Read worker processes of ``shopstream serve --read-workers N``: reads away from the GIL.

The process hosting the pipeline answers reads between the pipeline thread's slices of
the GIL: a read arriving while an operator runs waits for the interpreter's switch
interval (5 ms), which set the read p99 (5.7 ms at 2,000 reads/s while the pipeline
wrote). Read workers are separate processes: :class:`ReadWorkers` binds the read port
in the server (so a busy port fails at start, and port 0 gets a real one), starts ``N``
processes of :mod:`shopstream.api.read_worker` that share that socket (the kernel hands
each connection to one of them), and keeps them running:

- each worker opens the store **read-only** (SQLite in WAL mode lets readers go on while
  the pipeline writes; a Redis client only reads) and serves the same app as the main
  port, so every read answers the same status and bytes, behind the same
  :class:`~shopstream.api.security.Guard` (API keys for reads with ``read_keys``, CORS);
  writes, WebSocket subscriptions and the Snowplow pixel get 421 naming the main port;
- a worker holds the read end of a *lifeline* pipe whose write end only the server
  holds: when the server exits, however it exits (even ``SIGKILL``), the pipe closes and
  the worker stops (:mod:`shopstream.api.read_worker`);
- a worker that dies is logged with its exit code and started again, at most
  :data:`MAX_RESTARTS` times (then ``/health`` says ``read workers failed``); ``/health``
  on the main port shows them (:meth:`ReadWorkers.status`), ``/health`` on the read port
  the worker that answered.

Cost: each worker is a Python process with its own app and store connection (about
60 MB); its CPU is only the reads'.

Examples
--------
>>> default_read_workers(cpus=2, hosts_pipeline=True), default_read_workers(8, True)
(1, 4)
>>> default_read_workers(cpus=1, hosts_pipeline=True), default_read_workers(8, False)
(0, 0)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from shopstream.errors import ConfigError

if TYPE_CHECKING:
    from shopstream.api.server import ServeConfig

__all__ = ["ENV", "MAX_RESTARTS", "ReadWorkers", "default_read_workers", "stop_processes"]

log = logging.getLogger("shopstream.api")
#: The environment variable carrying a worker's configuration (JSON).
ENV = "SHOPSTREAM_READ_WORKER"
#: Restarts of dead workers before the server gives up on them (``/health``: failed).
MAX_RESTARTS = 10
_READY_TIMEOUT_S = 60.0
_BACKLOG = 2_048


def default_read_workers(cpus: int | None, hosts_pipeline: bool) -> int:
    """Read workers when ``serve`` is not told: one core left to the pipeline process,
    the others (at most 4) to reads; none on one core (a second process would only
    compete with the pipeline for it) or without a hosted pipeline (no GIL to escape)."""
    if not hosts_pipeline or cpus is None or cpus < 2:
        return 0
    return min(4, cpus - 1)


class _Worker:
    """One worker process and what is known of its end."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.started = time.time()


class ReadWorkers:
    """``count`` read worker processes on ``host:port`` for ``config``'s store.

    Call :meth:`start` (before the pipeline starts: the workers are spawned, never
    forked from a process with threads) and :meth:`stop` on the way out."""

    def __init__(self, config: ServeConfig, count: int, host: str, port: int) -> None:
        if count < 1:
            msg = f"ReadWorkers.count must be >= 1, got {count!r}"
            raise ConfigError(msg)
        self.config = config
        self.count = count
        self.sock = _bind(host, port)
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        self.restarts = 0
        self.last_exit: str | None = None
        self.failed = False
        self._workers: list[_Worker] = []
        self._life_read, self._life_write = os.pipe()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._monitor = threading.Thread(target=self._watch, name="shopstream-read-workers",
                                         daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start the workers and wait until each has built its app (the socket already
        listens, so connections made meanwhile wait in its backlog); a worker that exits
        first raises :class:`~shopstream.errors.ConfigError` with its exit code."""
        try:
            for _ in range(self.count):
                self._workers.append(self._spawn())
        except BaseException:
            self.stop()
            raise
        self._monitor.start()

    def _spawn(self) -> _Worker:
        ready_read, ready_write = os.pipe()
        spec = {"config": asdict(self.config), "fd": self.sock.fileno(),
                "lifeline": self._life_read, "ready": ready_write,
                "main_port": self.config.port}
        env = dict(os.environ, **{ENV: json.dumps(spec)})
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "shopstream.api.read_worker"], env=env,
                pass_fds=(self.sock.fileno(), self._life_read, ready_write),
                # Its own session: a Ctrl-C meant for the server reaches the server,
                # which stops the workers in order (they do not die first and restart).
                # stdout: nothing (the server's banner is the server's); stderr: the
                # server's, so a worker's errors show where the server's do.
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True)
        finally:
            os.close(ready_write)
        try:
            _wait_ready(proc, ready_read)
        finally:
            os.close(ready_read)
        log.info("shopstream serve: read worker %d serving %s", proc.pid, self.url)
        return _Worker(proc)

    def _watch(self) -> None:
        """Start again a worker that died (at most :data:`MAX_RESTARTS` times)."""
        while not self._stopping.wait(0.5):
            for i, worker in enumerate(list(self._workers)):
                code = worker.proc.poll()
                if code is None or self._stopping.is_set():
                    continue
                with self._lock:
                    how = (f"was killed by signal {-code}" if code < 0
                           else f"exited with code {code}")
                    self.last_exit = (f"read worker {worker.proc.pid} {how} after "
                                      f"{time.time() - worker.started:.0f} s")
                    if self.restarts >= MAX_RESTARTS:
                        self.failed = True
                        log.error("shopstream serve: %s; %d restarts already: not started "
                                  "again", self.last_exit, self.restarts)
                        continue
                    self.restarts += 1
                log.error("shopstream serve: %s; starting it again", self.last_exit)
                try:
                    self._workers[i] = self._spawn()
                except ConfigError as exc:
                    self.last_exit = str(exc)
                    log.error("shopstream serve: %s", exc)

    def alive(self) -> int:
        """Workers running now."""
        return sum(1 for w in self._workers if w.proc.poll() is None)

    def status(self) -> dict[str, Any]:
        """What ``/health`` shows of the workers."""
        return {"url": self.url, "workers": self.count, "alive": self.alive(),
                "pids": [w.proc.pid for w in self._workers if w.proc.poll() is None],
                "restarts": self.restarts, "lastExit": self.last_exit,
                "failed": self.failed}

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every worker (closing the lifeline ends them; SIGTERM too), wait for
        them, kill those that linger, and close the socket."""
        self._stopping.set()
        if self._monitor.is_alive():
            self._monitor.join(timeout=5)
        with contextlib.suppress(OSError):
            os.close(self._life_write)
        stop_processes([worker.proc for worker in self._workers], timeout_s)
        with contextlib.suppress(OSError):
            os.close(self._life_read)
        self.sock.close()


def stop_processes(procs: Sequence[subprocess.Popen[Any]], timeout_s: float) -> None:
    """Terminate the processes still running (``SIGTERM``), wait for all of them
    ``timeout_s`` seconds in all, then kill and reap those that linger; the read
    workers' end, and that of the servers tests and benches start.

    >>> import sys
    >>> proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    >>> stop_processes([proc], timeout_s=10.0)
    >>> proc.returncode == -15
    True
    """
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        msg = f"serve --read-port: cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise ConfigError(msg) from None
    sock.listen(_BACKLOG)
    sock.set_inheritable(True)
    return sock


def _wait_ready(proc: subprocess.Popen[bytes], ready_read: int) -> None:
    """Wait for the worker's byte on the ready pipe (EOF: it exited first)."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    os.set_blocking(ready_read, False)
    code: int | None
    while True:
        try:
            if os.read(ready_read, 1):
                return
            code = proc.wait()  # EOF: the worker closed the pipe by exiting
        except BlockingIOError:
            code = proc.poll()
            if code is None and time.monotonic() < deadline:
                time.sleep(0.02)
                continue
        if code is None:
            proc.kill()
            proc.wait()
            msg = (f"serve: read worker {proc.pid} was not ready within "
                   f"{_READY_TIMEOUT_S:.0f} s")
        else:
            msg = (f"serve: read worker {proc.pid} exited with code {code} before it was "
                   "ready (see its messages above)")
        raise ConfigError(msg)
