"""What the profiles read beyond ``profile-events``, on every runner: the shop database's
customer changes (a keyed input from ``catalog-changes``, beside product changes the
profiles ignore) and the ``category-trends`` readings (a broadcast input that one of the
topology's own stages produces), compared per key as multisets with the test kit.

Trends read every hour from the first event and any rising reading counts for the
action, so that a short input reaches the trend-aware next best action.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from parity_kit import (
    ParityRunner,
    add_catalog_changes,
    expected_lines,
    insert_lines,
    per_key,
    read_events,
)

from shopstream.errors import DecodeError
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.profiles.actions import RISING, ActionsConfig
from shopstream.profiles.trends import TrendsConfig
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.topology import Topology

STREAMS = (streams.CATEGORY_TRENDS, streams.PROFILES, streams.SEGMENT_CHANGES)


def sources_topology() -> Topology:
    """Identity first (the group that takes events and forwards catalog changes), the
    trend stages, then the profiles reading both."""
    full = default_topology(PipelineConfig(
        recommendations=None,
        trends=TrendsConfig(min_days=0, min_events=0, reading_every_buckets=1),
        profiles=ProfilesConfig(actions=ActionsConfig(rising_min_strength=0.0))))
    names = ("profile-identity", "trend-activity", "category-trends", "customer-profiles")
    kept = sorted((s for s in full.stages if s.name in names),
                  key=lambda s: names.index(s.name))
    return Topology(tuple(kept), STREAMS)


def add_customer_changes(path: Path, every: int = 4) -> int:
    """Insert a ``CUSTOMER_CHANGE`` for every ``every``-th user with an id (in place):
    one at the time of their first event, then 20, 40 and 60 lines later one stamped
    10 s behind, ahead of and behind that line; returns how many.

    A change behind the watermark takes effect at it: before the timers due after that
    (the embedded engine once fired those due before the next event first: one of 872
    profiles differed from the test kit's on this input)."""
    lines, times, events = read_events(path)
    first: dict[str, int] = {}
    for index, event in enumerate(events):
        if event is not None and event.user_id != event.session_id \
                and event.user_id not in first:
            first[event.user_id] = index
    inserts: list[tuple[int, bytes]] = []
    for n, (user, index) in enumerate(sorted(first.items())):
        if n % every:
            continue
        behind = min(index + 20, len(lines) - 1)
        later = min(index + 40, len(lines) - 1)
        last = min(index + 60, len(lines) - 1)
        for phase, (at, when, country) in enumerate((
                (index, times[index], "DE"), (behind, times[behind] - 10_000, "NL"),
                (later, times[later] + 10_000, "FR"), (last, times[last] - 10_000, "PL"))):
            change = {"eventType": "CUSTOMER_CHANGE", "timestamp": when,
                      "sessionId": "pg-catalog", "eventId": f"customer-{user}-{phase}",
                      "userId": user, "country": country, "region": f"r{n}",
                      "device": "mobile", "platform": "ios"}
            inserts.append((at, json.dumps(change).encode()))
    insert_lines(path, lines, inserts)
    return len(inserts)


def prepend_ramp(path: Path, days: int = 4) -> int:
    """Put before the input a category whose views grow day by day (``Ramp``), viewed
    by five shoppers of their own, so that its readings rise; returns how many events."""
    decode = EventDecoder().decode
    lines = path.read_bytes().splitlines()
    first = []
    for raw in lines[:20]:
        try:
            first.append(decode(raw).timestamp_ms)
        except DecodeError:
            continue
    day = 86_400_000
    start = min(first) - days * day
    ramp = []
    for d in range(days):
        n = 15 * (d + 1) ** 2
        for k in range(n):
            ramp.append(json.dumps({
                "eventType": "VIEW_PRODUCT", "timestamp": start + d * day + k * day // n,
                "sessionId": f"ramp-{d}-{k // 10}", "userId": f"ramp-u{k % 5}",
                "productId": f"R{k % 7}", "category": "Ramp"}).encode())
    path.write_bytes(b"".join(raw + b"\n" for raw in ramp + lines))
    return len(ramp)


@pytest.fixture(scope="session")
def sources_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("parity-profile-sources") / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=150, seed=34, end_ms=1_767_600_000_000,
                                 disorder_ms=8_000, bad_rate=0.02), path, progress=False)
    assert add_customer_changes(path) > 10
    assert add_catalog_changes(path) > 0
    assert prepend_ramp(path) > 0
    return path


@pytest.fixture(scope="session")
def expected_sources(sources_input: Path) -> dict[str, list[str]]:
    return expected_lines(sources_input, sources_topology())


def test_the_inputs_reach_accounts_and_the_trend_action(
        expected_sources: dict[str, list[str]]) -> None:
    profiles = [json.loads(line) for line in expected_sources[streams.PROFILES]]
    assert any(p["account"] and p["account"]["country"] == "FR" for p in profiles)
    assert any(p["account"] and p["account"]["country"] == "NL" for p in profiles)
    assert any(p["account"] is None for p in profiles)
    assert any(a["action"] == RISING for p in profiles for a in p["actions"])
    assert not any(p["userId"].startswith(("product-change:", "catalog"))
                   for p in profiles)


def test_profile_sources_per_key(runner: ParityRunner, sources_input: Path,
                                 expected_sources: dict[str, list[str]]) -> None:
    outputs = runner.run("profile-sources", sources_input, sources_topology())
    differ = [stream for stream in STREAMS
              if outputs.per_key(stream) != per_key(expected_sources[stream], stream)]
    assert not differ, {s: (len(outputs.lines(s)), len(expected_sources[s])) for s in differ}
