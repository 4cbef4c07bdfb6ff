"""HTTP collector throughput: events per second accepted in batches; prints JSON.

Run: ``.venv/bin/python bench/collector_bench.py [--events 100000] [--batch 100]``

1. starts the tansu broker on a free port and ``shopstream collect --kafka`` as a
   subprocess (so client and server do not share an interpreter);
2. turns simulated shop events into Snowplow tracker payloads (page views and the
   ecommerce actions product_view / add_to_cart / remove_from_cart / transaction with
   their product, cart and transaction entities, ``ue_px`` / ``cx`` base64 encoded as the
   trackers send them);
3. posts them in ``payload_data`` batches of ``--batch`` to ``/tp2`` over ``--clients``
   keep-alive connections, then the same events as canonical JSON batches to
   ``POST /events``; each request returns only once the broker acknowledged its events.
   Every answer is checked: all events must be accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from shopstream.connectors.broker import BrokerConfig, start_broker
from shopstream.events.decode import EventDecoder
from shopstream.sim import SimulationConfig, write_jsonl

ECOM = "iglu:com.snowplowanalytics.snowplow.ecommerce"
ACTIONS = {"VIEW_PRODUCT": "product_view", "ADD_TO_CART": "add_to_cart",
           "REMOVE_FROM_CART": "remove_from_cart", "PURCHASE": "transaction"}
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"


def b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def snowplow(event: dict[str, Any]) -> dict[str, str]:
    """What a Snowplow web tracker would send for a canonical event."""
    payload = {"e": "pv", "eid": event["eventId"], "sid": event["sessionId"],
               "uid": event["userId"], "dtm": str(event["timestamp"]), "p": "web",
               "tv": "py-1.1.0", "url": event.get("pageUrl") or "https://shop.example/"}
    kind = ACTIONS.get(event["eventType"])
    if kind is None:
        return payload
    entities = []
    if kind == "transaction":
        entities += [{"schema": f"{ECOM}/product/jsonschema/1-0-0", "data": {
            "id": i["productId"], "price": i.get("price", 0), "quantity": i.get("quantity", 1),
            "currency": "USD"}} for i in event.get("items") or []]
        entities.append({"schema": f"{ECOM}/transaction/jsonschema/1-0-0", "data": {
            "transaction_id": event.get("orderId") or event["eventId"],
            "revenue": event.get("cartTotal") or 0, "currency": "USD",
            "payment_method": "card"}})
    else:
        entities.append({"schema": f"{ECOM}/product/jsonschema/1-0-0", "data": {
            "id": event["productId"], "name": event.get("productName"),
            "category": event.get("category"), "price": event.get("price") or 0,
            "quantity": event.get("quantity") or 1, "currency": "USD"}})
    payload.update(e="ue", ue_px=b64({
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": f"{ECOM}/snowplow_ecommerce_action/jsonschema/1-0-2",
                 "data": {"type": kind}}}),
        cx=b64({"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
                "data": entities}))
    return payload


async def post_all(url: str, bodies: list[bytes], clients: int) -> tuple[float, int]:
    """Send every body over ``clients`` connections; return seconds and events accepted."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while not queue.empty():
            answer = await client.post(url, content=queue.get_nowait(),
                                       headers={"Content-Type": "application/json"})
            if answer.status_code not in (200, 202):
                sys.exit(f"{url} answered {answer.status_code}: {answer.text[:300]}")
            reply = answer.json()
            if reply.get("rejected"):
                sys.exit(f"{url} rejected events: {reply['rejected'][:3]}")
            accepted += reply["accepted"]

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return time.perf_counter() - started, accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    write_jsonl(SimulationConfig(sessions=max(opts.events // 4, 10), seed=9,
                                 end_ms=1_767_225_600_000), work / "e.jsonl", progress=False)
    decode = EventDecoder().decode
    raws = [line for line in (work / "e.jsonl").read_bytes().splitlines() if line.strip()]
    raws = raws[:opts.events]
    events = [json.loads(json.dumps(_builtins(decode(raw)))) for raw in raws]
    tp2 = [json.dumps({"schema": PAYLOAD_DATA,
                       "data": [snowplow(e) for e in events[i:i + opts.batch]]}).encode()
           for i in range(0, len(events), opts.batch)]
    canonical = [b"[" + b",".join(raws[i:i + opts.batch]) + b"]"
                 for i in range(0, len(raws), opts.batch)]
    broker_port, port = _free_port(), _free_port()
    broker = start_broker(BrokerConfig(port=broker_port))
    server = subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli", "collect", "--kafka",
         f"127.0.0.1:{broker_port}", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_http(f"http://127.0.0.1:{port}/health", server)
        base = f"http://127.0.0.1:{port}"
        tp2_s, tp2_n = asyncio.run(post_all(
            f"{base}/com.snowplowanalytics.snowplow/tp2", tp2, opts.clients))
        canon_s, canon_n = asyncio.run(post_all(f"{base}/events", canonical, opts.clients))
    finally:
        server.terminate()
        server.communicate(timeout=30)
        broker.terminate()
        broker.wait(timeout=10)
    print(json.dumps({
        "bench": "collector",
        "target": "shopstream collect --kafka (tansu on 127.0.0.1), acknowledged per request",
        "events": len(events), "batch": opts.batch, "clients": opts.clients,
        "snowplow_tp2_events_per_s": round(tp2_n / tp2_s),
        "canonical_events_per_s": round(canon_n / canon_s),
        "snowplow_tp2_seconds": round(tp2_s, 2), "canonical_seconds": round(canon_s, 2),
    }, indent=2))


def _builtins(event: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(event)


def _wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"collector exited: {proc.communicate()[1].decode()[-500:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    sys.exit(f"collector did not answer at {url}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
