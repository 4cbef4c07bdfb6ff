"""Hostile input lines, one per kind, and valid lines to put between them (issue 18).

Each hostile line is built around the stream time ``ts`` it is placed at, so that the one
thing wrong with it is what its name says: a door that misses that check accepts it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
HOUR = 3_600_000
DAY = 24 * HOUR


def line(**fields: Any) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def _view(ts: int, **extra: Any) -> dict[str, Any]:
    return {"eventType": "VIEW_PRODUCT", "sessionId": "h", "timestamp": ts,
            "productId": "p1", **extra}


def _purchase(ts: int, items: Any, **extra: Any) -> dict[str, Any]:
    return {"eventType": "PURCHASE", "sessionId": "h", "timestamp": ts, "items": items,
            **extra}


def _raw_view(ts: int, tail: str) -> bytes:
    return (f'{{"eventType":"VIEW_PRODUCT","sessionId":"h","timestamp":{ts},'
            f'"productId":"p1"{tail}}}').encode()


def _deep(n: int, opening: str = "[", closing: str = "]") -> str:
    return opening * n + closing * n


def _nested_objects(n: int) -> str:
    return '{"a":' * n + "1" + "}" * n


def _items(n: int) -> list[dict[str, Any]]:
    return [{"productId": f"p{i}", "price": 1.0, "quantity": 1} for i in range(n)]


def _ts_field(ts_text: str) -> bytes:
    return ('{"eventType":"PAGE_VIEW","sessionId":"h","timestamp":' + ts_text + "}").encode()


#: name -> function of the stream time giving one hostile line (bytes, no newline).
HOSTILE: dict[str, Callable[[int], bytes]] = {
    # -- not an event at all --------------------------------------------------------------
    "not json": lambda ts: b"oops",
    "empty object": lambda ts: b"{}",
    "array": lambda ts: b"[]",
    "bare string": lambda ts: b'"PAGE_VIEW"',
    "bare number": lambda ts: b"42",
    "null": lambda ts: b"null",
    "true": lambda ts: b"true",
    "truncated": lambda ts: _raw_view(ts, "")[:-9],
    "trailing garbage": lambda ts: _raw_view(ts, "") + b" trailing",
    "two objects on a line": lambda ts: _raw_view(ts, "") + _raw_view(ts, ""),
    "comment": lambda ts: _raw_view(ts, "") + b" // comment",
    "single quotes": lambda ts: _raw_view(ts, "").replace(b'"', b"'"),
    "trailing comma": lambda ts: _raw_view(ts, ","),
    "NUL byte": lambda ts: b"\x00" + _raw_view(ts, ""),
    "control character in key": lambda ts: _raw_view(ts, "").replace(b"eventType",
                                                                      b"event\x01Type"),
    # -- nesting and size -----------------------------------------------------------------
    "deep arrays in an ignored field (1,000)": lambda ts: _raw_view(ts, ',"x":' + _deep(1000)),
    "deep arrays in an ignored field (100,000)": lambda ts: _raw_view(
        ts, ',"x":' + _deep(100_000)),
    "deep objects in an ignored field": lambda ts: _raw_view(ts, ',"x":' + _nested_objects(600)),
    "nesting one over the limit": lambda ts: _raw_view(ts, ',"x":' + _deep(16)),
    "deep nesting inside items": lambda ts: line(**_purchase(
        ts, [{"productId": "p", "x": json.loads(_deep(16))}])),
    "unclosed brackets": lambda ts: _raw_view(ts, ',"x":' + "[" * 5000),
    "10,000-item purchase": lambda ts: line(**_purchase(ts, _items(10_000))),
    "1,001-item purchase": lambda ts: line(**_purchase(ts, _items(1_001))),
    "line over 1 MiB": lambda ts: _raw_view(ts, ',"x":"' + "a" * 1_100_000 + '"'),
    # -- encoding -------------------------------------------------------------------------
    "UTF-16-LE with BOM": lambda ts: "\ufeff".encode("utf-16-le") + _raw_view(ts, "").decode(
        ).encode("utf-16-le"),
    "UTF-16-BE with BOM": lambda ts: b"\xfe\xff" + _raw_view(ts, "").decode().encode("utf-16-be"),
    "UTF-32 with BOM": lambda ts: b"\xff\xfe\x00\x00" + _raw_view(ts, "").decode().encode(
        "utf-32-le"),
    "invalid UTF-8 in sessionId": lambda ts: _raw_view(ts, "").replace(b'"h"', b'"\xff\xfe"'),
    "invalid UTF-8 in an ignored field": lambda ts: _raw_view(ts, ',"x":"@"').replace(
        b"@", b"\xc3\x28"),
    "latin-1 text": lambda ts: _raw_view(ts, ',"productName":"caf@"').replace(b"@", b"\xe9"),
    "overlong UTF-8": lambda ts: _raw_view(ts, ',"productName":"@"').replace(b"@", b"\xc0\xaf"),
    "UTF-8 surrogate bytes": lambda ts: _raw_view(ts, ',"productName":"@"').replace(
        b"@", b"\xed\xa0\x80"),
    "UTF-8 BOM then garbage": lambda ts: b"\xef\xbb\xbfoops",
    # -- duplicate keys -------------------------------------------------------------------
    "duplicate eventType": lambda ts: _raw_view(ts, ',"eventType":"PURCHASE"'),
    "duplicate sessionId": lambda ts: _raw_view(ts, ',"sessionId":"other"'),
    "duplicate timestamp": lambda ts: _raw_view(ts, f',"timestamp":{ts + DAY}'),
    "duplicate productId, second null": lambda ts: _raw_view(ts, ',"productId":null'),
    "duplicate key inside an item": lambda ts: (
        f'{{"eventType":"PURCHASE","sessionId":"h","timestamp":{ts},"items":'
        '[{"productId":"a","price":1,"price":1e9}]}').encode(),
    "many duplicate ignored keys": lambda ts: _raw_view(ts, ',"x":1' * 2000),
    # -- required fields and types --------------------------------------------------------
    "missing eventType": lambda ts: line(sessionId="h", timestamp=ts),
    "missing sessionId": lambda ts: line(eventType="PAGE_VIEW", timestamp=ts),
    "missing timestamp": lambda ts: line(eventType="PAGE_VIEW", sessionId="h"),
    "unknown eventType": lambda ts: line(eventType="TELEPORT", sessionId="h", timestamp=ts),
    "lower-case eventType": lambda ts: line(eventType="page_view", sessionId="h", timestamp=ts),
    "numeric eventType": lambda ts: line(eventType=3, sessionId="h", timestamp=ts),
    "null eventType": lambda ts: line(eventType=None, sessionId="h", timestamp=ts),
    "empty sessionId": lambda ts: line(eventType="PAGE_VIEW", sessionId="", timestamp=ts),
    "blank sessionId": lambda ts: line(eventType="PAGE_VIEW", sessionId="   ", timestamp=ts),
    "null sessionId": lambda ts: line(eventType="PAGE_VIEW", sessionId=None, timestamp=ts),
    "object sessionId": lambda ts: line(eventType="PAGE_VIEW", sessionId={"a": 1}, timestamp=ts),
    "array sessionId": lambda ts: line(eventType="PAGE_VIEW", sessionId=["h"], timestamp=ts),
    "negative numeric sessionId": lambda ts: line(eventType="PAGE_VIEW", sessionId=-5,
                                                  timestamp=ts),
    "fractional sessionId": lambda ts: line(eventType="PAGE_VIEW", sessionId=1.5, timestamp=ts),
    "huge numeric sessionId": lambda ts: _ts_field(str(ts)).replace(b'"h"', b"9" * 400),
    "10,000-character sessionId": lambda ts: line(eventType="PAGE_VIEW", sessionId="s" * 10_000,
                                                  timestamp=ts),
    "300-character userId": lambda ts: line(eventType="PAGE_VIEW", sessionId="h",
                                            userId="u" * 300, timestamp=ts),
    "1,000-character eventId": lambda ts: line(eventType="PAGE_VIEW", sessionId="h",
                                               eventId="e" * 1000, timestamp=ts),
    "empty productId on a view": lambda ts: line(**_view(ts, productId="")),
    "blank productId on a view": lambda ts: line(**_view(ts, productId=" \t ")),
    "missing productId on add to cart": lambda ts: line(eventType="ADD_TO_CART", sessionId="h",
                                                        timestamp=ts),
    "300-character productId": lambda ts: line(**_view(ts, productId="p" * 300)),
    "object productId": lambda ts: line(**_view(ts, productId={"id": 1})),
    "empty orderId": lambda ts: line(**_purchase(ts, _items(1), orderId="")),
    "line-separator sessionId": lambda ts: line(eventType="PAGE_VIEW",
                                                           sessionId="\u2028", timestamp=ts),
    "lone surrogate in sessionId": lambda ts: _ts_field(str(ts)).replace(b'"h"', b'"\\ud800"'),
    # -- timestamps -----------------------------------------------------------------------
    "timestamp -0.5": lambda ts: _ts_field("-0.5"),
    "timestamp -1": lambda ts: _ts_field("-1"),
    "timestamp 0": lambda ts: _ts_field("0"),
    "timestamp 5 (1970)": lambda ts: _ts_field("5"),
    "timestamp in 1999": lambda ts: _ts_field("915148800000"),
    "timestamp 1e400": lambda ts: _ts_field("1e400"),
    "timestamp NaN literal": lambda ts: _ts_field("NaN"),
    "timestamp Infinity literal": lambda ts: _ts_field("Infinity"),
    "timestamp 'NaN' string": lambda ts: _ts_field('"NaN"'),
    "timestamp 5,000 digits": lambda ts: _ts_field("9" * 5000),
    "timestamp 5,000-digit string": lambda ts: _ts_field('"' + "9" * 5000 + '"'),
    "timestamp superscript two": lambda ts: _ts_field('"\u00b2"'),
    "timestamp 'yesterday'": lambda ts: _ts_field('"yesterday"'),
    "timestamp with letters": lambda ts: _ts_field(f'"{ts}abc"'),
    "timestamp hex": lambda ts: _ts_field("0x10"),
    "timestamp leading zero": lambda ts: _ts_field("0123"),
    "timestamp true": lambda ts: _ts_field("true"),
    "timestamp null": lambda ts: _ts_field("null"),
    "timestamp object": lambda ts: _ts_field('{"ms":1}'),
    "timestamp 2**63": lambda ts: _ts_field(str(2**63)),
    "timestamp 1e19": lambda ts: _ts_field("1e19"),
    "timestamp year 9999 (ms)": lambda ts: _ts_field("253402300799000"),
    "timestamp year 9999 (ISO)": lambda ts: _ts_field('"9999-12-31T23:59:59Z"'),
    "timestamp a year ahead of the clock": lambda ts: _ts_field(
        str(int(time.time() * 1000) + 365 * DAY)),
    "timestamp a day ahead of the stream": lambda ts: _ts_field(str(ts + DAY)),
    "timestamp a day ahead, as ISO": lambda ts: _ts_field(
        '"' + datetime.fromtimestamp(
            (ts + DAY) / 1000, UTC).isoformat() + '"'),
    "timestamp two hours ahead of the stream": lambda ts: _ts_field(str(ts + 2 * HOUR)),
    "timestamp a week ahead of the stream": lambda ts: _ts_field(str(ts + 7 * DAY)),
    # -- numbers --------------------------------------------------------------------------
    "price 1e30": lambda ts: line(**_view(ts, price=1e30)),
    "price negative": lambda ts: line(**_view(ts, price=-1.0)),
    "price text": lambda ts: line(**_view(ts, price="abc")),
    "price 1e400": lambda ts: _raw_view(ts, ',"price":1e400'),
    "price NaN": lambda ts: _raw_view(ts, ',"price":NaN'),
    "quantity 1e30": lambda ts: line(**_view(ts, quantity=1e30)),
    "quantity negative": lambda ts: line(**_view(ts, quantity=-1)),
    "quantity 10**12": lambda ts: line(**_view(ts, quantity=10**12)),
    "quantity 10**30": lambda ts: _raw_view(ts, ',"quantity":' + "1" + "0" * 30),
    "quantity fractional": lambda ts: line(**_view(ts, quantity=1.5)),
    "cartTotal 1e30": lambda ts: line(**_purchase(ts, _items(1), cartTotal=1e30)),
    "cartTotal negative": lambda ts: line(**_purchase(ts, _items(1), cartTotal=-5.0)),
    "items not an array": lambda ts: line(**_purchase(ts, {"productId": "p"})),
    "items of strings": lambda ts: line(**_purchase(ts, ["p1", "p2"])),
    "item without productId": lambda ts: line(**_purchase(ts, [{"price": 1.0}])),
    "item with empty productId": lambda ts: line(**_purchase(ts, [{"productId": ""}])),
    "item price 1e30": lambda ts: line(**_purchase(ts, [{"productId": "p", "price": 1e30}])),
    "item quantity 0": lambda ts: line(**_purchase(ts, [{"productId": "p", "quantity": 0}])),
    "item quantity 10**9": lambda ts: line(**_purchase(ts, [{"productId": "p",
                                                            "quantity": 10**9}])),
    "item productId 300 characters": lambda ts: line(**_purchase(ts, [{"productId": "p" * 300}])),
}


def valid_lines(ts: int, n: int) -> list[bytes]:
    """Valid events at ``ts``, ``ts + 1 s``...; a mix of kinds and of wire forms."""
    out = []
    for i in range(3):
        t = ts + i * 1000
        session = f"v{n % 7}"
        kind = (n + i) % 5
        if kind == 0:
            out.append(line(eventType="VIEW_PRODUCT", sessionId=session, timestamp=t,
                            productId=f"p{n % 11}", price=9.5))
        elif kind == 1:
            out.append(line(eventType="ADD_TO_CART", sessionId=session, timestamp=t,
                            productId=f"p{n % 11}", price=9.5, quantity=2))
        elif kind == 2:
            out.append(line(eventType="PURCHASE", sessionId=session, timestamp=t,
                            items=[{"productId": f"p{n % 11}", "price": 9.5}], cartTotal=9.5))
        elif kind == 3:  # numeric ids and an ISO timestamp take the permissive path
            iso = datetime.fromtimestamp(
                t / 1000, UTC).isoformat()
            out.append(line(eventType="PAGE_VIEW", sessionId=n, userId=7, timestamp=iso))
        else:
            out.append(line(eventType="SEARCH", sessionId=session, timestamp=t,
                            searchQuery='brackets [[[{ and "quotes":'))
    return out


def hostile_stream() -> tuple[bytes, list[bytes], int]:
    """A JSONL stream of valid lines with one of each hostile line between them: the bytes,
    the hostile lines in order, and how many valid lines there are."""
    chunks: list[bytes] = []
    hostile: list[bytes] = []
    valid = 0
    ts = T0
    for n, make in enumerate(HOSTILE.values()):
        for good in valid_lines(ts, n):
            chunks.append(good)
            valid += 1
        ts += 3000
        bad = make(ts)
        hostile.append(bad)
        chunks.append(bad)
    for good in valid_lines(ts, len(HOSTILE)):  # the stream ends on valid lines
        chunks.append(good)
        valid += 1
    return b"\n".join(chunks) + b"\n", hostile, valid
