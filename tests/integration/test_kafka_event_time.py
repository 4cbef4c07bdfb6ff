"""`run --kafka` gives `run --input`'s outputs on the same lines, with a real broker
(tansu on a free port of 127.0.0.1), whatever the message timestamps and however the
history lies over the partitions: the source keeps a watermark per partition from the
events' own time and merges partitions by event time.

Every test compares every output stream of both runs as multisets per key, and expects
no late event: (1) produce-time stamps over several partitions, topic pre-filled;
(2) event-time stamps on two topics; (3) one partition with hours more history than the
others; (4) a day pre-filled, then live events while the run goes on; (5) SIGKILL in the
middle and a resume from the checkpoint.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from shopstream.cli import main
from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics
from shopstream.connectors.kafka_sink import ID_HEADER, record_id
from shopstream.connectors.kafka_source import KafkaPosition
from shopstream.runners.embedded.checkpoint import CheckpointStore
from shopstream.sim import SimulationConfig, write_jsonl

pytestmark = pytest.mark.integration

#: Extra `run` options of both runs (the whole default pipeline: none).
PIPELINE: tuple[str, ...] = ()
TOPIC, CART_TOPIC = "ecommerce-events", "shopping-cart-events"
CART_TYPES = (b'"ADD_TO_CART"', b'"REMOVE_FROM_CART"')
HOUR_MS = 3_600_000
# Outputs are grouped by the first of these their record has (windows by their start).
KEY_FIELDS = ("sessionId", "userId", "productId", "windowStart")


# -- input ---------------------------------------------------------------------------------
def simulate(path: Path, sessions: int, days: float, seed: int,
             end: int | str = "2026-01-01T00:00:00Z") -> list[bytes]:
    """Shopper history: events in time order within 2 s, 1% malformed lines."""
    assert main(["simulate", "--sessions", str(sessions), "--days", str(days), "--seed",
                 str(seed), "--end", str(end), "--bad-rate", "0.01", "--disorder-ms", "2000",
                 "--no-progress", "-o", str(path)]) == 0
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def field(line: bytes, name: str) -> Any:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value.get(name) if isinstance(value, dict) else None


def produce(bootstrap: str, lines: Iterable[bytes], *, event_time_stamps: bool = False,
            split: bool = False, partition_of: Callable[[bytes], int] | None = None) -> None:
    """Lines keyed by session, in order, to ecommerce-events (cart events to
    shopping-cart-events when ``split``). Message timestamps are the produce time, as
    most producers leave them, unless ``event_time_stamps`` (a bad line then gets the
    time of the line before it)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    stamp = 0
    for line in lines:
        topic = CART_TOPIC if split and any(k in line for k in CART_TYPES) else TOPIC
        session = field(line, "sessionId")
        options: dict[str, Any] = {}
        if event_time_stamps:
            ts = field(line, "timestamp")
            stamp = ts if isinstance(ts, int) else stamp
            options["timestamp"] = stamp
        if partition_of is not None:
            options["partition"] = partition_of(line)
        producer.produce(topic, line, None if session is None else str(session).encode(),
                         **options)
        producer.poll(0)
    assert producer.flush(15) == 0
    producer.close()


def topics(bootstrap: str, partitions: int = 3) -> None:
    config = KafkaConfig(bootstrap, partitions=partitions)
    ensure_topics(config, config.input_topics)


# -- runs ----------------------------------------------------------------------------------
def run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["run", *args, "--no-progress", "--json", *PIPELINE]) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    return summary


