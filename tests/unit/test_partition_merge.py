"""PartitionMerge and PartitionWatermarks: partitions merged by event time up to the
per-partition watermarks; idle partitions stop holding back and rejoin; messages without
event time never wait; checkpoints keep the watermarks of released events only."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.connectors.partition_merge import PartitionMerge
from shopstream.connectors.partition_watermarks import PartitionWatermarks

BOUND = 50


def merge_of(partitions: int, idle_timeout_s: float = 1_000.0, caught_up_s: float = 0.5,
             marks: dict[int, int] | None = None) -> PartitionMerge:
    merge = PartitionMerge(PartitionWatermarks(BOUND, idle_timeout_s, caught_up_s))
    for p in range(partitions):
        merge.assign(("t", p), now=0.0, watermark_ms=(marks or {}).get(p))
    return merge


@st.composite
def partition_logs(draw: st.DrawFn) -> list[list[int | None]]:
    """Per partition, event times within the bound of the partition's newest so far
    (sorted times plus a jitter of at most BOUND), some messages without event time."""
    logs = []
    for _ in range(draw(st.integers(1, 4))):
        base = sorted(draw(st.lists(st.integers(0, 2_000), max_size=25)))
        log: list[int | None] = [t + draw(st.integers(0, BOUND)) for t in base]
        for _ in range(draw(st.integers(0, 2))):
            log.insert(draw(st.integers(0, len(log))), None)
        logs.append(log)
    return logs


@settings(max_examples=300, deadline=None)
@given(partition_logs(), st.randoms(use_true_random=False))
def test_any_fetch_order_gives_no_late_event_and_keeps_each_partitions_order(
        logs: list[list[int | None]], rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    merge = merge_of(len(logs))
    fetched = [0] * len(logs)
    now = 0.0
    released: list[tuple[int, int]] = []
    newest = -(2**62)  # the engine: watermark = newest released - bound - 1

    def release() -> None:
        nonlocal newest
        for (_, p), _, offset in merge.ready(now):
            ts = logs[p][offset]
            if ts is not None:
                assert ts > newest - BOUND - 1, (p, offset, ts, newest)
                newest = max(newest, ts)
                # The released events never move the engine past the source watermark
                # (None: every partition is idle, nothing holds time back).
                source = merge.source_watermark(now)
                assert source is None or newest - BOUND - 1 <= source
            released.append((p, offset))

    # The broker hands out chunks of partitions in any order (some brokers: a whole
    # partition first); a partition read to its end says so.
    while any(fetched[p] < len(log) for p, log in enumerate(logs)):
        p = rnd.choice([p for p, log in enumerate(logs) if fetched[p] < len(log)])
        for _ in range(rnd.randint(1, 10)):
            if fetched[p] < len(logs[p]):
                merge.add(("t", p), logs[p][fetched[p]], b"", fetched[p], now)
                fetched[p] += 1
        if fetched[p] == len(logs[p]):
            merge.reached_end(("t", p), now)
        now += 0.01
        release()
    for p, log in enumerate(logs):
        if not log:
            merge.reached_end(("t", p), now)
    now += 1.0  # every partition read to its end: all idle
    release()
    assert len(merge) == 0
    assert sorted(released) == sorted((p, o) for p, log in enumerate(logs)
                                      for o in range(len(log)))
    for p in range(len(logs)):
        assert [o for q, o in released if q == p] == list(range(len(logs[p])))


def test_messages_without_event_time_never_wait_for_the_others() -> None:
    merge = merge_of(2)
    merge.add(("t", 0), None, b"bad", 0, now=0.0)
    merge.add(("t", 0), 100, b"good", 1, now=0.0)
    merge.add(("t", 0), None, b"bad2", 2, now=0.0)
    # Partition 1 has shown nothing: "good" waits, the dead letter ahead of it does not.
    assert [v for _, v, _ in merge.ready(now=0.0)] == [b"bad"]
    merge.add(("t", 1), 100, b"other", 0, now=0.1)
    assert [v for _, v, _ in merge.ready(now=0.1)] == [b"good", b"bad2", b"other"]


def test_a_partition_of_undecodable_messages_does_not_hold_the_others_forever() -> None:
    merge = merge_of(2, idle_timeout_s=2.0)
    merge.add(("t", 0), 10, b"a", 0, now=0.0)
    for offset in range(5):
        merge.add(("t", 1), None, b"junk", offset, now=0.5 * offset)
    assert [v for _, v, _ in merge.ready(now=1.9)] == [b"junk"] * 5
    assert list(merge.ready(now=1.9)) == []  # partition 1 may still bring events
    # Junk is no sign of life: the idle timeout runs from the start.
    assert [v for _, v, _ in merge.ready(now=2.0)] == [b"a"]


def test_a_silent_partition_stops_holding_back_after_the_idle_timeout_and_rejoins() -> None:
    merge = merge_of(2, idle_timeout_s=5.0)
    merge.add(("t", 0), 100, b"a", 0, now=0.0)
    merge.add(("t", 1), 90, b"x", 0, now=0.0)
    assert [v for _, v, _ in merge.ready(now=0.0)] == [b"x"]
    merge.add(("t", 0), 200, b"b", 1, now=1.0)
    assert list(merge.ready(now=4.9)) == []  # partition 1 (at 90) may bring up to 200
    assert merge.source_watermark(now=4.9) == 90 - BOUND - 1
    assert [v for _, v, _ in merge.ready(now=5.0)] == [b"a", b"b"]
    assert merge.source_watermark(now=5.0) == 200 - BOUND - 1
    # An event of partition 1 makes it active again: it holds partition 0 back again.
    merge.add(("t", 1), 210, b"y", 1, now=6.0)
    merge.add(("t", 0), 300, b"c", 2, now=6.0)
    assert [v for _, v, _ in merge.ready(now=6.0)] == [b"y"]
    assert merge.source_watermark(now=6.0) == 210 - BOUND - 1


def test_a_partition_read_to_its_end_is_idle_after_caught_up_s() -> None:
    merge = merge_of(2, idle_timeout_s=60.0, caught_up_s=0.5)
    merge.add(("t", 0), 100, b"a", 0, now=0.0)
    merge.reached_end(("t", 1), now=0.1)  # an empty partition
    assert list(merge.ready(now=0.5)) == []
    assert [v for _, v, _ in merge.ready(now=0.6)] == [b"a"]
    # Data after the end: the partition is no longer at its end.
    merge.add(("t", 1), 150, b"x", 0, now=0.7)
    merge.add(("t", 0), 300, b"b", 1, now=0.7)
    assert [v for _, v, _ in merge.ready(now=5.0)] == [b"x"]


def test_a_paused_partition_resumed_is_not_idle_for_its_silence_while_paused() -> None:
    merge = merge_of(2, idle_timeout_s=1.0)
    merge.add(("t", 0), 100, b"a", 0, now=0.0)
    merge.add(("t", 1), 50, b"x", 0, now=0.0)
    merge.add(("t", 1), 400, b"z", 1, now=0.0)
    assert [v for _, v, _ in merge.ready(now=0.0)] == [b"x", b"a"]
    # Partition 0 was paused, say, until now: its 5 s of silence say nothing.
    merge.resumed(("t", 0), now=5.0)
    assert list(merge.ready(now=5.5)) == []
    assert [v for _, v, _ in merge.ready(now=6.0)] == [b"z"]


def test_a_checkpoint_keeps_the_watermarks_of_released_events_and_a_resume_uses_them() -> None:
    merge = merge_of(2)
    merge.add(("t", 0), 100, b"a", 0, now=0.0)
    merge.add(("t", 0), 500, b"b", 1, now=0.0)
    merge.add(("t", 1), 120, b"x", 0, now=0.0)
    assert [v for _, v, _ in merge.ready(now=0.0)] == [b"a", b"x"]
    # b (500) is still buffered: after a resume it is fetched again, and whatever lies
    # before it in partition 0 could be older, so the checkpoint must not claim 500.
    saved = merge.watermarks.snapshot()
    assert saved == {("t", 0): 100 - BOUND - 1, ("t", 1): 120 - BOUND - 1}
    resumed = merge_of(2, marks={p: saved[("t", p)] for p in range(2)})
    assert resumed.source_watermark(now=0.0) == 100 - BOUND - 1
    resumed.add(("t", 1), 130, b"y", 1, now=0.0)  # partition 0 has shown 100 already
    assert [v for _, v, _ in resumed.ready(now=0.0)] == []
    resumed.add(("t", 0), 140, b"c", 1, now=0.1)
    assert [v for _, v, _ in resumed.ready(now=0.1)] == [b"y"]


def test_a_partition_assigned_later_holds_back_until_it_shows_an_event_or_idles() -> None:
    merge = merge_of(1, caught_up_s=0.5)
    merge.add(("t", 0), 100, b"a", 0, now=0.0)
    merge.assign(("t", 1), now=0.0)
    assert merge.partitions == (("t", 0), ("t", 1))
    assert list(merge.ready(now=0.1)) == []
    merge.reached_end(("t", 1), now=0.2)
    assert [v for _, v, _ in merge.ready(now=0.75)] == [b"a"]


def test_no_partition_is_idle_during_the_outage_grace() -> None:
    """Review of 5fd8c3c: after an outage, a partition read to its end went idle in
    ``caught_up_s`` and another partition's live events moved event time past what a
    slower producer still held for it; during the grace every partition holds time back."""
    marks = PartitionWatermarks(bound_ms=5_000, idle_timeout_s=5.0, caught_up_s=0.5)
    for partition in (("t", 0), ("t", 1)):
        marks.assign(partition, now=0.0)
        marks.event(partition, 89_000, now=1.0)
    marks.reconnected(100.0, hold_s=15.0)
    marks.reached_end(("t", 1), now=100.2)
    marks.event(("t", 0), 110_000, now=101.0)
    assert marks.release_bound(101.0, ()) == 89_000  # held events of 90,000+ not late
    assert marks.release_bound(114.9, ()) == 89_000
    assert marks.idle(("t", 1), 115.0)  # the grace is over: read to its end, idle
