"""Hostile input through the Kafka door (issue 18): the hostile suite produced as records to
a real tansu broker (non-UTF-8 and over-long ones included) and read by ``run --kafka``.

No crash, each hostile record in dead-letter with its reason and original bytes (base64
when not UTF-8), every valid record processed exactly as without the hostile ones, and no
valid event made late."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer
from helpers import free_port
from hostile import DAY, HOSTILE, valid_lines
from test_kafka import read_topics

from shopstream.cli import main
from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics

pytestmark = pytest.mark.integration
LIMIT = 1_048_576  # --max-line-bytes by default


def _live_stream() -> tuple[list[bytes], list[bytes], int]:
    """Valid records with one of each hostile kind between them, at stream times of the
    last half hour (Kafka is a live door: event time is checked against the ingest clock,
    so what is "ahead of the stream" is put a day ahead of the clock)."""
    records: list[bytes] = []
    hostile: list[bytes] = []
    ts = int(time.time() * 1000) - 30 * 60_000
    for n, (name, make) in enumerate(HOSTILE.items()):
        records.extend(valid_lines(ts, n))
        ts += 3000
        ahead = "ahead of the stream" in name or "a day ahead, as ISO" in name
        bad = make(ts + DAY if ahead else ts)
        hostile.append(bad)
        records.append(bad)
    records.extend(valid_lines(ts, len(HOSTILE)))
    return records, hostile, len(records) - len(hostile)


def _replay_stream(start_ms: int) -> tuple[list[bytes], list[bytes], int]:
    """The same mix at stream times starting at ``start_ms`` (last month: a replay),
    with the lines "ahead of the stream" ahead of the stream's own time, in the past of
    the wall clock: only the stream's progress can tell they are noise."""
    records: list[bytes] = []
    hostile: list[bytes] = []
    ts = start_ms
    for n, make in enumerate(HOSTILE.values()):
        records.extend(valid_lines(ts, n))
        ts += 3000
        bad = make(ts)
        hostile.append(bad)
        records.append(bad)
    records.extend(valid_lines(ts, len(HOSTILE)))
    return records, hostile, len(records) - len(hostile)


def _produce(bootstrap: str, records: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "message.max.bytes": 8 * LIMIT})
    for record in records:
        producer.produce("ecommerce-events", record)
    assert producer.flush(30) == 0


def _raw(letter: dict[str, object]) -> bytes:
    raw = str(letter["raw"])
    return base64.b64decode(raw) if letter.get("rawEncoding") == "base64" else raw.encode()