def file_run(capsys: pytest.CaptureFixture[str], tmp: Path, lines: list[bytes]) -> Path:
    (tmp / "all.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    summary = run(capsys, "--input", str(tmp / "all.jsonl"), "--output-dir", str(tmp / "file"))
    assert summary["late_events"] == 0 and summary["lines"] == len(lines)
    return tmp / "file"


def kafka_args(bootstrap: str, out: Path, *extra: str, idle_stop: str = "1.5") -> list[str]:
    return ["--kafka", bootstrap, "--output-dir", str(out), "--stop-when-idle", idle_stop,
            *extra]


# -- comparison ----------------------------------------------------------------------------
def per_key(stream: str, records: Iterable[bytes]) -> dict[str, Counter[bytes]]:
    groups: dict[str, Counter[bytes]] = defaultdict(Counter)
    for raw in records:
        record = json.loads(raw)
        if stream == "dead-letter":  # the source and position differ: line vs offsets
            key = record["raw"]
            raw = json.dumps([record["stage"], record["reason"], record["raw"]]).encode()
        else:
            key = next((str(record[f]) for f in KEY_FIELDS if record.get(f) is not None), "")
        groups[key][raw] += 1
    return dict(groups)


def assert_same_outputs(want_dir: Path, got_dir: Path) -> None:
    """Every output stream: the same records, as multisets per key; no late event."""
    names = sorted(p.name for p in want_dir.glob("*.jsonl"))
    assert names == sorted(p.name for p in got_dir.glob("*.jsonl"))
    assert (got_dir / "late-events.jsonl").read_bytes() == b""
    for name in names:
        stream = name.removesuffix(".jsonl")
        want = per_key(stream, (want_dir / name).read_bytes().splitlines())
        got = per_key(stream, (got_dir / name).read_bytes().splitlines())
        differ = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
        assert not differ, f"{stream}: {len(differ)} of {len(want)} keys differ: {differ[:5]}"
    assert len((want_dir / "basket-completions.jsonl").read_bytes().splitlines()) > 50
    assert (want_dir / "dead-letter.jsonl").read_bytes()


def read_topics(bootstrap: str, names: list[str], idle_s: float = 1.5,
                ) -> dict[str, list[tuple[bytes, dict[str, bytes]]]]:
    """Everything on ``names`` from the beginning, until ``idle_s`` of silence."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader",
                         "enable.auto.commit": False})
    listed = consumer.list_topics(timeout=10).topics
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in names if t in listed
                     for p in listed[t].partitions])
    found: dict[str, list[tuple[bytes, dict[str, bytes]]]] = {t: [] for t in names}
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle_s:
            for message in consumer.consume(1000, timeout=0.2):
                topic, value = message.topic(), message.value()
                if message.error() is None and topic is not None and value is not None:
                    listed = message.headers() or []
                    pairs = listed.items() if isinstance(listed, dict) else listed
                    headers = {k: v for k, v in pairs if isinstance(v, bytes)}
                    found[topic].append((value, headers))
                    last = time.monotonic()
    finally:
        consumer.close()
    return found


# -- the five cases ------------------------------------------------------------------------
def test_produce_time_stamps_over_several_partitions_of_a_prefilled_topic(
        tmp_path: Path, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = simulate(tmp_path / "history.jsonl", 800, 0.25, seed=7)  # six hours
    topics(kafka_bootstrap)
    produce(kafka_bootstrap, lines)  # one topic; the other's partitions stay empty
    want = file_run(capsys, tmp_path, lines)
    summary = run(capsys, *kafka_args(kafka_bootstrap, tmp_path / "kafka"))
    assert summary["late_events"] == 0 and summary["lines"] == len(lines)
    assert_same_outputs(want, tmp_path / "kafka")
    # The output topics too, each record with its id.
    streams = sorted(p.stem for p in want.glob("*.jsonl") if p.stem != "dead-letter")
    found = read_topics(kafka_bootstrap, streams)
    for stream in streams:
        expected = (want / f"{stream}.jsonl").read_bytes().splitlines()
        assert Counter(v for v, _ in found[stream]) == Counter(expected), stream
        assert all(h[ID_HEADER].decode() == record_id(stream, v) for v, h in found[stream])


def test_event_time_stamps_on_two_topics(tmp_path: Path, kafka_bootstrap: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    lines = simulate(tmp_path / "history.jsonl", 800, 0.25, seed=5)
    topics(kafka_bootstrap)
    produce(kafka_bootstrap, lines, event_time_stamps=True, split=True)
    want = file_run(capsys, tmp_path, lines)
    summary = run(capsys, *kafka_args(kafka_bootstrap, tmp_path / "kafka"))
    assert summary["late_events"] == 0 and summary["lines"] == len(lines)
    assert_same_outputs(want, tmp_path / "kafka")


def test_one_partition_holding_hours_more_history_than_the_others(
        tmp_path: Path, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = simulate(tmp_path / "history.jsonl", 800, 0.25, seed=11)
    starts: dict[str, int] = {}
    for line in lines:
        session, ts = field(line, "sessionId"), field(line, "timestamp")
        if isinstance(session, str) and isinstance(ts, int):
            starts[session] = min(ts, starts.get(session, ts))
    first, last = min(starts.values()), max(starts.values())

    def partition_of(line: bytes) -> int:
        """Partition 0 alone holds the first three hours; partition 1 alone the last
        hour; the hours between are spread over all three."""
        session = field(line, "sessionId")
        start = starts.get(session) if isinstance(session, str) else None
        if start is None:
            return 2
        if start < first + 3 * HOUR_MS:
            return 0
        if start > last - HOUR_MS:
            return 1
        return zlib.crc32(session.encode()) % 3

    assert {partition_of(line) for line in lines[:200]} == {0}
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=3), [TOPIC])
    produce(kafka_bootstrap, lines, partition_of=partition_of)
    want = file_run(capsys, tmp_path, lines)
    summary = run(capsys, *kafka_args(kafka_bootstrap, tmp_path / "kafka",
                                      "--input-topics", TOPIC))
    assert summary["late_events"] == 0 and summary["lines"] == len(lines)
    assert_same_outputs(want, tmp_path / "kafka")


class LiveTopic:
    """A binary stream the live simulator writes to: each line goes to Kafka as it
    comes, keyed by session, and is kept for the file run."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self.lines: list[bytes] = []
        self._rest = b""

    def write(self, data: bytes | bytearray) -> int:
        *complete, self._rest = (self._rest + bytes(data)).split(b"\n")
        for line in complete:
            if line.strip():
                session = field(line, "sessionId")
                self.producer.produce(TOPIC, line,
                                      None if session is None else str(session).encode())
                self.lines.append(line)
        self.producer.poll(0)
        return len(data)

    def flush(self) -> None:
        self.producer.flush(15)

    def close(self) -> None:
        assert self.producer.flush(15) == 0
        self.producer.close()  # an open connection slows the broker's shutdown


def test_a_day_prefilled_then_live_events_while_the_run_goes_on(
        tmp_path: Path, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    now_ms = int(time.time() * 1000)
    history = simulate(tmp_path / "history.jsonl", 600, 1.0, seed=4, end=now_ms - 900_000)
    stamps = [field(line, "timestamp") for line in history]
    assert max(t for t in stamps if isinstance(t, int)) < now_ms
    topics(kafka_bootstrap)
    produce(kafka_bootstrap, history)
    live = LiveTopic(kafka_bootstrap)
    failures: list[BaseException] = []

    def shop() -> None:  # live traffic, stamped with the wall clock, once the run caught up
        try:
            time.sleep(3.0)
            write_jsonl(SimulationConfig(sessions=150, seed=21, rate=300.0, bad_rate=0.01,
                                         disorder_ms=2000), live)  # type: ignore[arg-type]
            live.close()
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    shopper = threading.Thread(target=shop)
    shopper.start()
    try:
        # After a second without events the partitions are idle and the watermark
        # follows the wall clock: the live events must still come out as in the file.
        summary = run(capsys, *kafka_args(kafka_bootstrap, tmp_path / "kafka", "--idle-ms",
                                          "1000", idle_stop="4"))
    finally:
        shopper.join()
    assert not failures
    assert len(live.lines) > 500
    lines = history + live.lines
    assert summary["late_events"] == 0 and summary["lines"] == len(lines)
    assert_same_outputs(file_run(capsys, tmp_path, lines), tmp_path / "kafka")


def test_killed_mid_run_and_resumed_from_the_checkpoint(
        tmp_path: Path, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = simulate(tmp_path / "history.jsonl", 1000, 0.25, seed=3)
    topics(kafka_bootstrap)
    cut = 3 * len(lines) // 4
    produce(kafka_bootstrap, lines[:cut], split=True)
    store = CheckpointStore(tmp_path / "ckpt")
    common = ["--checkpoint-dir", str(store.directory), "--checkpoint-every", "250",
              "--checkpoint-seconds", "0.1"]
    first = subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli", "run", "--kafka", kafka_bootstrap,
         "--output-dir", str(tmp_path / "kafka"), "--no-progress", *common, *PIPELINE],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        saved: dict[str, Any] | None = None
        while saved is None or saved["tally"]["lines"] < len(lines) // 5:
            assert first.poll() is None, first.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.01)
            saved = store.load()
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    position = saved["offset"]
    assert isinstance(position, KafkaPosition)
    assert position.watermarks and set(position.watermarks) <= set(position.offsets)
    produce(kafka_bootstrap, lines[cut:], split=True)
    summary = run(capsys, *kafka_args(kafka_bootstrap, tmp_path / "kafka", *common,
                                      "--resume"))
    assert summary["resumed_at_line"] > 0 and summary["lines"] == len(lines)
    assert summary["late_events"] == 0
    want = file_run(capsys, tmp_path, lines)
    assert_same_outputs(want, tmp_path / "kafka")
    # The topics are at least once: a replay repeats records, with the same ids.
    found = read_topics(kafka_bootstrap, ["basket-completions", "cart-abandonment"])
    for stream, records in found.items():
        unique = {headers[ID_HEADER]: value for value, headers in records}
        assert Counter(unique.values()) == Counter(
            (want / f"{stream}.jsonl").read_bytes().splitlines()), stream


def test_a_month_old_history_with_noise_far_ahead_of_it(
        tmp_path: Path, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Last month's events over three partitions, with one event a day ahead of the
    stream and one in year 9999 in the middle: none of the history is refused as old, the
    two go to dead-letter with their reasons, and every other output is what the file
    door gives for the history without them (no event made late)."""
    month_ago = int(time.time() * 1000) - 30 * 24 * HOUR_MS
    lines = simulate(tmp_path / "history.jsonl", 800, 0.25, seed=9, end=month_ago)
    middle = len(lines) // 2
    stamp = next(t for t in (field(x, "timestamp") for x in lines[middle:])
                 if isinstance(t, int))
    session = next(s for s in (field(x, "sessionId") for x in lines[middle:])
                   if isinstance(s, str))
    noise = [json.dumps({"eventType": "PAGE_VIEW", "sessionId": session,
                         "timestamp": ts}).encode()
             for ts in (stamp + 24 * HOUR_MS, 253_402_300_799_000)]  # a day ahead, 9999
    topics(kafka_bootstrap)
    produce(kafka_bootstrap, [*lines[:middle], *noise, *lines[middle:]])
    summary = run(capsys, *kafka_args(kafka_bootstrap, tmp_path / "kafka"))
    assert summary["late_events"] == 0 and summary["lines"] == len(lines) + 2
    want = file_run(capsys, tmp_path, lines)
    letters = (tmp_path / "kafka" / "dead-letter.jsonl").read_bytes().splitlines()
    refused = [json.loads(x) for x in letters if json.loads(x)["raw"].encode() in noise]
    assert [x["stage"] for x in refused] == ["limit", "limit"]
    assert "ahead of the newest accepted event time of ecommerce-events[" in \
        refused[0]["reason"]
    assert "ahead of the ingest clock" in refused[1]["reason"]
    (tmp_path / "kafka" / "dead-letter.jsonl").write_bytes(b"".join(
        x + b"\n" for x in letters if json.loads(x)["raw"].encode() not in noise))
    assert_same_outputs(want, tmp_path / "kafka")
