"""Records to the lake's column builders and Arrow tables (shopstream.lake.columns)."""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import pyarrow as pa
import pytest

from shopstream.events import streams
from shopstream.events.model import EventType, Item, ShopperEvent
from shopstream.events.recommendations import TrendingProduct, TrendingProducts
from shopstream.events.records import BasketCompletion, BasketLine, DeadLetter, LateEvent
from shopstream.events.trends import EntityTrend, TrendFigures
from shopstream.lake.columns import StreamColumns, to_table
from shopstream.lake.errors import LakeError
from shopstream.lake.schemas import EVENTS, SCHEMAS
from shopstream.profiles.actions import Lifetime, NextAction
from shopstream.profiles.engagement import SessionMetrics
from shopstream.profiles.records import CustomerProfile, SegmentChange, SegmentCounts


def _reference(stream: str, records: list[Any]) -> pa.Table:
    """The table the slow, obvious way: each record as a dict of its fields."""
    def plain(value: Any, kind: pa.DataType) -> Any:
        if value is None:
            return None
        if pa.types.is_struct(kind):
            return {kind.field(i).name: plain(getattr(value, kind.field(i).name, None),
                                              kind.field(i).type)
                    for i in range(kind.num_fields)}
        if pa.types.is_map(kind):
            return [(k, plain(v, kind.item_type)) for k, v in value.items()]
        if pa.types.is_list(kind):
            inner = kind.value_type
            if pa.types.is_struct(inner) and value and isinstance(value[0], tuple):
                names = [inner.field(i).name for i in range(inner.num_fields)]
                return [dict(zip(names, v, strict=True)) for v in value]
            return [plain(v, inner) for v in value]
        return value.value if hasattr(value, "value") else value

    schema = SCHEMAS[stream]
    rows = [{f.name: plain(getattr(r, f.name, None), f.type) for f in schema} for r in records]
    return pa.Table.from_pylist(rows, schema=schema)


def _assert_same(stream: str, records: list[Any]) -> None:
    table = to_table(stream, records)
    assert table.schema.remove_metadata() == SCHEMAS[stream]
    assert table.equals(_reference(stream, records).replace_schema_metadata(
        table.schema.metadata)), stream


def _profile(user: str, lifetime: Lifetime | None, prefs: dict[str, list[tuple[str, float]]],
             ) -> CustomerProfile:
    return CustomerProfile(
        user, 10, 1, 9, 4, "buyer", 0.5, SessionMetrics(2, 30.0, 2.5, 0.0, 0.5, None),
        prefs, 1, 12.5, 12.5, 0, 0.0, lifetime,
        (NextAction("cross-sell", "bought tea"),), merged_sessions=1, rfm_segment=None)


def test_nested_records_none_empty_lists_maps_and_enums_convert_like_dicts() -> None:
    events = [
        ShopperEvent(EventType.PURCHASE, 5, "s1", user_id="u", order_id="o",
                     items=(Item("p1", "Tea", "Food", 2.5, 2), Item("p2"))),
        ShopperEvent(EventType.VIEW_PRODUCT, 6, "s1", product_id="p1", price=2.5),
        ShopperEvent(EventType.PURCHASE, 7, "s2", items=()),
    ]
    _assert_same(EVENTS, events)
    _assert_same(streams.CATALOG_CHANGES, events[1:])
    _assert_same(streams.LATE_EVENTS, [LateEvent(events[0], 100, 95), LateEvent(events[1], 9, 3)])
    _assert_same(streams.TRENDING_PRODUCTS, [
        TrendingProducts(0, 60, (TrendingProduct("a", 3.0, 0.1, 1.0),
                                 TrendingProduct("b", 1.0, 0.0, 0.5))),
        TrendingProducts(60, 120, ()),
        TrendingProducts(120, 180, (TrendingProduct("c", 2.0, 0.2, 0.7),)),
    ])
    _assert_same(streams.BASKET_COMPLETIONS, [
        BasketCompletion("s", "u", "COMPLETED", (BasketLine("p", "P", "c", 1.0, 2),), 2.0,
                         9, "o", ("p",), "e", None, None)])
    _assert_same(streams.PROFILES, [
        _profile("u1", Lifetime("bgnbd", 0.9, 0.1, 40.0),
                 {"category": [("Food", 0.75), ("Home", 0.25)], "device": [("mobile", 1.0)]}),
        _profile("u2", None, {}),
    ])
    _assert_same(streams.SEGMENT_CHANGES, [SegmentChange("u", None, "buyer", 3),
                                           SegmentChange("u", "buyer", None, 4)])
    _assert_same(streams.SEGMENT_COUNTS, [SegmentCounts("g0", 5, {"buyer": 2}, None),
                                          SegmentCounts("g1", 6, {}, {"buyer": 1}, 2)])
    figures = TrendFigures(label="rising", strength=0.5, direction="up", confidence=0.9,
                           velocity=1.0, acceleration=0.0, level=3.0, change=0.4, days=7.0,
                           views=30, adds=3, purchases=1, seasonality="own")
    _assert_same(streams.PRODUCT_TRENDS, [EntityTrend.of("product", "p1", 0, 9, figures)])
    _assert_same(streams.CATEGORY_TRENDS, [EntityTrend.of("category", "Food", 0, 9, figures)])
    # More records than one transposition chunk (512), in order, with a list column that
    # is sometimes None, at the top level and inside a struct.
    many = [ShopperEvent(EventType.PURCHASE if i % 3 else EventType.VIEW_PRODUCT, i,
                         f"s{i % 7}", product_id=f"p{i}", price=i / 4,
                         items=(Item(f"p{i}", None, "Food", 1.5, i % 4 + 1),) if i % 3 else None)
            for i in range(1_300)]
    _assert_same(EVENTS, many)
    _assert_same(streams.LATE_EVENTS, [LateEvent(e, 10_000, 10_000 - i)
                                       for i, e in enumerate(many)])


