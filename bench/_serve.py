"""What the serving benches share: a ``shopstream serve`` subprocess, free ports, a Redis
server, CPU and RSS of a process tree from ``/proc`` (Linux), and the latency summary of
an open-loop run.

Used by ``serve_bench.py``, ``read_load_bench.py``, ``load_generator.py`` and
``overload_rss_bench.py``; every server it starts listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from shopstream.api.read_workers import stop_processes

__all__ = [
    "ServeProcess",
    "children",
    "cpu_seconds",
    "free_port",
    "get_json",
    "load_average",
    "rss_mb",
    "start_redis",
    "summary",
    "tree_cpu_seconds",
    "tree_run_queue_seconds",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (held together while chosen)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def get_json(port: int, path: str, timeout_s: float = 30.0) -> Any:
    """``GET path`` on 127.0.0.1:``port``, its JSON body (any status)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and of its live child processes (read workers, uvicorn's
    workers), whichever thread started them."""
    total = 0.0
    for one in (pid, *children(pid)):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += cpu_seconds(one)
    return total


def _run_queue_seconds(pid: int) -> float:
    """Time the threads of ``pid`` spent runnable but waiting for a CPU (schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def tree_run_queue_seconds(pid: int) -> float:
    """Time the threads of ``pid`` and of its live child processes spent waiting for a
    CPU while runnable (``/proc/PID/task/TID/schedstat``): a read's latency that is the
    machine's, not the server's work."""
    total = 0.0
    for one in (pid, *children(pid)):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += _run_queue_seconds(one)
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class ServeProcess:
    """``shopstream serve --store SPEC --port P ...extra`` in a subprocess, ready once
    ``/health`` says ok on the main port (and on the read port with read workers)."""

    def __init__(self, spec: str, *extra: str, read_workers: int = 0,
                 timeout_s: float = 120.0, stderr: Any = subprocess.PIPE,
                 cwd: str | None = None) -> None:
        # ``cwd``: the tree whose code to run. ``python -m`` puts the working directory
        # first on sys.path, before PYTHONPATH: started from another checkout, the server
        # would import that checkout's code whatever PYTHONPATH says.
        self.port, self.read_port = free_ports(2)
        self.read_workers = read_workers
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shopstream.cli", "serve", "--store", spec, "--port",
             str(self.port), "--read-workers", str(read_workers), "--read-port",
             str(self.read_port), "--log-level", "error", *extra],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=cwd)
        deadline = time.monotonic() + timeout_s
        ports = [self.port] + ([self.read_port] if read_workers else [])
        while ports:
            try:
                if get_json(ports[0], "/health", timeout_s=2)["status"] == "ok":
                    ports.pop(0)
                    continue
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                self.stop()
                msg = f"shopstream serve did not start: {err[-2000:]}"
                raise RuntimeError(msg)
            time.sleep(0.1)

    @property
    def reads_port(self) -> int:
        """Where reads go: the read workers' port when there are some."""
        return self.read_port if self.read_workers else self.port

    def stop(self) -> None:
        stop_processes([self.proc], timeout_s=20.0)


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    msg = "redis-server did not start"
    raise RuntimeError(msg)


def summary(latencies: list[float], statuses: dict[int, int], total: int, rate: float,
            sent_s: float, elapsed_s: float, unfinished: int,
            lates: list[float] | None = None) -> dict[str, Any]:
    """The result dictionary of one open-loop run (latencies in seconds, any order;
    ``total`` requests offered at ``rate`` per second; ``lates``: how late the generator
    woke for each request, in seconds, when it says)."""
    latencies.sort()
    answered = len(latencies)

    def pct(p: float) -> float | None:
        # Unfinished requests are slower than every answered one.
        index = int(p * total)
        return round(latencies[index] * 1000, 3) if index < answered else None

    return {"offered_rps": rate, "offered": total,
            "offered_rps_achieved_by_generator": round(total / max(sent_s, 1e-9)),
            "answered": answered, "unfinished": unfinished,
            "answered_rps": round(answered / max(elapsed_s, 1e-9)), "statuses": statuses,
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "p999_ms": pct(0.999),
            "max_answered_ms": round(latencies[-1] * 1000, 3) if latencies else None,
            "mean_answered_ms": (round(statistics.fmean(latencies) * 1000, 3)
                                 if latencies else None)} | _lateness(lates)


def _lateness(lates: list[float] | None) -> dict[str, Any]:
    """Percentiles of the generator's own lateness (its timer and scheduling)."""
    if not lates:
        return {}
    lates = sorted(lates)
    at = {p: round(lates[min(len(lates) - 1, int(p * len(lates)))] * 1000, 3)
          for p in (0.5, 0.99, 0.999)}
    return {"generator_late_p50_ms": at[0.5], "generator_late_p99_ms": at[0.99],
            "generator_late_p999_ms": at[0.999],
            "generator_late_max_ms": round(lates[-1] * 1000, 3)}
