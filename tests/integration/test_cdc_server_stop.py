"""The shop's PostgreSQL server stopped (``pg_ctl stop -m fast``) and started again while
``run --postgres`` reads it: the server stops at once, the run ends with one line, and
``--resume`` reads every change once, none late.

A server stopping waits for each logical walsender's client to confirm all it was sent;
the reader confirms what its checkpoints cover, so once everything read is checkpointed
it confirms the server's WAL end too. Before, the server waited for the reader forever
(its replies kept the walsender from timing out): `pg_ctl` gave up and the server stayed
up until the run was stopped.

The server is one of this test's own (the session's server is shared by other tests).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PG_BIN, WAL2JSON, _as_postgres_user
from helpers import free_port
from test_cdc_stall_idle_clock import _cart_row, _confirmed, _late

from shopstream.shopdb import schema
from shopstream.shopdb.generate import GenerateConfig, generate

pytestmark = pytest.mark.integration

_ROOT = Path(__file__).resolve().parents[2]


class _Server:
    """A PostgreSQL 15 cluster with ``wal_level=logical`` that a test stops and starts."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists() or not WAL2JSON.exists():
            pytest.fail("PostgreSQL 15 with wal2json is not installed: run `make setup`")
        self.directory = Path(tempfile.mkdtemp(prefix="shopstream-pg-stop-"))
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        self.data = self.directory / "data"
        self.port = free_port()
        subprocess.run(_as_postgres_user([str(PG_BIN / "initdb"), "-D", str(self.data), "-U",
                                          "shop", "--auth=trust", "-E", "UTF8", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd="/")

    @property
    def dsn(self) -> str:
        return f"postgresql://shop@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str, timeout_s: int = 30) -> int:
        options = (f"-c wal_level=logical -c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-k {self.directory} -c fsync=off")
        return subprocess.run(_as_postgres_user(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
             str(self.directory / "server.log"), "-o", options, "-w", "-t", str(timeout_s),
             *args]), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            cwd="/").returncode


@pytest.fixture
def server() -> Iterator[_Server]:
    made = _Server()
    try:
        assert made.pg_ctl("start") == 0
        yield made
    finally:
        made.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(made.directory, ignore_errors=True)


def _cdc_run(dsn: str, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli", "run", "--postgres", dsn, "--slot",
         "stall", "--output-dir", str(tmp_path / "out"), "--idle-ms", "500",
         "--no-recommendations", "--no-progress", "--json",
         "--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-seconds", "0.2", *extra],
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(_ROOT)})


def test_a_stopped_server_stops_and_resume_loses_nothing(server: _Server,
                                                         tmp_path: Path) -> None:
    dsn = server.dsn
    schema.init(dsn)
    generate(dsn, GenerateConfig(categories=3, products=40, customers=5, seed=7))
    run = _cdc_run(dsn, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while _confirmed(dsn) == 0:  # the slot exists
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.05)
        for n in range(3):
            last = _cart_row(dsn, n)
        while _confirmed(dsn) < last - 1:  # read and checkpointed
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.05)
        stopped = server.pg_ctl("-m", "fast", "stop", timeout_s=30)
        if stopped != 0:
            run.terminate()
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert stopped == 0, "the server did not stop within 30 s while the run was connected"
    errors = [line for line in err.splitlines() if "error" in line]
    assert run.returncode == 1 and len(errors) == 1, err
    assert "--resume goes on from the last checkpoint" in errors[0]
    assert server.pg_ctl("start") == 0
    for n in range(3, 6):
        _cart_row(dsn, n)
    again = _cdc_run(dsn, tmp_path, "--resume", "--stop-when-idle", "2")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    summary = json.loads(out)
    assert (summary["lines"], summary["late_events"]) == (6, 0), _late(tmp_path)[:3]
