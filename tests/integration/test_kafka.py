"""`shopstream run --kafka` against a real Kafka-protocol broker (tansu on a free port)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from shopstream.cli import main
from shopstream.connectors.broker import BrokerConfig, start_broker
from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics
from shopstream.connectors.kafka_sink import ID_HEADER, WEBSOCKET_FANOUT, record_id
from shopstream.runners.embedded.checkpoint import CheckpointStore

pytestmark = pytest.mark.integration

CART_TYPES = ('"ADD_TO_CART"', '"REMOVE_FROM_CART"')


def simulate(path: Path, sessions: int, seed: int = 7) -> list[bytes]:
    assert main(["simulate", "--sessions", str(sessions), "--seed", str(seed), "--end",
                 "2026-01-01T00:00:00Z", "--bad-rate", "0.01", "--no-progress",
                 "-o", str(path)]) == 0
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def produce(bootstrap: str, lines: Iterable[bytes], split: bool = False) -> None:
    """Lines to ecommerce-events (cart events to shopping-cart-events when ``split``),
    keyed by session and stamped with the event time, as a shop producing live would
    (a bad line gets the time of the line before it)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    stamp = 0
    for line in lines:
        topic = "ecommerce-events"
        if split and any(kind.encode() in line for kind in CART_TYPES):
            topic = "shopping-cart-events"
        try:
            event = json.loads(line)
            key = str(event.get("sessionId", "")).encode()
            if isinstance(event.get("timestamp"), int):
                stamp = event["timestamp"]
        except (ValueError, AttributeError):
            key = None
        producer.produce(topic, line, key, timestamp=stamp)
    assert producer.flush(15) == 0


def read_topics(bootstrap: str, topics: list[str], idle_s: float = 1.5,
                ) -> dict[str, list[tuple[bytes | None, bytes, dict[str, bytes]]]]:
    """Everything on ``topics``, read from the beginning until ``idle_s`` of silence
    (end offsets are not trusted)."""
    listed = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader",
                         "enable.auto.commit": False, "session.timeout.ms": 6000})
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in topics if t in listed
                     for p in listed[t].partitions])
    found: dict[str, list[tuple[bytes | None, bytes, dict[str, bytes]]]] = {
        t: [] for t in topics}
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle_s:
            for message in consumer.consume(1000, timeout=0.2):
                if message.error() is None:
                    found[message.topic()].append(
                        (message.key(), message.value(), dict(message.headers() or [])))
                    last = time.monotonic()
    finally:
        consumer.close()
    return found


def run_args(bootstrap: str, out: Path, *extra: str, idle_stop: bool = True) -> list[str]:
    return ["run", "--kafka", bootstrap, "--output-dir", str(out), "--no-progress",
            *(["--stop-when-idle", "1.5"] if idle_stop else []), *extra]


def test_kafka_run_writes_the_same_outputs_as_the_file_run(tmp_path: Path,
                                                           kafka_bootstrap: str) -> None:
    lines = simulate(tmp_path / "events.jsonl", 300)
    assert main(["run", "--input", str(tmp_path / "events.jsonl"), "--output-dir",
                 str(tmp_path / "file"), "--no-progress", "--json"]) == 0
    # One partition: the broker hands the lines back in file order.
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    produce(kafka_bootstrap, lines)
    assert main(run_args(kafka_bootstrap, tmp_path / "kafka", "--input-topics",
                         "ecommerce-events", "--partitions", "1", "--json")) == 0

    expected = {p.stem: p.read_bytes().splitlines()
                for p in sorted((tmp_path / "file").glob("*.jsonl"))}
    topics = read_topics(kafka_bootstrap, [*expected, WEBSOCKET_FANOUT])
    assert len(expected["basket-completions"]) > 50 and expected["dead-letter"]
    for stream, records in expected.items():
        got = topics[stream]
        if stream == "dead-letter":  # offsets and source name differ: line vs byte offset
            def strip(raw: bytes) -> tuple[Any, ...]:
                letter = json.loads(raw)
                return letter["stage"], letter["reason"], letter["raw"]
            assert [strip(v) for _, v, _ in got] == [strip(r) for r in records]
            continue
        assert [v for _, v, _ in got] == records, stream
        assert (tmp_path / "kafka" / f"{stream}.jsonl").read_bytes().splitlines() == records
        for key, value, headers in got:
            assert key, stream
            assert headers[ID_HEADER].decode() == record_id(stream, value)
    completion = json.loads(topics["basket-completions"][0][1])
    assert topics["basket-completions"][0][0] == completion["sessionId"].encode()
    # What the WebSocket would push, keyed by its subscriber.
    pushed = [(k, json.loads(v)) for k, v, _ in topics[WEBSOCKET_FANOUT]]
    assert {p["stream"] for _, p in pushed} == {"abandoned-baskets", "cart-abandonment",
                                                 "product-recommendations"}
    assert all(k is not None and k.split(b":")[0] in (b"session", b"user") for k, _ in pushed)
    assert len(pushed) == 2 * (len(expected["abandoned-baskets"])
                               + len(expected["cart-abandonment"])
                               + len(expected["product-recommendations"]))


