"""Open-loop HTTP load for the serving benches: request ``i`` is due at
``start + i / rate`` whatever the server does, and its latency runs from that due time to
the end of its answer (a slow server cannot hide queueing; this is not a saturation test).

Two generators give the same result dictionary:

* ``c``: ``bench/open_loop.c``, built here with ``cc -O2`` into a temporary directory;
  its due times come from a timerfd (nanoseconds, timer slack 1 ns) and it costs a few
  tens of microseconds of CPU a request, most of it the kernel's loopback TCP, so on a
  two-core machine it leaves the server its core; with ``rt_priority`` it runs
  ``SCHED_FIFO`` (root or ``CAP_SYS_NICE``; ``generator_rt_priority`` says what it got),
  so its own wake-ups do not wait behind the machine's other processes;
* ``python``: asyncio (uvloop when installed), used when no C compiler is found; its
  timers tick in milliseconds and it costs tens of microseconds a request.

Both report, apart from the latency, how late the generator itself woke for each request
(``generator_late_p99_ms``...): its timer and its scheduling, before any server work.

``floor`` runs the generator against a trivial asyncio server answering a fixed 200 in
another process: the latency of the generator, the kernel and the machine's load alone,
and the CPU a request costs a server that does nothing (the event loop and the kernel);
with both ``SCHED_FIFO``, the machine's load is out of it too.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _serve import cpu_seconds, free_port, summary

_SOURCE = Path(__file__).resolve().parent / "open_loop.c"


class Generator:
    """The C generator when it builds, else the Python one."""

    def __init__(self, kind: str = "auto", rt_priority: int = 0) -> None:
        self.rt_priority = rt_priority
        self._dir = tempfile.TemporaryDirectory()
        self.binary: Path | None = None
        self.build_error = ""
        if kind in ("auto", "c"):
            compiler = shutil.which("cc") or shutil.which("gcc")
            if compiler is None:
                self.build_error = "no C compiler (cc) found"
            else:
                binary = Path(self._dir.name) / "open_loop"
                built = subprocess.run([compiler, "-O2", "-o", str(binary), str(_SOURCE)],
                                       capture_output=True, text=True, check=False)
                if built.returncode == 0:
                    self.binary = binary
                else:
                    self.build_error = built.stderr.strip()[-500:]
            if kind == "c" and self.binary is None:
                msg = f"cannot build bench/open_loop.c: {self.build_error}"
                raise RuntimeError(msg)
        self.kind = "c" if self.binary is not None else "python"

    def run(self, port: int, paths: list[str], rate: float, seconds: float,
            connections: int = 32, grace_s: float = 5.0) -> dict[str, Any]:
        if self.binary is None:
            started = resource.getrusage(resource.RUSAGE_SELF)
            result = asyncio.run(python_open_loop(port, paths, rate, seconds, connections,
                                                  grace_s))
            result["generator_rt_priority"] = 0
            ended = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (ended.ru_utime - started.ru_utime) + (ended.ru_stime - started.ru_stime)
        else:
            result, cpu = self._run_c(port, paths, rate, seconds, connections, grace_s)
        result["generator"] = self.kind
        result["generator_cpu_us_per_request"] = round(cpu / result["offered"] * 1e6, 1)
        return result

    def _run_c(self, port: int, paths: list[str], rate: float, seconds: float,
               connections: int, grace_s: float) -> tuple[dict[str, Any], float]:
        assert self.binary is not None
        path_file = Path(self._dir.name) / "paths.txt"
        path_file.write_text("\n".join(paths) + "\n")
        out = subprocess.run([str(self.binary), str(port), repr(rate), repr(seconds),
                              str(connections), repr(grace_s), str(path_file), "5",
                              str(self.rt_priority)],
                             capture_output=True, text=True, timeout=seconds + grace_s + 60,
                             check=True)
        lines = out.stdout.splitlines()
        head = dict(line.split() for line in lines[:5])
        latencies: list[float] = []
        lates: list[float] = []
        statuses: dict[int, int] = {}
        for line in lines[5:]:
            status, nanos, late = line.split()
            latencies.append(int(nanos) / 1e9)
            lates.append(int(late) / 1e9)
            statuses[int(status)] = statuses.get(int(status), 0) + 1
        total = int(rate * seconds)
        result = summary(latencies, statuses, total, rate, float(head["sent_s"]),
                         float(head["elapsed_s"]), int(head["unfinished"]), lates)
        result["generator_rt_priority"] = int(head["rt"])
        return result, float(head["cpu_s"])

    def close(self) -> None:
        self._dir.cleanup()


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(head[9:12])


async def python_open_loop(port: int, paths: list[str], rate: float, seconds: float,
                           connections: int = 32, grace_s: float = 5.0) -> dict[str, Any]:
    """The Python generator: requests not answered ``grace_s`` after the last one was due
    are cancelled and counted as ``unfinished``."""
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    writers = []
    for _ in range(connections):
        conn = await asyncio.open_connection("127.0.0.1", port)
        writers.append(conn[1])
        pool.put_nowait(conn)
    latencies: list[float] = []
    lates: list[float] = []
    statuses: dict[int, int] = {}
    rng = random.Random(5)

    async def one(due: float, path: str) -> None:
        lates.append(time.perf_counter() - due)
        conn = await pool.get()
        status = await _request(*conn, path)
        pool.put_nowait(conn)
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    gc.collect()
    gc.disable()  # the generator's own collections would show as server latency
    await asyncio.gather(*(one(time.perf_counter(), rng.choice(paths)) for _ in range(200)))
    latencies.clear()
    lates.clear()
    statuses.clear()
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, rng.choice(paths))))
    sent_s = time.perf_counter() - start
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        task.cancel()
    elapsed = time.perf_counter() - start
    gc.enable()
    for writer in writers:
        writer.close()
    return summary(latencies, statuses, total, rate, sent_s, elapsed, len(pending), lates)


async def _trivial_server(port: int, ready: Any) -> None:
    body = b'{"ok":true}'
    answer = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d"
              b"\r\n\r\n%b" % (len(body), body))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    ready.set()
    async with server:
        await server.serve_forever()


def _run_trivial(port: int, ready: Any, rt_priority: int = 0) -> None:
    if rt_priority:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt_priority))
        except OSError:
            return  # never ready: floor() says so
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_trivial_server(port, ready))


def floor(generator: Generator, rate: float, seconds: float,
          server_rt_priority: int = 0) -> dict[str, Any]:
    """The generator against a trivial server in another process (``SCHED_FIFO`` at
    ``server_rt_priority`` when above 0: the machine's other processes then delay
    neither, and what remains is the generator's and the kernel's own latency)."""
    port = free_port()
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_run_trivial, args=(port, ready,
                                                              server_rt_priority),
                                   daemon=True)
    proc.start()
    if not ready.wait(10):
        proc.terminate()
        msg = f"the trivial server did not start (SCHED_FIFO {server_rt_priority} refused?)"
        raise RuntimeError(msg)
    pid = proc.pid or 0  # set once started
    try:
        before = cpu_seconds(pid)
        result = generator.run(port, ["/x"], rate, seconds)
        result["server_cpu_us_per_answered_read"] = round(
            (cpu_seconds(pid) - before) / max(result["answered"], 1) * 1e6, 1)
        result["trivial_server_rt_priority"] = server_rt_priority
        return result
    finally:
        proc.terminate()
        proc.join(5)
