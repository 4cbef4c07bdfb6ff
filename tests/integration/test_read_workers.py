"""``shopstream serve --read-workers N``: reads answered by separate processes that open
the store read-only, on their own port, with the same answers and the same guard as the
main port, while the main process hosts the pipeline; workers restarted when they die,
gone when the server goes (even by SIGKILL), and a busy read port refused at start.
A real ``serve`` subprocess on free ports of 127.0.0.1, with SQLite and a real Redis."""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import free_port

from shopstream.api.read_workers import stop_processes

pytestmark = pytest.mark.integration

KEY = "read-worker-key-0123456789"


class _Serve:
    def __init__(self, store: str, log: Path, *extra: str,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.read_port = free_port()
        self.log = log
        with open(log, "ab") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shopstream.cli", "serve", "--store", store, "--port",
                 str(self.port), "--read-port", str(self.read_port), "--log-level",
                 "error", "--no-jobs", *extra],
                stdout=subprocess.DEVNULL, stderr=sink, env=env)
        deadline = time.monotonic() + 90
        for port in (self.port, self.read_port):
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"serve did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)

    def main(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", **kw)

    def reads(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.read_port}{path}", **kw)

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = self.main("/health").json()
        return body

    def stop(self) -> None:
        stop_processes([self.proc], timeout_s=20.0)


@pytest.fixture
def serve_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[_Serve] = []

    def make(store: str, *extra: str, env: dict[str, str] | None = None) -> _Serve:
        server = _Serve(store, tmp_path / f"serve{len(started)}.log", *extra, env=env)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _wait(predicate: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _post(port: int, events: list[dict[str, Any]], **headers: str) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}/events", content=json.dumps(events),
                      headers={"content-type": "application/json", **headers})


def _events(user: str) -> list[dict[str, Any]]:
    # A 30 s slot boundary not ahead of the clock: the features' slot is already closed.
    now_ms = int(time.time()) // 30 * 30_000
    return [{"eventType": "VIEW_PRODUCT", "sessionId": f"{user}-s", "userId": user,
             "productId": "p1", "category": "Books", "price": 9.5, "timestamp": now_ms},
            {"eventType": "PURCHASE", "sessionId": f"{user}-s", "userId": user,
             "cartTotal": 9.5, "timestamp": now_ms + 1}]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


@pytest.mark.parametrize("kind", ["embedded", "redis"])
def test_read_port_answers_like_the_main_port_while_the_pipeline_writes(
        kind: str, tmp_path: Path, serve_factory: Any, request: pytest.FixtureRequest,
        ) -> None:
    store = (request.getfixturevalue("redis_url") if kind == "redis"
             else str(tmp_path / "features.db"))
    server = serve_factory(store, "--read-workers", "2")
    health = server.health()
    assert health["role"] == "server"
    assert health["readWorkers"]["alive"] == 2
    assert health["readWorkers"]["url"] == f"http://127.0.0.1:{server.read_port}"
    worker_health = server.reads("/health").json()
    assert worker_health["role"] == "read worker" and worker_health["pipeline"] is None
    user = f"rw-{kind}"
    assert _post(server.port, _events(user)).status_code == 202
    path = f"/users/{user}/features"
    _wait(lambda: server.reads(path).status_code == 200, "features on the read port")
    for one in (path, f"/users/{user}/profile", f"/sessions/{user}-s/recommendations",
                "/trending", "/segments", "/products/p1/trend", "/users/nobody/features"):
        for _ in range(5):  # a window may close between the two reads: read again
            main, read = server.main(one), server.reads(one)
            if (main.status_code, main.content) == (read.status_code, read.content):
                break
        assert (read.status_code, read.content) == (main.status_code, main.content), one
    # Writes belong to the main port: the read port names it.
    refused = _post(server.read_port, _events("other"))
    assert refused.status_code == 421
    assert f"port {server.port}" in refused.json()["detail"]
    assert server.reads("/i?e=pv").status_code == 421


def test_read_keys_hold_on_the_read_port(tmp_path: Path, serve_factory: Any) -> None:
    env = dict(os.environ, SHOPSTREAM_API_KEYS=KEY)
    server = serve_factory(str(tmp_path / "features.db"), "--read-workers", "1",
                           "--read-keys", env=env)
    path = "/users/nobody/features"
    refused = server.reads(path)
    assert refused.status_code == 401 and refused.content == server.main(path).content
    assert server.reads(path, headers={"X-API-Key": "wrong-key-0123456789"}
                        ).status_code == 401
    assert server.reads(path, headers={"X-API-Key": KEY}).status_code == 404
    assert server.reads(path, headers={"Authorization": f"Bearer {KEY}"}
                        ).status_code == 404
    assert server.reads("/health").status_code == 200  # public, as on the main port


