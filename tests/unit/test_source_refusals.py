"""A record a source refuses itself (a Kafka partition's progress window) reaches
``dead-letter`` through the runner's refusal path, as a file's refusals do, without being
decoded (#19: it was once bytes carrying a reason, refused by the decoder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shopstream.events.time_window import Refusal
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner


class RefusingSource:
    """Items given in advance: lines with their positions and refusals."""

    name = "test://refusing"
    exhausted = True

    def __init__(self, items: list[tuple[bytes, Any] | Refusal]) -> None:
        self.items = items

    def read(self, position: Any | None) -> Iterator[tuple[bytes, Any] | Refusal | None]:
        return iter(self.items)

    def commit(self, position: Any) -> None:
        return None

    def close(self) -> None:
        return None


def _view(ts: int, event_id: str) -> bytes:
    return json.dumps({"eventType": "PAGE_VIEW", "sessionId": "s", "timestamp": ts,
                       "eventId": event_id}, separators=(",", ":")).encode()


def test_a_refusal_from_a_source_is_a_dead_letter_with_its_reason(tmp_path: Path) -> None:
    far = _view(90_000_000, "e2")  # a valid event: only the source's refusal stops it
    items: list[tuple[bytes, Any] | Refusal] = [
        (_view(1_000, "e1"), {"p": 1}),
        Refusal(far, {"p": 2}, "ahead of the partition's progress"),
        (_view(2_000, "e3"), {"p": 3}),
    ]
    summary = EmbeddedRunner(default_topology(), tmp_path / "out").run(RefusingSource(items))
    assert (summary.lines, summary.events, summary.dead_letters) == (3, 2, 1)
    letters = (tmp_path / "out" / "dead-letter.jsonl").read_text().splitlines()
    # Numbered like an undecodable line of a source without byte offsets: its line.
    assert [json.loads(x) for x in letters] == [
        {"stage": "limit", "reason": "ahead of the partition's progress",
         "raw": far.decode(), "source": "test://refusing", "offset": 2}]
