"""The trending tracker's running totals against a batch computation over its panes.

The oracle reads the tracker's pane sketches (what Space-Saving kept) and computes every
product's count, velocity and score exactly: a score is ``a + b * sqrt(2)`` with rational
``a`` and ``b``, compared exactly, and rounded half to even. After every action and at
every snapshot the tracker must give the same list, whatever the order the actions came
in (within the window), across rebases of its pane weights and a pickle round trip.
"""

from __future__ import annotations

import functools
import pickle
import random
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.recommend.heavy_hitters import SpaceSaving
from shopstream.recommend.trending import TrendingConfig, TrendTracker, trending_products

SLIDE = 60_000
PRODUCTS = ("a", "b", "c", "d", "e", "f")
WEIGHTS = (0.25, 0.5, 1.0, 2.5)


def _round3(value: Fraction) -> float:
    thousandths = value * 1000
    floor = thousandths.numerator // thousandths.denominator
    rest = thousandths - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2):
        floor += 1
    return floor / 1000


def _round3_surd(a: Fraction, b: Fraction) -> float:
    if b == 0:
        return _round3(a)
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(a.numerator) / Decimal(a.denominator) + (
            Decimal(b.numerator) / Decimal(b.denominator)) * Decimal(2).sqrt()
        return float(exact.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN))


def _compare(x: tuple[Fraction, Fraction], y: tuple[Fraction, Fraction]) -> int:
    """Sign of (x[0] + x[1] sqrt 2) - (y[0] + y[1] sqrt 2), exactly."""
    a, b = x[0] - y[0], x[1] - y[1]
    if a >= 0 and b >= 0:
        return 0 if a == b == 0 else 1
    if a <= 0 and b <= 0:
        return -1
    # opposite signs: compare a ** 2 with 2 b ** 2
    if a > 0:
        return 1 if a * a > 2 * b * b else -1
    return 1 if 2 * b * b > a * a else -1