def test_dead_workers_restart_and_workers_end_with_the_server(
        tmp_path: Path, serve_factory: Any) -> None:
    server = serve_factory(str(tmp_path / "features.db"), "--read-workers", "1")
    [first] = server.health()["readWorkers"]["pids"]
    os.kill(first, signal.SIGKILL)
    _wait(lambda: server.health()["readWorkers"]["restarts"] == 1
          and server.health()["readWorkers"]["alive"] == 1, "a restarted worker", 60)
    workers = server.health()["readWorkers"]
    assert workers["lastExit"].startswith(f"read worker {first} was killed by signal 9")
    [second] = workers["pids"]
    assert second != first
    _wait(lambda: server.reads("/health").status_code == 200, "the new worker answers")
    # However the server ends, its workers end with it.
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    _wait(lambda: _gone(second), "the worker ends with its server", 15)


def test_workers_stop_with_a_graceful_stop(tmp_path: Path, serve_factory: Any) -> None:
    server = serve_factory(str(tmp_path / "features.db"), "--read-workers", "2")
    pids = server.health()["readWorkers"]["pids"]
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(timeout=30) == 0
    assert all(_gone(pid) for pid in pids)


def test_a_busy_read_port_fails_at_start_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "shopstream.cli", "serve", "--store",
             str(tmp_path / "f.db"), "--port", str(free_port()), "--read-workers", "1",
             "--read-port", str(port), "--no-jobs"],
            capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "serve --read-port" in done.stderr and "already in use" in done.stderr
    assert "Traceback" not in done.stderr


def _sched(pid: int) -> tuple[str, int | None, int]:
    """The CPUs a process's main thread may run on, its slice (None: not shown) and its
    policy (0 normal, 1 SCHED_FIFO)."""
    status = Path(f"/proc/{pid}/status").read_text()
    cpus = next(line.split()[1] for line in status.splitlines()
                if line.startswith("Cpus_allowed_list:"))
    sched = dict(line.split(":", 1) for line in
                 Path(f"/proc/{pid}/sched").read_text().splitlines() if ":" in line)
    slices = [int(value) for name, value in sched.items() if name.strip() == "se.slice"]
    policy = next(int(value) for name, value in sched.items() if name.strip() == "policy")
    return cpus, slices[0] if slices else None, policy


def _may_run_realtime() -> bool:
    """Whether this process (so the server it starts) may ask for SCHED_FIFO 1."""
    import resource

    status = Path("/proc/self/status").read_text()
    caps = int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("CapEff:")), 16)
    return bool(caps >> 23 & 1) or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] >= 1


@pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
                    reason="CPU placement and slices: Linux with 2 CPUs or more")
def test_read_workers_slice_and_cpu_placement(tmp_path: Path, serve_factory: Any) -> None:
    server = serve_factory(str(tmp_path / "features.db"), "--read-workers", "1",
                           "--read-slice-us", "100", "--read-cpus", "1",
                           "--pipeline-cpus", "0", "--read-rt-priority", "1")
    [worker] = server.health()["readWorkers"]["pids"]
    worker_cpus, worker_slice, worker_policy = _sched(worker)
    server_cpus, server_slice, server_policy = _sched(server.proc.pid)
    assert (worker_cpus, server_cpus) == ("1", "0")
    # SCHED_FIFO needs CAP_SYS_NICE (root has it, unless a container drops it) or an
    # RLIMIT_RTPRIO: without, a warning and a normal worker.
    assert (worker_policy, server_policy) == (1 if _may_run_realtime() else 0, 0)
    assert server.reads("/users/nobody/features").status_code == 404
    # Last, as it may skip: Linux 6.6-6.11 show se.slice but ignore a custom slice.
    if worker_slice is None or server_slice is None:
        pytest.skip("slice not checked: se.slice not shown (Linux before 6.6, or a "
                    "SCHED_FIFO worker: --read-rt-priority took)")
    if _kernel() < (6, 12) or worker_slice == server_slice:
        pytest.skip(f"slice not checked: Linux {platform.release()} keeps its own slice "
                    f"(worker {worker_slice} ns, server {server_slice} ns; custom "
                    f"slices need 6.12+)")
    assert worker_slice < server_slice or worker_slice == 100_000


def _kernel() -> tuple[int, int]:
    """The running Linux kernel's (major, minor), (0, 0) when unreadable."""
    found = re.match(r"(\d+)\.(\d+)", platform.release())
    return (int(found[1]), int(found[2])) if found else (0, 0)
