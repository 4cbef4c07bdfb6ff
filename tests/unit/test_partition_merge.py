"""PartitionMerge: oldest head first, each partition's own order kept, dry partitions
waited for at most align_s."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shopstream.connectors.partition_merge import PartitionMerge

stamps = st.lists(st.integers(0, 1_000), max_size=30).map(sorted)


@given(st.lists(stamps, min_size=1, max_size=5))
def test_partitions_sorted_by_time_come_out_merged_in_time_order(
        parts: list[list[int]]) -> None:
    merge = PartitionMerge([("t", p) for p in range(len(parts))], align_s=1.0, now=0.0)
    for p, times in enumerate(parts):
        for offset, ts in enumerate(times):
            merge.add(("t", p), ts, b"", offset, now=0.0)
    if any(not times for times in parts):
        assert list(merge.ready(now=0.5)) == []  # a dry partition holds the rest back
    out = []
    now = 0.0
    while len(merge):
        now += 2.0
        out += list(merge.ready(now))
    released = [parts[tp[1]][offset] for tp, _, offset in out]
    assert released == sorted(released)
    assert len(out) == sum(map(len, parts))
    for p in range(len(parts)):
        assert [o for tp, _, o in out if tp[1] == p] == list(range(len(parts[p])))


def test_a_dry_partition_holds_the_others_back_only_for_align_s() -> None:
    merge = PartitionMerge([("a", 0), ("b", 0)], align_s=0.5, now=0.0)
    merge.add(("a", 0), 5, b"x", 0, now=0.0)
    assert list(merge.ready(now=0.49)) == []
    assert [v for _, v, _ in merge.ready(now=0.5)] == [b"x"]
    # "a" just ran dry: a new message of "b" waits for it, then goes.
    merge.add(("b", 0), 9, b"y", 0, now=0.6)
    assert list(merge.ready(now=0.6)) == []
    assert [v for _, v, _ in merge.ready(now=1.0)] == [b"y"]


def test_time_spent_processing_a_release_does_not_count_as_a_dry_partition() -> None:
    merge = PartitionMerge([("t", 0), ("t", 1)], align_s=0.5, now=0.0)
    merge.add(("t", 0), 10, b"a", 0, now=0.0)
    merge.add(("t", 0), 20, b"b", 1, now=0.0)
    merge.add(("t", 1), 5, b"x", 0, now=0.0)
    assert [v for _, v, _ in merge.ready(now=0.0)] == [b"x"]  # then partition 1 is dry
    # The pipeline took 0.6 s on b"x": the consumer fetched nothing meanwhile.
    merge.settle(now=0.6)
    assert list(merge.ready(now=0.6)) == []
    merge.add(("t", 1), 15, b"y", 1, now=0.7)  # the fetch it was waiting for
    assert [v for _, v, _ in merge.ready(now=0.7)] == [b"a", b"y"]
    merge.settle(now=0.7)
    assert [v for _, v, _ in merge.ready(now=1.3)] == [b"b"]
