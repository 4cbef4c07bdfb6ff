"""Start-up fails fast with one clear line (no banner, no traceback, exit code 1) when a
required server is unreachable or a port is busy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

_ROOT = Path(__file__).resolve().parents[2]


def _shopstream(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shopstream.cli", *args], text=True,
                          capture_output=True, timeout=timeout,
                          env=os.environ | {"PYTHONPATH": str(_ROOT)})


def _dead_port() -> int:
    """A port nothing listens on (bound then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another server listens on for the length of the test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _one_clear_line(done: subprocess.CompletedProcess[str], command: str) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""  # no banner first
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"shopstream {command}: error: ")
    return lines[0]


def test_serve_with_an_unreachable_redis(tmp_path: Path) -> None:
    port = _dead_port()
    line = _one_clear_line(_shopstream("serve", "--store",
                                       f"redis://shop:s3cret@127.0.0.1:{port}/0",
                                       "--port", "0"), "serve")
    assert f"the store redis://shop:***@127.0.0.1:{port}/0 is unreachable" in line
    assert "s3cret" not in line


def test_run_with_an_unreachable_redis(tmp_path: Path) -> None:
    events = tmp_path / "in.jsonl"
    events.write_text('{"eventType":"PAGE_VIEW","sessionId":"s","timestamp":1700000000000}\n')
    line = _one_clear_line(_shopstream("run", "--input", str(events), "--output-dir",
                                       str(tmp_path / "out"), "--store",
                                       f"redis://127.0.0.1:{_dead_port()}"), "run")
    assert "is unreachable" in line


def test_collect_with_an_unreachable_redis() -> None:
    line = _one_clear_line(_shopstream("collect", "--store",
                                       f"redis://127.0.0.1:{_dead_port()}", "--port", "0"),
                           "collect")
    assert "is unreachable" in line


def test_run_kafka_with_a_dead_broker_gives_up_after_the_timeout(tmp_path: Path) -> None:
    done = _shopstream("run", "--kafka", f"127.0.0.1:{_dead_port()}", "--kafka-timeout", "1",
                       "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("shopstream run: error: Kafka broker 127.0.0.1:")
    assert "is unreachable after 1 s" in last
    # Before the error, only the client's retry notices (no metrics banner, no summary).
    assert all("retrying" in line for line in done.stderr.strip().splitlines()[:-1])


def test_run_postgres_unreachable(tmp_path: Path) -> None:
    port = _dead_port()
    line = _one_clear_line(_shopstream("run", "--postgres",
                                       f"postgresql://shop:pw@127.0.0.1:{port}/shop",
                                       "--output-dir", str(tmp_path / "out")), "run")
    assert f"PostgreSQL at postgresql://shop:***@127.0.0.1:{port}/shop is unreachable" in line


@pytest.mark.parametrize("command", [["serve", "--store", "STORE"],
                                     ["collect", "--store", "STORE"],
                                     ["broker"]])
def test_a_busy_port_is_one_line(command: list[str], busy_port: int, tmp_path: Path) -> None:
    args = [str(tmp_path / "f.db") if arg == "STORE" else arg for arg in command]
    line = _one_clear_line(_shopstream(*args, "--port", str(busy_port)), command[0])
    assert line.endswith(f"--port: 127.0.0.1:{busy_port} is already in use (another server "
                         "listens there); choose another port")


def test_a_busy_metrics_port_is_one_line(busy_port: int, tmp_path: Path) -> None:
    events = tmp_path / "in.jsonl"
    events.write_text('{"eventType":"PAGE_VIEW","sessionId":"s","timestamp":1700000000000}\n')
    line = _one_clear_line(_shopstream("run", "--input", str(events), "--output-dir",
                                       str(tmp_path / "out"), "--metrics-port",
                                       str(busy_port)), "run")
    assert f"--metrics-port: cannot listen on 127.0.0.1:{busy_port}" in line