def test_run_reports_an_unreachable_broker_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["run", "--kafka", f"127.0.0.1:{port}", "--output-dir",
                 str(tmp_path), "--no-progress", "--kafka-timeout", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "is unreachable after 1 s" in err and "shopstream broker" in err
    assert "Traceback" not in err


def test_input_and_kafka_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--input", "x.jsonl", "--kafka", "127.0.0.1:9092", "--output-dir", "o"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_sigterm_ends_an_unbounded_run_with_a_checkpoint_and_committed_offsets(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    lines = simulate(tmp_path / "events.jsonl", 100)
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    produce(kafka_bootstrap, lines)
    store = CheckpointStore(tmp_path / "ckpt")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli",
         *run_args(kafka_bootstrap, tmp_path / "out", "--input-topics", "ecommerce-events",
                   "--checkpoint-dir", str(tmp_path / "ckpt"), "--checkpoint-seconds", "0.2",
                   "--group", "g1", "--json", idle_stop=False)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not store.path.exists() or store.load()["offset"].offsets != {  # type: ignore[index]
                ("ecommerce-events", 0): len(lines)}:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert json.loads(out)["lines"] == len(lines)
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "g1"})
    try:
        committed = consumer.committed([TopicPartition("ecommerce-events", 0)], timeout=10)
    finally:
        consumer.close()
    assert committed[0].offset == len(lines)


def test_a_quiet_topic_still_lets_the_last_purchase_out(tmp_path: Path,
                                                        kafka_bootstrap: str) -> None:
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    now = int(time.time() * 1000)
    produce(kafka_bootstrap, [
        json.dumps({"eventType": "ADD_TO_CART", "sessionId": "night", "timestamp": now,
                    "productId": "p1", "price": 5.0, "quantity": 1}).encode(),
        json.dumps({"eventType": "PURCHASE", "sessionId": "night", "timestamp": now + 10,
                    "cartTotal": 5.0}).encode()])
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli",
         *run_args(kafka_bootstrap, tmp_path / "out", "--input-topics", "ecommerce-events",
                   "--idle-ms", "300", "--out-of-orderness-ms", "1000", idle_stop=False)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        found: list[Any] = []
        deadline = time.monotonic() + 20
        while not found and time.monotonic() < deadline:
            assert proc.poll() is None
            found = read_topics(kafka_bootstrap, ["basket-completions"], idle_s=0.5)[
                "basket-completions"]
        # No further input came, yet the watermark followed the clock past the purchase.
        assert [json.loads(v)["sessionId"] for _, v, _ in found] == ["night"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_broker_command_serves_kafka_until_terminated() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "shopstream.cli", "broker", "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline().decode()
        assert f"Kafka protocol on 127.0.0.1:{port}" in banner
        topics = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"}).list_topics(timeout=5)
        assert topics.brokers
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_collect_needs_somewhere_to_send_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collect", "--port", "0"]) == 1
    assert "give --kafka BOOTSTRAP and/or --store PATH" in capsys.readouterr().err


def test_run_waits_for_a_broker_that_comes_up_late(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli",
         *run_args(f"127.0.0.1:{port}", tmp_path / "out", "--kafka-timeout", "30")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    broker = None
    try:
        # Until it says it is retrying (a loaded machine may take seconds to get there).
        assert proc.stderr is not None
        said = b""
        while b"not reachable" not in said:
            line = proc.stderr.readline()
            assert line, said  # the run ended instead
            said += line
        assert proc.poll() is None
        broker = start_broker(BrokerConfig(port=port))
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, said + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if broker is not None:
            broker.terminate()
            broker.wait(timeout=10)


def test_serve_with_workers_takes_events_into_kafka_and_serves_the_pipeline_store(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    """The production shape: `serve --workers 2 --kafka` takes POST /events into the input
    topic from either worker; `run --kafka --store` processes them; both workers serve the
    store it writes."""
    store = tmp_path / "store.db"
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    errors = (tmp_path / "serve.err").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli", "serve", "--store", str(store), "--port",
         str(port), "--workers", "2", "--kafka", kafka_bootstrap],
        stdout=subprocess.DEVNULL, stderr=errors)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "serve.err").read_text()
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
        t0 = 1_767_225_600_000
        views = [{"eventType": "VIEW_PRODUCT", "timestamp": t0 + i * 1_000,
                  "sessionId": f"s{i % 2}", "userId": f"u{i % 2}", "productId": f"p{i % 3}",
                  "eventId": f"e{i}"} for i in range(6)]
        with httpx.Client(base_url=url, timeout=10) as client:
            for view in views:  # one at a time: the workers take turns
                answer = client.post("/events", json=view)
                assert answer.status_code == 202, answer.text
            bad = client.post("/events", json=[views[0], {"eventType": "NOPE"}])
            assert bad.status_code == 400 and bad.json()["errors"][0]["index"] == 1
            on_topic = read_topics(kafka_bootstrap, ["ecommerce-events"])["ecommerce-events"]
            assert sorted(json.loads(v)["eventId"] for _, v, _ in on_topic) == [
                f"e{i}" for i in range(6)]
            assert main(run_args(kafka_bootstrap, tmp_path / "out", "--store", str(store),
                                 "--input-topics", "ecommerce-events")) == 0
            for session in ("s0", "s1"):
                answer = client.get(f"/sessions/{session}/recommendations")
                assert answer.status_code == 200, answer.text
                assert answer.json()["recommendations"]["sessionId"] == session
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        errors.close()