def test_run_kafka_refuses_every_hostile_record_and_keeps_every_valid_one(
        tmp_path: Path, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    records, hostile, valid = _live_stream()
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    _produce(kafka_bootstrap, records)
    capsys.readouterr()
    code = main(["run", "--kafka", kafka_bootstrap, "--output-dir", str(tmp_path / "kafka"),
                 "--no-progress", "--stop-when-idle", "3", "--input-topics",
                 "ecommerce-events", "--partitions", "1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert (summary["dead_letters"], summary["events"], summary["late_events"]) == (
        len(hostile), valid, 0)
    letters = [json.loads(x) for x in
               (tmp_path / "kafka" / "dead-letter.jsonl").read_bytes().splitlines()]
    assert len(letters) == len(hostile)
    binary = 0
    for name, bad, letter in zip(HOSTILE, hostile, letters, strict=True):
        kept = _raw(letter)
        # The record as produced (a file or Kafka strips surrounding whitespace); an
        # over-long one may be cut one byte past the limit, never held whole.
        assert kept == bad.strip() or (len(bad) > LIMIT and bad.startswith(kept)), name
        assert letter["reason"] and letter["stage"] in ("decode", "validate", "limit"), name
        binary += letter.get("rawEncoding") == "base64"
    assert binary >= 5  # the non-UTF-8 kinds kept byte for byte
    # The dead-letter topic has them all too: the over-long one with its raw cut to fit a
    # Kafka message (it broke the run before), the reason saying so.
    topic = [json.loads(v) for _, v, _ in
             read_topics(kafka_bootstrap, ["dead-letter"])["dead-letter"]]
    assert [t["reason"].split(" [raw cut")[0] for t in topic] == [x["reason"] for x in letters]
    assert sum("[raw cut to its first" in t["reason"] for t in topic) == 1
    # The valid records came out exactly as the file door gives them without the hostile
    # ones.
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"".join(r + b"\n" for r in records if r not in set(hostile)))
    assert main(["run", "--input", str(clean), "--output-dir", str(tmp_path / "file"),
                 "--no-progress"]) == 0
    for path in sorted((tmp_path / "file").glob("*.jsonl")):
        if path.name != "dead-letter.jsonl":
            assert (tmp_path / "kafka" / path.name).read_bytes() == path.read_bytes(), \
                path.name


def test_a_replay_of_last_month_refuses_what_is_ahead_of_its_own_progress(
        tmp_path: Path, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A topic holding last month's events: none is refused as old against the wall
    clock, each line a day (or a week, or two hours) ahead of the stream goes to
    dead-letter with its reason, and no valid event is made late: the same valid outputs
    and dead letters as the file door gives for the same lines."""
    records, hostile, valid = _replay_stream(int(time.time() * 1000) - 30 * DAY)
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    _produce(kafka_bootstrap, records)
    capsys.readouterr()
    assert main(["run", "--kafka", kafka_bootstrap, "--output-dir", str(tmp_path / "kafka"),
                 "--no-progress", "--stop-when-idle", "3", "--input-topics",
                 "ecommerce-events", "--partitions", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["dead_letters"], summary["events"], summary["late_events"]) == (
        len(hostile), valid, 0)
    letters = [json.loads(x) for x in
               (tmp_path / "kafka" / "dead-letter.jsonl").read_bytes().splitlines()]
    for name, bad, letter in zip(HOSTILE, hostile, letters, strict=True):
        assert _raw(letter) == bad.strip() or len(bad) > LIMIT, name
        if "ahead of the stream" in name or "a day ahead, as ISO" in name:
            assert letter["stage"] == "limit", name
            assert "ahead of the newest accepted event time of ecommerce-events[0]" in \
                letter["reason"], (name, letter["reason"])
    # The file door on the same lines: the same outputs, dead letters included.
    (tmp_path / "all.jsonl").write_bytes(b"".join(r + b"\n" for r in records))
    assert main(["run", "--input", str(tmp_path / "all.jsonl"), "--output-dir",
                 str(tmp_path / "file"), "--no-progress"]) == 0
    for path in sorted((tmp_path / "file").glob("*.jsonl")):
        if path.name != "dead-letter.jsonl":
            assert (tmp_path / "kafka" / path.name).read_bytes() == path.read_bytes(), \
                path.name
    file_letters = [json.loads(x) for x in
                    (tmp_path / "file" / "dead-letter.jsonl").read_bytes().splitlines()]
    # (A file cuts an over-long line one byte past the limit; a record comes whole.)
    assert [(x["stage"], x["raw"][:LIMIT]) for x in file_letters] == [
        (x["stage"], x["raw"][:LIMIT]) for x in letters]


def test_run_kafka_takes_the_input_limits(tmp_path: Path, kafka_bootstrap: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    now = int(time.time() * 1000) - 60_000
    items = [{"productId": f"p{i}", "price": 1.0} for i in range(30)]
    records = [json.dumps({"eventType": "PURCHASE", "sessionId": "s", "timestamp": now,
                           "items": items}).encode(),
               json.dumps({"eventType": "PAGE_VIEW", "sessionId": "s",
                           "timestamp": now + 1}).encode()]
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    _produce(kafka_bootstrap, records)
    capsys.readouterr()
    assert main(["run", "--kafka", kafka_bootstrap, "--output-dir", str(tmp_path / "o"),
                 "--no-progress", "--stop-when-idle", "3", "--input-topics",
                 "ecommerce-events", "--partitions", "1", "--json", "--max-items",
                 "20"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["events"], summary["dead_letters"]) == (1, 1)
    letter = json.loads((tmp_path / "o" / "dead-letter.jsonl").read_text())
    assert "max_items=20" in letter["reason"]


def test_collect_to_kafka_keeps_every_refused_event_in_the_dead_letter_topic(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    """``collect --kafka``: each hostile event posted is a 4xx and a dead letter on the topic
    with its reason and bytes (an over-long one cut to fit a Kafka message, never a 5xx);
    the valid events reach the input topic."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli", "collect", "--kafka", kafka_bootstrap,
         "--port", str(port), "--partitions", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    posted: list[bytes] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.get("/health")
                    break
                except httpx.TransportError:
                    assert process.poll() is None and time.monotonic() < deadline
                    time.sleep(0.1)
            for name, make in HOSTILE.items():
                now = int(time.time() * 1000)
                ahead = "ahead of the stream" in name or "a day ahead, as ISO" in name
                bad = make(now + DAY if ahead else now - 60_000)
                answer = http.post("/events", content=bad,
                                   headers={"Content-Type": "application/json"})
                assert answer.status_code < 500, (name, answer.text[:200])
                if name != "array":  # an empty batch, not an event
                    assert answer.status_code == 400, (name, answer.text[:200])
                    posted.append(bad)
                valid = json.dumps({"eventType": "PAGE_VIEW", "sessionId": "ok",
                                    "timestamp": now}).encode()
                assert http.post("/events", content=valid, headers={
                    "Content-Type": "application/json"}).status_code == 202
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "Traceback" not in err, err
    topics = read_topics(kafka_bootstrap, ["dead-letter", "ecommerce-events"])
    letters = [json.loads(v) for _, v, _ in topics["dead-letter"]]
    assert len(letters) == len(posted)
    for bad, letter in zip(posted, letters, strict=True):
        kept = _raw(letter)
        assert kept == bad or ("[raw cut to its first" in letter["reason"]
                               and bad.startswith(kept)), letter["reason"]
        assert letter["reason"] and letter["stage"]
    assert len(topics["ecommerce-events"]) == len(HOSTILE)
