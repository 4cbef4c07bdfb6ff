"""``shopstream serve --kafka`` (no hosted pipeline: posted events are checked, then
produced to the input topic) checks them with the configured input limits, the same
``--max-*`` options as ``run``, ``collect`` and the hosted pipeline: at ``POST /events``
and at the Snowplow doors, against a real broker."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import cli_server
from test_kafka import read_topics

pytestmark = pytest.mark.integration

TP2 = "/com.snowplowanalytics.snowplow/tp2"
ENVELOPE = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
PRODUCT = "iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0"
TRANSACTION = "iglu:com.snowplowanalytics.snowplow.ecommerce/transaction/jsonschema/1-0-0"
ACTION = "iglu:com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/" \
         "jsonschema/1-0-2"


def _purchase(session: str, n_items: int) -> dict[str, object]:
    return {"eventType": "PURCHASE", "sessionId": session,
            "timestamp": int(time.time() * 1000) - 60_000, "cartTotal": float(n_items),
            "items": [{"productId": f"p{i}", "price": 1.0} for i in range(n_items)]}


def _snowplow_purchase(session: str, n_items: int) -> dict[str, str]:
    products = [{"schema": PRODUCT, "data": {"id": f"p{i}", "price": 1.0, "quantity": 1,
                                             "currency": "EUR"}} for i in range(n_items)]
    transaction = {"schema": TRANSACTION, "data": {"transaction_id": "o1",
                                                   "revenue": float(n_items),
                                                   "currency": "EUR",
                                                   "payment_method": "card"}}
    action = {"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
              "data": {"schema": ACTION, "data": {"type": "transaction"}}}
    contexts = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
                "data": [*products, transaction]}
    return {"e": "ue", "p": "web", "tv": "js-3", "sid": session, "duid": "d1",
            "dtm": str(int(time.time() * 1000) - 60_000), "url": "https://shop.example/",
            "ue_pr": json.dumps(action), "co": json.dumps(contexts)}


def test_serve_kafka_checks_posted_events_with_the_configured_limits(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    with cli_server(["serve", "--store", str(tmp_path / "f.db"), "--kafka", kafka_bootstrap,
                     "--max-items", "3", "--no-jobs"]) as server:
        http = server.client
        # The default limit (1,000 items) would take 4 items: --max-items 3 refuses them.
        over = http.post("/events", json=_purchase("over", 4))
        assert over.status_code == 400, over.text
        assert "max_items=3" in over.json()["errors"][0]["reason"]
        assert http.post("/events", json=_purchase("fits", 3)).status_code == 202
        # The Snowplow doors of the same server take the same limits.
        batch = [_snowplow_purchase("sp-over", 4), _snowplow_purchase("sp-fits", 3)]
        answer = http.post(TP2, json={"schema": ENVELOPE, "data": batch})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["accepted"] == 1
        assert [r["index"] for r in body["rejected"]] == [0]
        assert "max_items=3" in body["rejected"][0]["reason"]
    assert "Traceback" not in server.stderr, server.stderr
    produced = read_topics(kafka_bootstrap, ["ecommerce-events"])["ecommerce-events"]
    sessions = sorted(json.loads(value)["sessionId"] for _, value, _ in produced)
    assert sessions == ["fits", "sp-fits"]