def oracle(tracker: TrendTracker, now_ms: int, k: int) -> list[tuple[str, float, float, float]]:
    cfg = tracker.config
    current = now_ms - now_ms % cfg.slide_ms
    counts: dict[str, int] = {}
    scores: dict[str, tuple[Fraction, Fraction]] = {}
    latest: dict[str, int] = {}
    for start, sketch in tracker._panes:
        age = (current - start) // cfg.slide_ms
        if age < 0 or age >= cfg.panes:
            continue
        # 2 ** (-age / 2): rational for even ages, sqrt(2) / 2 ** ((age + 1) / 2) for odd
        rational = Fraction(1, 2 ** (age // 2)) if age % 2 == 0 else Fraction(0)
        surd = Fraction(1, 2 ** ((age + 1) // 2)) if age % 2 else Fraction(0)
        for product, count in sketch.counts.items():
            counts[product] = counts.get(product, 0) + count
            a, b = scores.get(product, (Fraction(0), Fraction(0)))
            scores[product] = (a + rational * count, b + surd * count)
            if age == 0:
                latest[product] = count
    earlier = max(1, cfg.panes - 1)
    per_minute = Fraction(100 * cfg.slide_ms, 60_000)

    def order(p: str, q: str) -> int:
        sign = _compare(scores[q], scores[p])
        return sign if sign else (-1 if p < q else 1)

    best = sorted(scores, key=functools.cmp_to_key(order))[:k]
    out = []
    for product in best:
        count, now = counts[product], latest.get(product, 0)
        velocity = (now - Fraction(count - now, earlier)) / per_minute
        a, b = scores[product]
        out.append((product, count / 100, _round3(velocity), _round3_surd(a / 100, b / 100)))
    return out


def _listed(tracker: TrendTracker, now_ms: int, k: int) -> list[tuple[str, float, float, float]]:
    return [(p.product_id, p.count, p.velocity, p.score) for p in tracker.snapshot(now_ms, k)]


Action = tuple[int, str, float]


def _stream(seed: int, minutes: int, per_minute: int) -> list[Action]:
    rng = random.Random(seed)
    return sorted((m * SLIDE + rng.randrange(SLIDE), rng.choice(PRODUCTS), rng.choice(WEIGHTS))
                  for m in range(minutes) for _ in range(rng.randrange(per_minute + 1)))


def _run(actions: list[Action], config: TrendingConfig, check: bool = True
         ) -> list[list[tuple[str, float, float, float]]]:
    """Snapshots at every pane end, as the operator takes them; each checked against
    the oracle (which reads the same panes) when ``check``."""
    tracker = TrendTracker(config)
    out: list[list[tuple[str, float, float, float]]] = []
    end = None
    for ts, product, weight in actions:
        while end is not None and end < ts:
            expected = oracle(tracker, end, 4) if check else None
            got = _listed(tracker, end, 4)
            assert expected is None or got == expected, end
            out.append(got)
            end += config.slide_ms
        tracker.add(product, weight, ts)
        if end is None:
            end = ts - ts % config.slide_ms + config.slide_ms - 1
        if check and len(out) % 7 == 3:  # a restored tracker answers the same
            tracker = pickle.loads(pickle.dumps(tracker))
    return out


@pytest.mark.parametrize("capacity", [2, 500])
def test_totals_equal_a_batch_over_the_panes(capacity: int) -> None:
    """Over 120 minutes (the pane weights are rebased several times), with and without
    Space-Saving evictions."""
    config = TrendingConfig(window_ms=5 * SLIDE, slide_ms=SLIDE, capacity=capacity)
    snapshots = _run(_stream(1, 120, 6), config)
    assert len(snapshots) >= 100
    assert any(snapshots)


def test_exact_ties_go_by_product_id() -> None:
    """b's 2.0 three panes ago and a's 1.0 one pane ago score the same (2 * 2 ** -1.5 ==
    2 ** -0.5): a tie, broken by the product id."""
    tracker = TrendTracker(TrendingConfig(window_ms=5 * SLIDE, slide_ms=SLIDE))
    tracker.add("b", 2.0, 0)
    tracker.add("a", 1.0, 2 * SLIDE)
    tracker.add("c", 0.25, 3 * SLIDE)
    listed = _listed(tracker, 4 * SLIDE - 1, 3)
    assert listed == oracle(tracker, 4 * SLIDE - 1, 3)
    assert [p for p, *_ in listed] == ["a", "b", "c"]
    assert listed[0][3] == listed[1][3] == 0.707


def test_a_gap_longer_than_the_window_starts_afresh() -> None:
    tracker = TrendTracker(TrendingConfig(window_ms=2 * SLIDE, slide_ms=SLIDE))
    tracker.add("a", 1.0, 0)
    tracker.add("b", 1.0, 500 * SLIDE + 1)
    assert _listed(tracker, 501 * SLIDE - 1, 5) == [("b", 1.0, 1.0, 1.0)]
    assert tracker._totals == {"b": [100, tracker._totals["b"][1], 0]}


@pytest.mark.parametrize("gap_days", [2, 30, 400])
def test_pauses_of_days_keep_the_pane_weights_small(gap_days: int) -> None:
    """Input after a pause of days (a replayed history, a quiet shop) and snapshots long
    after the last input: the pane weights are rebased past the pause, so no total
    grows with its length (it overflowed a float before), and the answers are the
    oracle's."""
    config = TrendingConfig(window_ms=10 * SLIDE, slide_ms=SLIDE)
    tracker = TrendTracker(config)
    gap = gap_days * 1_440 * SLIDE
    tracker.add("a", 1.0, 0)
    tracker.add("a", 2.0, gap + 1)
    tracker.add("b", 1.0, gap + 3 * SLIDE)
    end = gap + 4 * SLIDE - 1
    assert _listed(tracker, end, 5) == oracle(tracker, end, 5)
    assert max(abs(v) for t in tracker._totals.values() for v in t) < 1 << 64
    later = end + gap
    assert _listed(tracker, later, 5) == []
    tracker.add("c", 1.0, later + 1)
    assert _listed(tracker, later + SLIDE - 1, 5) == [("c", 1.0, 1.0, 1.0)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), jitter=st.integers(0, 90_000))
def test_arrival_order_within_the_window_does_not_matter(seed: int, jitter: int) -> None:
    """Actions shuffled by up to ``jitter`` ms (less than the window) give the same
    snapshots, equal to the oracle's (no evictions: Space-Saving itself depends on
    order once its counters run out)."""
    config = TrendingConfig(window_ms=3 * SLIDE, slide_ms=SLIDE)
    actions = _stream(seed, 15, 4)
    rng = random.Random(seed)
    # Arrival order: by time plus a random delay; each snapshot at a pane end only sees
    # the actions up to it, as a watermark guarantees.
    arrival = sorted(actions, key=lambda a: a[0] + rng.randrange(jitter + 1))
    tracker = TrendTracker(config)
    for ts, product, weight in arrival:
        tracker.add(product, weight, ts)
    reference = TrendTracker(config)
    for ts, product, weight in actions:
        reference.add(product, weight, ts)
    end = actions[-1][0] - actions[-1][0] % SLIDE + SLIDE - 1
    assert _listed(tracker, end, 6) == _listed(reference, end, 6) == oracle(reference, end, 6)


def test_space_saving_names_the_counter_it_takes_over() -> None:
    sketch = SpaceSaving(2)
    assert sketch.add("a", 3) is None
    assert sketch.add("b", 1) is None
    assert sketch.add("c", 1) == ("b", 1)
    assert sketch.counts == {"a": 3, "c": 2}
    assert sketch.add("d", 5) == ("c", 2)
    assert sketch.top(2) == [("d", 7, 2), ("a", 3, 0)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), capacity=st.sampled_from([2, 3, 50]),
       ahead=st.integers(0, 2))
def test_snapshot_makes_the_records_of_its_candidate_rows(seed: int, capacity: int,
                                                          ahead: int) -> None:
    """The one-phase snapshot (records straight from the totals) and the two-phase path
    (candidate rows, then trending_products) give equal records, evictions, odd and even
    offsets and input ahead of the snapshot's window included."""
    config = TrendingConfig(window_ms=3 * SLIDE, slide_ms=SLIDE, capacity=capacity)
    actions = _stream(seed, 20, 6)
    tracker = TrendTracker(config)
    twin = TrendTracker(config)
    for ts, product, weight in actions:
        tracker.add(product, weight, ts)
        twin.add(product, weight, ts)
    last = actions[-1][0] - actions[-1][0] % SLIDE
    for end in range(last - ahead * SLIDE + SLIDE - 1, last + 5 * SLIDE, SLIDE):
        assert tracker.snapshot(end, 4) == trending_products(config,
                                                             twin.candidates(end, 4))
