"""The profile operator's trend board answers the same whatever the arrival order of its
readings (hypothesis), its caps included.

- While no category is pushed out (at most ``max_categories`` categories), every answer
  (the reading of each category in force at each time) is the same for any arrival order
  of the readings, duplicates and readings pushed out by ``versions`` included, and equals
  a batch computation: per category the newest ``versions`` distinct readings.
- With more categories than ``max_categories``, the categories kept are the same for any
  arrival order (those with the newest readings; ties: the alphabetically first), and so
  is each kept category's reading in force from its newest reading on. (Older readings of
  a category pushed out and read again may differ: the board keeps no memory of what it
  dropped, as its module documentation says.)
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.events.trends import EntityTrend, TrendFigures
from shopstream.profiles.trend_board import CategoryReading, TrendBoard, TrendBoardConfig

CATEGORIES = ("A", "B", "C", "D", "E")


def _reading(category: str, end: int, label: str, strength: float) -> EntityTrend:
    figures = TrendFigures(label=label, strength=strength, direction="up", confidence=0.9,
                           velocity=1.0, acceleration=0.0, level=5.0, change=0.4, days=7.0,
                           views=50, adds=5, purchases=2, seasonality="own")
    return EntityTrend.of("category", category, end - 100, end, figures)


READING = st.builds(_reading, st.sampled_from(CATEGORIES), st.integers(0, 40),
                    st.sampled_from(["rising", "stable", "falling"]),
                    st.sampled_from([0.2, 0.8]))
CONFIG = st.builds(TrendBoardConfig, max_categories=st.integers(1, 6),
                   versions=st.integers(1, 3), max_age_ms=st.sampled_from([0, 5, 1_000]))


def _board(config: TrendBoardConfig, readings: list[EntityTrend]) -> TrendBoard:
    board = TrendBoard(config)
    for trend in readings:
        board.apply(trend)
    return board


def _times(config: TrendBoardConfig) -> list[int]:
    return [*range(-1, 42), *(t + config.max_age_ms + d for t in range(41) for d in (0, 1))]


def _answers(board: TrendBoard, times: list[int]) -> dict[tuple[str, int], object]:
    return {(c, t): board.at(c, t) for c in CATEGORIES for t in times}


def _batch(config: TrendBoardConfig, readings: list[EntityTrend], category: str,
           time_ms: int) -> CategoryReading | None:
    """The reading in force, computed from all the readings at once."""
    mine = {CategoryReading(r.entity_id, r.window_end, r.label, r.strength, r.confidence)
            for r in readings if r.entity_id == category}
    kept = sorted(mine, key=lambda r: (r.valid_from, r.label, r.strength, r.confidence))
    kept = kept[-config.versions:]
    in_force = [r for r in kept if r.valid_from <= time_ms]
    if not in_force or time_ms - in_force[-1].valid_from > config.max_age_ms:
        return None
    return in_force[-1]


@settings(max_examples=200, deadline=None)
@given(config=CONFIG, readings=st.lists(READING, max_size=25), data=st.data())
def test_without_categories_pushed_out_any_arrival_order_answers_the_same(
        config: TrendBoardConfig, readings: list[EntityTrend], data: st.DataObject) -> None:
    categories = sorted({r.entity_id for r in readings})
    wide = TrendBoardConfig(max(config.max_categories, len(categories)), config.versions,
                            config.max_age_ms)
    shuffled = data.draw(st.permutations(readings))
    times = _times(wide)
    answers = _answers(_board(wide, readings), times)
    assert _answers(_board(wide, shuffled), times) == answers
    assert answers == {(c, t): _batch(wide, readings, c, t) for c in CATEGORIES
                       for t in times}


@settings(max_examples=200, deadline=None)
@given(config=CONFIG, readings=st.lists(READING, max_size=25), data=st.data())
def test_the_categories_pushed_out_do_not_depend_on_arrival_order(
        config: TrendBoardConfig, readings: list[EntityTrend], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(readings))
    one, two = _board(config, readings), _board(config, shuffled)
    newest = {c: max(r.window_end for r in readings if r.entity_id == c)
              for c in {r.entity_id for r in readings}}
    kept = sorted(newest, key=lambda c: (-newest[c], c))[:config.max_categories]
    assert sorted(one.categories()) == sorted(two.categories()) == sorted(kept)
    for category in kept:
        for t in range(newest[category], newest[category] + config.max_age_ms + 2):
            assert one.at(category, t) == two.at(category, t) \
                == _batch(config, readings, category, t)
