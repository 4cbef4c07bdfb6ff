"""A broker outage is not silence of the data: ``run --kafka`` moves event time on with
the clock when its topics fall silent (``--idle-ms``), and must not count the time its
broker was away as such silence. Otherwise, when the broker comes back, event time jumps
over the outage and the events stamped during it, delivered once the broker is back
(by producers that buffered them), come out late.

The broker's address is a ``tansu proxy`` in front of the tansu broker (see
``test_outages``), stopped and restarted on the same port.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_outages import TansuEndpoint, _cli

pytestmark = pytest.mark.integration

_OUTAGE_S = 8.0


def _page_view(n: int, timestamp_ms: int) -> bytes:
    return json.dumps({"eventType": "PAGE_VIEW", "sessionId": f"s{n % 5}",
                       "eventId": f"e{n}", "timestamp": timestamp_ms}).encode()


@pytest.mark.parametrize("producer_back_s", [1.0, 8.0], ids=["producer-1s", "producer-8s"])
def test_events_stamped_during_a_broker_outage_are_not_late(
        kafka_bootstrap: str, tmp_path: Path, producer_back_s: float) -> None:
    """A caught-up run whose event time follows the clock (live events, then 1 s of
    silence) loses its broker for 8 s; ``producer_back_s`` after the run's consumer is
    back, the events stamped during the outage arrive (produced late, as a producer that
    held them and reconnects later would). With the out-of-orderness bound of 5 s none
    may be late: event time resumes from where it stopped (about 1 s of silence), it
    does not jump by the outage's 8 s, nor by the 8 s a producer may take to come back
    after the consumer (librdkafka's reconnect backoff: up to 15 s with its defaults;
    the run's ``--kafka-outage-grace``, 15 s by default, holds its clock of silence that
    long after an outage)."""
    from confluent_kafka import Consumer, TopicPartition
    from test_kafka import produce

    from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics

    endpoint = TansuEndpoint(kafka_bootstrap)
    endpoint.start()
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    run = _cli("run", "--kafka", endpoint.bootstrap, "--input-topics", "ecommerce-events",
               "--partitions", "1", "--output-dir", str(tmp_path / "out"), "--idle-ms", "500",
               "--no-recommendations", "--no-progress", "--json",
               "--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-seconds", "0.2")
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(run.stderr or ()), daemon=True)
    reader.start()

    def wait(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert run.poll() is None, (what, log[-20:])
            assert time.monotonic() < deadline, (what, log[-20:])
            time.sleep(0.05)

    group = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "shopstream"})

    def read(count: int) -> Callable[[], bool]:
        """Whether the run's checkpoints cover ``count`` records (its committed offset)."""
        def covered() -> bool:
            found = group.committed([TopicPartition("ecommerce-events", 0)], timeout=5)
            return bool(found[0].offset >= count)
        return covered

    try:
        # Live events, twice: the second time the run is up and reads them at once.
        for first in (0, 3):
            now_ms = int(time.time() * 1000)
            produce(kafka_bootstrap, [_page_view(first + n, now_ms - 200 + 100 * n)
                                      for n in range(3)])
            wait(read(first + 3), "the run did not read the first events")
        time.sleep(1.0)  # caught up and silent: event time follows the clock
        down_ms = int(time.time() * 1000)
        endpoint.kill()
        time.sleep(_OUTAGE_S)
        endpoint.start()
        wait(lambda: any("consumer goes on" in line for line in log),
             "the consumer did not say the broker is back")
        time.sleep(producer_back_s)  # idle ticks again, before the held events arrive
        held = [_page_view(6 + n, down_ms + 500 * n) for n in range(int(_OUTAGE_S * 2))]
        produce(kafka_bootstrap, held)
        wait(read(6 + len(held)), "the run did not read the held events")
        run.send_signal(signal.SIGTERM)
        stdout = run.stdout.read() if run.stdout else ""
        run.wait(timeout=60)
    finally:
        group.close()
        endpoint.kill()
        if run.poll() is None:
            run.kill()
        reader.join(timeout=10)
        for pipe in (run.stdout, run.stderr):
            if pipe is not None:
                pipe.close()
    assert run.returncode == 0, log[-20:]
    summary = json.loads(stdout)
    late_file = tmp_path / "out" / "late-events.jsonl"
    late = late_file.read_text().splitlines() if late_file.exists() else []
    assert (summary["lines"], summary["late_events"]) == (6 + len(held), 0), late[:3]
