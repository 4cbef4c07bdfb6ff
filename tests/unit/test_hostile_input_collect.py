"""Hostile input through ``shopstream collect`` (issue 18): its ``POST /events``, the
Snowplow ``tp2`` POST and the pixel, against the command run as its own server.

No 5xx, each refused event counted as a dead letter with its reason (the original bytes,
base64 when not UTF-8), every valid event accepted, and none made late."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import cli_server
from hostile import HOSTILE, line

TP2 = "/com.snowplowanalytics.snowplow/tp2"
ENVELOPE = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
ECOMMERCE = "iglu:com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/" \
            "jsonschema/1-0-2"
JSON = {"Content-Type": "application/json"}
DAY = 86_400_000


@pytest.fixture(scope="module")
def collect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """``shopstream collect --store`` with a small item limit (set on the command line)."""
    tmp = tmp_path_factory.mktemp("collect")
    with cli_server(["collect", "--store", str(tmp / "f.db"), "--max-items", "500"],
                    client_timeout_s=60) as server:
        yield server.client
    assert "Traceback" not in server.stderr, server.stderr


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stamped(name: str) -> bytes:
    # A live door has no replay progress: "ahead of the stream" is ahead of the clock.
    ahead = "ahead of the stream" in name or "a day ahead, as ISO" in name
    return HOSTILE[name](_now_ms() + (DAY if ahead else -60_000))


def _valid_event() -> bytes:
    return line(eventType="PAGE_VIEW", sessionId="ok", timestamp=_now_ms())


def _pv(**extra: str) -> dict[str, str]:
    return {"e": "pv", "p": "web", "tv": "js-3", "sid": "sp-ok", "duid": "d1",
            "dtm": str(_now_ms()), "url": "https://shop.example/", **extra}


def _purchase(n_items: int, revenue: float = 10.0, price: float = 1.0,
              quantity: int = 1) -> dict[str, str]:
    products = [{"schema": "iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/"
                           "1-0-0", "data": {"id": f"p{i}", "price": price,
                                             "quantity": quantity, "currency": "EUR"}}
                for i in range(n_items)]
    transaction = {"schema": "iglu:com.snowplowanalytics.snowplow.ecommerce/transaction/"
                             "jsonschema/1-0-0",
                   "data": {"transaction_id": "o1", "revenue": revenue, "currency": "EUR",
                            "payment_method": "card"}}
    action = {"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
              "data": {"schema": ECOMMERCE, "data": {"type": "transaction"}}}
    contexts = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
                "data": [*products, transaction]}
    return {**_pv(), "e": "ue", "ue_pr": json.dumps(action), "co": json.dumps(contexts)}


#: Snowplow payloads, each with one thing wrong (mapped to an event, or not).
HOSTILE_PAYLOADS: dict[str, Any] = {
    "dtm superscript two": lambda: _pv(dtm="\u00b2"),
    "dtm 5,000 digits": lambda: _pv(dtm="9" * 5000),
    "dtm negative": lambda: _pv(dtm="-5"),
    "dtm empty": lambda: _pv(dtm=""),
    "dtm in 1970": lambda: _pv(dtm="5"),
    "dtm year 9999": lambda: _pv(dtm="253402300799000"),
    "dtm a day ahead of the clock": lambda: _pv(dtm=str(_now_ms() + DAY)),
    "no sid": lambda: {k: v for k, v in _pv().items() if k != "sid"},
    "sid of 10,000 characters": lambda: _pv(sid="s" * 10_000),
    "uid of 300 characters": lambda: _pv(uid="u" * 300),
    "unknown event type": lambda: _pv(e="zz"),
    "ue_pr not JSON": lambda: {**_pv(), "e": "ue", "ue_pr": "{oops"},
    "ue_pr nested 5,000 deep": lambda: {**_pv(), "e": "ue",
                                        "ue_pr": "[" * 5000 + "]" * 5000},
    "ue_px not base64": lambda: {**_pv(), "e": "ue", "ue_px": "%%%"},
    # (contexts are read only for ecommerce events; a page view ignores them unparsed)
    "co of a purchase nested 5,000 deep": lambda: {
        **_purchase(1), "co": '{"schema":"x","data":' + "[" * 5000 + "]" * 5000 + "}"},
    "purchase of 501 items (over --max-items 500)": lambda: _purchase(501),
    "revenue 1e30": lambda: _purchase(1, revenue=1e30),
    "item price 1e30": lambda: _purchase(1, price=1e30),
    "item quantity 10**9": lambda: _purchase(1, quantity=10**9),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_post_events_refuses_each_kind_with_a_4xx(collect: httpx.Client, name: str) -> None:
    answer = collect.post("/events", content=_stamped(name), headers=JSON)
    if name == "array":  # an empty batch, not an event
        assert (answer.status_code, answer.json()) == (202, {"accepted": 0})
    else:
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert collect.post("/events", content=_valid_event(), headers=JSON).status_code == 202


@pytest.mark.parametrize("name", HOSTILE)
def test_tp2_refuses_each_kind_as_a_body_with_a_4xx(collect: httpx.Client, name: str) -> None:
    answer = collect.post(TP2, content=_stamped(name), headers=JSON)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])


@pytest.mark.parametrize("name", HOSTILE_PAYLOADS)
def test_tp2_refuses_each_hostile_payload_and_keeps_the_valid_ones(
        collect: httpx.Client, name: str) -> None:
    batch = [_pv(eid="v1"), HOSTILE_PAYLOADS[name](), _purchase(2), _pv(eid="v2")]
    answer = collect.post(TP2, json={"schema": ENVELOPE, "data": batch})
    assert answer.status_code == 200, answer.text[:300]
    body = answer.json()
    assert body["accepted"] == 3
    assert [r["index"] for r in body["rejected"]] == [1]
    assert body["rejected"][0]["reason"]


@pytest.mark.parametrize("name", ["dtm year 9999", "sid of 10,000 characters",
                                  "co of a purchase nested 5,000 deep",
                                  "ue_pr nested 5,000 deep"])
def test_the_pixel_refuses_hostile_payloads_with_a_4xx(collect: httpx.Client,
                                                       name: str) -> None:
    answer = collect.get("/i", params=HOSTILE_PAYLOADS[name]())
    assert 400 <= answer.status_code < 500, answer.text[:300]
    assert collect.get("/i", params=_pv()).status_code == 200


def test_every_refusal_was_a_dead_letter_and_no_valid_event_was_late(
        collect: httpx.Client) -> None:
    for _ in range(3):
        assert collect.post("/events", content=_valid_event(), headers=JSON).status_code == 202
    not_utf8 = _stamped("invalid UTF-8 in sessionId")
    assert collect.post("/events", content=not_utf8, headers=JSON).status_code == 400
    stats = collect.get("/collector/stats").json()
    refused_events = len(HOSTILE) - 1 + 1  # "array" is an empty batch; one more just now
    expected = refused_events + len(HOSTILE) + len(HOSTILE_PAYLOADS) + 4
    assert stats["rejected"] == expected
    valid = len(HOSTILE) + 3 * len(HOSTILE_PAYLOADS) + 4 + 3
    assert stats["accepted"] == valid
    letters = stats["recentDeadLetters"]
    assert all(letter["reason"] and letter["stage"] for letter in letters)
    # The original bytes of what is not UTF-8, as base64.
    last = letters[-1]
    assert (last["rawEncoding"], base64.b64decode(last["raw"])) == ("base64", not_utf8)
    assert "UTF-8" in last["reason"]
    deadline = time.monotonic() + 10
    metrics = ""
    while time.monotonic() < deadline:
        metrics = collect.get("/metrics").text
        if "shopstream_late_events_total 0" in metrics:
            break
        time.sleep(0.2)
    assert "shopstream_late_events_total 0\n" in metrics, metrics
    assert collect.get("/health").status_code == 200