def test_a_record_of_another_type_or_a_value_of_another_type_is_refused_clearly() -> None:
    columns = StreamColumns(streams.SEGMENT_CHANGES)
    columns.add(DeadLetter("decode", "bad", "x", "in", 3))
    with pytest.raises(LakeError, match=r"segment-changes.*DeadLetter.*not this stream"):
        columns.table()
    assert len(columns) == 0  # the refused batch is dropped, not kept for the next table
    with pytest.raises(LakeError, match="no schema"):
        StreamColumns("no-such-stream")
    columns = StreamColumns(streams.SEGMENT_CHANGES)
    columns.add(SegmentChange("u", None, "buyer", "not a number"))  # type: ignore[arg-type]
    with pytest.raises(LakeError, match=r"segment-changes'\.at does not fit int64"):
        columns.table()


class _Reordered(msgspec.Struct, frozen=True):
    """A segment change's fields in another order, without ``previous``."""

    at: int
    segment: str | None
    user_id: str


class _WithMore(msgspec.Struct, frozen=True):
    user_id: str
    previous: str | None
    segment: str | None
    at: int
    why: str


def test_fields_go_to_their_columns_by_name_and_a_field_without_a_column_is_refused() -> None:
    columns = StreamColumns(streams.SEGMENT_CHANGES)
    columns.add(_Reordered(7, "buyer", "u1"))
    columns.add(SegmentChange("u2", "buyer", None, 8))
    columns.add(_Reordered(9, None, "u3"))
    assert columns.table().to_pylist() == [
        {"user_id": "u1", "previous": None, "segment": "buyer", "at": 7},
        {"user_id": "u2", "previous": "buyer", "segment": None, "at": 8},
        {"user_id": "u3", "previous": None, "segment": None, "at": 9},
    ]
    columns.add(_WithMore("u", None, "buyer", 1, "because"))
    with pytest.raises(LakeError, match=r"_WithMore.*no column for \['why'\]"):
        columns.table()


def test_tuples_of_records_with_nulls_mixed_types_or_none_at_all_convert_like_dicts() -> None:
    # A tuple of flat records of one type is transposed in one go; the others one by one.
    a, b = TrendingProduct("a", 3.0, 0.1, 1.0), TrendingProduct("b", 1.0, 0.0, 0.5)
    _assert_same(streams.TRENDING_PRODUCTS, [
        TrendingProducts(0, 60, (a, b)),
        TrendingProducts(60, 120, (None, b)),  # type: ignore[arg-type]
        TrendingProducts(120, 180, (None,)),  # type: ignore[arg-type]
        TrendingProducts(180, 240, ()),
        TrendingProducts(240, 300, (b, a, b)),
    ])


def test_the_columns_keep_the_records_only_until_their_table_is_made() -> None:
    # Records are frozen, so keeping them until the batch is converted sees the values
    # they were written with; after the table nothing of them is kept.
    event = ShopperEvent(EventType.PURCHASE, 5, "s1", items=(Item("p1", "Tea", "Food", 2.5),))
    products = (TrendingProduct("a", 3.0, 0.1, 1.0), TrendingProduct("b", 1.0, 0.0, 0.5))
    trending = TrendingProducts(0, 60, products)
    kept = (event, event.items, trending, products, products[0])
    before = [sys.getrefcount(x) for x in kept]
    events, windows = StreamColumns(EVENTS), StreamColumns(streams.TRENDING_PRODUCTS)
    events.add(event)
    windows.add(trending)
    assert len(events) == len(windows) == 1
    assert [sys.getrefcount(x) for x in kept] == [before[0] + 1, *before[1:2], before[2] + 1,
                                                   *before[3:]]
    assert events.table().column("event_type").to_pylist() == ["PURCHASE"]
    assert windows.table().column("products").to_pylist()[0][1] == {
        "product_id": "b", "count": 1.0, "velocity": 0.0, "score": 0.5}
    assert [sys.getrefcount(x) for x in kept] == before
    assert len(windows) == 0 and windows.table().num_rows == 0

