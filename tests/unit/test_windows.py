"""WindowFold: the tumbling-window skeleton revenue-stats and top-products share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopstream.events import EventType, ShopperEvent
from shopstream.operators.windows import WindowFold
from shopstream.runners.embedded.harness import run_topology
from shopstream.state import MapStateDescriptor, ValueStateDescriptor
from shopstream.topology import Stage, Topology

SEC = 1_000


@dataclass
class Seen:
    products: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Last:
    end_ms: int
    products: tuple[str, ...]


@dataclass(frozen=True)
class Config:
    window_ms: int = SEC
    max_empty_windows: int = 3


_OPEN = MapStateDescriptor[int, Seen]("open")
_CLOSED = ValueStateDescriptor[Last]("closed")


class Products(WindowFold[ShopperEvent, Seen, Last]):
    """Per window: its products, and the products of the window it was compared with."""

    name = "products"
    stream = "products"
    open_state = _OPEN
    closed_state = _CLOSED
    state_descriptors = (_OPEN, _CLOSED)

    def __init__(self, config: Config) -> None:
        self.config = config

    def initialize(self) -> Seen:
        return Seen()

    def agg(self, acc: Seen, element: ShopperEvent) -> None:
        acc.products.append(element.product_id or "")

    def result(self, start_ms: int, acc: Seen,
               closed: Last | None) -> tuple[Any, Last]:
        before = None if closed is None else (closed.end_ms, closed.products)
        return ((start_ms, tuple(acc.products), before),
                Last(start_ms + self.config.window_ms, tuple(acc.products)))


def run(config: Config, *views: tuple[int, str]) -> list[Any]:
    events = [ShopperEvent(EventType.VIEW_PRODUCT, t, "s", product_id=p) for t, p in views]
    topology = Topology((Stage(Products(config), ("events",), key_by=lambda e: "all"),),
                        sink_streams=("products",))
    return [out.record for out in run_topology(topology, events)]


def test_each_window_folds_its_elements_and_sees_the_window_emitted_before() -> None:
    assert run(Config(), (100, "a"), (900, "b"), (SEC + 5, "c")) == [
        (0, ("a", "b"), None),
        (SEC, ("c",), (SEC, ("a", "b"))),
    ]


def test_empty_windows_of_a_gap_are_fresh_accumulators_chained_in_order() -> None:
    out = run(Config(), (100, "a"), (3 * SEC, "d"))
    assert out == [
        (0, ("a",), None),
        (SEC, (), (SEC, ("a",))),
        (2 * SEC, (), (2 * SEC, ())),
        (3 * SEC, ("d",), (3 * SEC, ())),
    ]


def test_a_gap_longer_than_max_empty_windows_is_skipped_and_compares_with_the_last() -> None:
    out = run(Config(max_empty_windows=3), (100, "a"), (5 * SEC, "e"))
    assert out == [(0, ("a",), None), (5 * SEC, ("e",), (SEC, ("a",)))]
