"""The pipeline on a standalone Flink cluster from Kafka, next to the embedded runner; JSON.

Run: ``.venv/bin/python bench/flink_kafka_bench.py [--sessions 3000] [--parallelism 1 2]``
(needs the flink and kafka extras, Java 17 and the Kafka connector jars in
``$SHOPSTREAM_FLINK_CONNECTOR_JARS`` or ``~/.cache/shopstream/flink-jars``; see docs/flink.md).

* a simulated input goes to one tansu topic (one partition);
* the embedded runner runs the same events from the file: ``lines_per_s``;
* a standalone cluster (1 TaskManager, 2 slots, from :mod:`shopstream.runners.flink.cluster`)
  runs the pipeline without the recommender from the topic to a topic per stream, bounded
  by the topic's end offset, with checkpoints every ``--checkpoint-seconds``, at each
  ``--parallelism``. ``job_lines_per_s`` is lines over the job's own duration as the
  JobManager reports it (scheduling included, submission not); ``checkpoints`` are the
  JobManager's statistics (state size in bytes, end-to-end duration in ms);
* ``per_event_us``: where a Flink event's time goes, from what can be measured apart: the
  embedded runner's time per event (decode plus our operators), a pickle round trip of a
  decoded event (each event crosses Python/Java pickled at least twice: out of the
  decoder, into its stage), and the rest (Flink's Python/Java crossing, state access,
  buffering per key until the watermark).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import socket
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from shopstream.connectors.broker import BrokerConfig, start_broker
from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics
from shopstream.errors import DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.runners.flink import FlinkConfig, FlinkRunner
from shopstream.runners.flink.cluster import ClusterConfig, rest_get, start_cluster, stop_cluster
from shopstream.runners.flink.kafka import CONNECTOR_JARS_ENV, FlinkKafkaConfig
from shopstream.sim import SimulationConfig, write_jsonl

TOPIC = "shopper-events"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _jars() -> tuple[str, ...]:
    if os.environ.get(CONNECTOR_JARS_ENV):
        return tuple(os.environ[CONNECTOR_JARS_ENV].split(os.pathsep))
    cache = Path.home() / ".cache" / "shopstream" / "flink-jars"
    return (str(cache / "flink-connector-kafka.jar"), str(cache / "kafka-clients.jar"))


def _pickle_round_trip_us(lines: list[bytes], repeat: int = 5) -> float:
    decode = EventDecoder().decode
    pairs = []
    for line in lines[:5_000]:
        try:
            event = decode(line)
        except DecodeError:
            continue
        pairs.append(("session-key", (event.timestamp_ms, event)))
    runs = []
    for _ in range(repeat):
        started = time.thread_time_ns()
        for pair in pairs:
            pickle.loads(pickle.dumps(pair, protocol=pickle.HIGHEST_PROTOCOL))
        runs.append((time.thread_time_ns() - started) / 1_000 / len(pairs))
    return round(sorted(runs)[len(runs) // 2], 2)


def _wait_job(jobmanager: str, job: str, timeout_s: float = 1_800) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        detail: dict[str, Any] = rest_get(jobmanager, f"/jobs/{job}")
        if detail["state"] in ("FINISHED", "FAILED", "CANCELED"):
            return detail
        time.sleep(1)
    msg = f"job {job} did not end within {timeout_s:.0f} s"
    raise RuntimeError(msg)


def _checkpoints(jobmanager: str, job: str) -> dict[str, Any]:
    stats = rest_get(jobmanager, f"/jobs/{job}/checkpoints")
    summary = stats.get("summary", {})
    latest = (stats.get("latest") or {}).get("completed") or {}
    return {
        "completed": stats["counts"]["completed"],
        "failed": stats["counts"]["failed"],
        "state_size_bytes": summary.get("state_size") or summary.get("checkpointed_size"),
        "end_to_end_duration_ms": summary.get("end_to_end_duration"),
        "latest_state_size_bytes": latest.get("state_size"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3_000)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--checkpoint-seconds", type=float, default=2.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    work = Path(tempfile.mkdtemp(prefix="flink-kafka-bench-"))
    events = work / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=args.sessions, seed=1, end_ms=1_767_600_000_000,
                                 disorder_ms=3_000), events, progress=False)
    lines = [line for line in events.read_bytes().splitlines() if line.strip()]
    topology = default_topology(PipelineConfig(recommendations=None))
    embedded = EmbeddedRunner(topology, work / "embedded").run(events)
    embedded_rate = embedded.events_per_second
    pickle_us = _pickle_round_trip_us(lines)

    broker_config = BrokerConfig(port=_free_port())
    broker = start_broker(broker_config)
    bootstrap = broker_config.bootstrap
    results: dict[str, Any] = {}
    cluster_dir = work / "cluster"
    cluster_start_s = 0.0
    try:
        ensure_topics(KafkaConfig(bootstrap, partitions=1),
                      [TOPIC, *topology.sink_streams, "dead-letter", "late-events"])
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        for line in lines:
            producer.produce(TOPIC, line, partition=0)
            producer.poll(0)
        producer.flush(60)
        started = time.perf_counter()
        info = start_cluster(ClusterConfig(cluster_dir, taskmanagers=1, slots=2))
        cluster_start_s = time.perf_counter() - started
        kafka = FlinkKafkaConfig(bootstrap, (TOPIC,), jars=_jars(),
                                 stop_offsets=((TOPIC, 0, len(lines)),))
        for p in args.parallelism:
            config = FlinkConfig(parallelism=p, jobmanager=info.jobmanager, kafka=kafka,
                                 checkpoint_dir=str(work / f"checkpoints-{p}"),
                                 checkpoint_interval_ms=round(args.checkpoint_seconds * 1000))
            job = FlinkRunner(topology, work / f"flink-{p}", config).submit()
            detail = _wait_job(info.jobmanager, job)
            seconds = detail["duration"] / 1000
            rate = len(lines) / seconds if seconds > 0 else 0.0
            results[f"flink_p{p}"] = {
                "state": detail["state"],
                "job_seconds": round(seconds, 2),
                "job_lines_per_s": round(rate),
                "checkpoints": _checkpoints(info.jobmanager, job),
                "per_event_us": {
                    "total": round(1e6 / rate, 1) if rate else None,
                    "embedded_decode_and_operators": round(1e6 / embedded_rate, 1),
                    "pickle_round_trip_of_one_event": pickle_us,
                    "rest_flink_crossing_state_buffering": round(
                        1e6 / rate - 1e6 / embedded_rate - 2 * pickle_us, 1) if rate else None,
                },
            }
    finally:
        if (cluster_dir / "cluster.json").exists():
            stop_cluster(cluster_dir)
        broker.terminate()
        broker.wait(10)
    print(json.dumps({
        "bench": "flink_kafka",
        "lines": len(lines),
        "sessions": args.sessions,
        "embedded": {"lines_per_s": round(embedded_rate), "seconds": round(embedded.seconds, 2),
                     "input": "the same events from the file"},
        "cluster_start_seconds": round(cluster_start_s, 1),
        "checkpoint_seconds": args.checkpoint_seconds,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "execution_mode": "thread",
        "state_backend": "hashmap",
        "results": results,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
