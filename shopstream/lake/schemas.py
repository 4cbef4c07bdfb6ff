"""The lake's Parquet schemas: one explicit, typed schema per stream.

Columns are the records' field names in snake case; nested records are Arrow structs and
lists, never JSON strings. ``SCHEMA_VERSION`` is written into every file's metadata
(``shopstream.schema_version``) and goes up whenever a column is added, removed or changes
type, so a reader can tell files of different versions apart.

Examples
--------
>>> from shopstream.events.records import DeadLetter
>>> table = to_table("dead-letter", [DeadLetter("decode", "bad", "x", "in", 3)])
>>> table.column_names
['stage', 'reason', 'raw', 'source', 'offset', 'raw_encoding']
>>> table.schema.metadata[b"shopstream.schema_version"]
b'1'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa
from msgspec.structs import astuple

from shopstream.events import streams
from shopstream.lake.errors import LakeError

__all__ = ["EVENTS", "SCHEMAS", "SCHEMA_VERSION", "TIME_COLUMNS", "to_table", "view_name"]

#: Bumped on any change of a column's name or type in any stream.
SCHEMA_VERSION = 1
#: The lake's name for the decoded input events.
EVENTS = streams.EVENTS

_S = pa.string()
_I = pa.int64()
_F = pa.float64()

_ITEM = pa.struct([("product_id", _S), ("product_name", _S), ("category", _S),
                   ("price", _F), ("quantity", _I)])
_EVENT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("event_type", _S), ("timestamp_ms", _I), ("session_id", _S), ("event_id", _S),
    ("user_id", _S), ("product_id", _S), ("product_name", _S), ("category", _S),
    ("price", _F), ("quantity", _I), ("currency", _S), ("order_id", _S), ("cart_total", _F),
    ("items", pa.list_(_ITEM)), ("search_query", _S), ("page_url", _S), ("device", _S),
    ("platform", _S), ("country", _S), ("region", _S), ("campaign", _S),
]
_BASKET = pa.schema([
    ("session_id", _S), ("user_id", _S), ("status", _S), ("items", pa.list_(_ITEM)),
    ("total_value", _F), ("completion_time", _I), ("order_id", _S),
    ("viewed_products", pa.list_(_S)), ("event_id", _S), ("device", _S), ("currency", _S),
])
_PRODUCT_STAT = pa.struct([("product_id", _S), ("product_name", _S), ("category", _S),
                           ("quantity", _I), ("revenue", _F), ("orders", _I)])
_RULE = pa.struct([("consequent", _S), ("support", _F), ("confidence", _F), ("lift", _F),
                   ("interestingness", _F), ("count", _I)])

#: Stream name -> Arrow schema of its rows.
SCHEMAS: dict[str, pa.Schema] = {
    EVENTS: pa.schema(_EVENT_FIELDS),
    streams.CATALOG_CHANGES: pa.schema(_EVENT_FIELDS),
    streams.BASKET_COMPLETIONS: _BASKET,
    streams.ABANDONED_BASKETS: _BASKET,
    streams.CART_ABANDONMENT: pa.schema([
        ("session_id", _S), ("user_id", _S), ("items", pa.list_(_ITEM)), ("cart_value", _F),
        ("last_add_time", _I), ("detected_at", _I),
        ("recommendations", pa.list_(pa.struct([("product_id", _S), ("product_name", _S),
                                                ("category", _S), ("reason", _S)]))),
        ("offer", _S), ("recommendation_source", _S),
    ]),
    streams.FRAUD_ALERTS: pa.schema([
        ("rule", _S), ("user_id", _S), ("order_ids", pa.list_(_S)), ("amounts", pa.list_(_F)),
        ("order_times", pa.list_(_I)), ("severity", _S), ("detected_at", _I), ("reason", _S),
        ("scope", _S), ("device", _S), ("user_ids", pa.list_(_S)),
    ]),
    streams.REVENUE_STATS: pa.schema([
        ("window_start", _I), ("window_end", _I), ("revenue", _F), ("order_count", _I),
        ("average_order_value", _F), ("unique_customers", _I), ("revenue_change", _F),
        ("revenue_change_pct", _F),
    ]),
    streams.TOP_PRODUCTS: pa.schema([
        ("window_start", _I), ("window_end", _I), ("order_count", _I),
        ("by_quantity", pa.list_(_PRODUCT_STAT)), ("by_revenue", pa.list_(_PRODUCT_STAT)),
        ("by_category", pa.list_(pa.struct([("category", _S), ("quantity", _I),
                                            ("revenue", _F), ("orders", _I),
                                            ("products", _I)]))),
        ("rising", pa.list_(pa.struct([("product_id", _S), ("product_name", _S),
                                       ("orders", _I), ("previous_orders", _I)]))),
    ]),
    streams.BASKET_PATTERNS: pa.schema([
        ("change", _S), ("antecedents", pa.list_(_S)), ("consequent", _S), ("support", _F),
        ("confidence", _F), ("lift", _F), ("interestingness", _F), ("count", _I),
        ("antecedent_count", _I), ("consequent_count", _I), ("basket_count", _I),
        ("detected_at", _I), ("previous_confidence", _F), ("previous_lift", _F),
    ]),
    streams.RULES_BY_ANTECEDENT: pa.schema([
        ("antecedents", pa.list_(_S)), ("rules", pa.list_(_RULE)), ("updated_at", _I),
    ]),
    streams.PRODUCT_RECOMMENDATIONS: pa.schema([
        ("recommendation_id", _S), ("session_id", _S), ("user_id", _S),
        ("recommendation_type", _S), ("recommended_products", pa.list_(_S)),
        ("scores", pa.list_(_F)), ("confidence", _F), ("trigger_event", _S),
        ("trigger_product_id", _S), ("timestamp", _I),
        ("context", pa.struct([("basket_size", _I), ("session_items", _I), ("variant", _S),
                               ("sources", pa.list_(_S))])),
    ]),
    streams.TRENDING_PRODUCTS: pa.schema([
        ("window_start", _I), ("window_end", _I),
        ("products", pa.list_(pa.struct([("product_id", _S), ("count", _F),
                                         ("velocity", _F), ("score", _F)]))),
    ]),
    streams.DEAD_LETTER: pa.schema([
        ("stage", _S), ("reason", _S), ("raw", _S), ("source", _S), ("offset", _I),
        ("raw_encoding", _S),
    ]),
    streams.LATE_EVENTS: pa.schema([
        ("event", pa.struct(_EVENT_FIELDS)), ("watermark", _I), ("lateness_ms", _I),
    ]),
}

#: The event-time column (ms; ``parent.child`` inside a struct) whose UTC date partitions
#: each stream. Dead letters have no time of their own: they take the newest event time
#: the sink had seen (see the sink).
TIME_COLUMNS: dict[str, str] = {
    EVENTS: "timestamp_ms", streams.CATALOG_CHANGES: "timestamp_ms",
    streams.BASKET_COMPLETIONS: "completion_time",
    streams.ABANDONED_BASKETS: "completion_time",
    streams.CART_ABANDONMENT: "detected_at", streams.FRAUD_ALERTS: "detected_at",
    streams.REVENUE_STATS: "window_start", streams.TOP_PRODUCTS: "window_start",
    streams.BASKET_PATTERNS: "detected_at", streams.RULES_BY_ANTECEDENT: "updated_at",
    streams.PRODUCT_RECOMMENDATIONS: "timestamp", streams.TRENDING_PRODUCTS: "window_start",
    streams.LATE_EVENTS: "event.timestamp_ms",
}

def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_type(kind: pa.DataType) -> pa.DataType:
    """``kind`` with every struct field renamed as msgspec's ``rename="camel"`` does."""
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(_camel(f.name), _camel_type(f.type))
                          for f in (kind.field(i) for i in range(kind.num_fields))])
    if pa.types.is_list(kind):
        return pa.list_(_camel_type(kind.value_type))
    return kind


def _has_struct(kind: pa.DataType) -> bool:
    if pa.types.is_struct(kind):
        return True
    return bool(pa.types.is_list(kind) and pa.types.is_struct(kind.value_type))


# Columns holding records, or sequences of records: converted with msgspec.to_builtins
# (camel-case keys, one C call per column) into a camel-named twin of the column's type,
# then viewed as the snake-named type (the same memory layout).
_NESTED: dict[str, dict[str, pa.DataType]] = {
    stream: {f.name: _camel_type(f.type) for f in schema if _has_struct(f.type)}
    for stream, schema in SCHEMAS.items()
}
# Records whose struct omits default values when turned into builtins (``Item``,
# ``ShopperEvent``): these columns go through the slower field-by-field conversion.
_BY_FIELD: dict[str, frozenset[str]] = {
    EVENTS: frozenset({"items"}), streams.CATALOG_CHANGES: frozenset({"items"}),
    streams.LATE_EVENTS: frozenset({"event"}),
}


def view_name(stream: str) -> str:
    """The SQL name of a stream's view.

    >>> view_name("basket-completions")
    'basket_completions'
    """
    return stream.replace("-", "_")


def _plain(value: Any) -> Any:
    """A record as a dict of its fields (recursively); tuples of records as lists."""
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def to_table(stream: str, records: Sequence[Any]) -> pa.Table:
    """The records of ``stream`` as an Arrow table with the stream's schema."""
    schema = SCHEMAS.get(stream)
    if schema is None:
        msg = f"the lake has no schema for stream {stream!r}"
        raise LakeError(msg)
    nested = _NESTED[stream]
    by_field = _BY_FIELD.get(stream, frozenset())
    # One C-level pass turns the records into columns (schema order is field order).
    values_by_field = list(zip(*map(astuple, records), strict=True)) if records else [
        () for _ in schema]
    if len(values_by_field) != len(schema):
        msg = (f"stream {stream!r}: records have {len(values_by_field)} fields, the schema "
               f"{len(schema)}: {type(records[0]).__name__} is not this stream's record")
        raise LakeError(msg)
    columns = []
    for field, values in zip(schema, values_by_field, strict=True):
        name = field.name
        try:
            if name in by_field:
                columns.append(pa.array([_plain(v) for v in values], type=field.type))
            elif name in nested:
                columns.append(pa.array(msgspec.to_builtins(values), type=nested[name])
                               .view(field.type))
            else:
                columns.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            msg = f"stream {stream!r}: column {name!r} does not fit {field.type}: {exc}"
            raise LakeError(msg) from None
    meta = {"shopstream.schema_version": str(SCHEMA_VERSION), "shopstream.stream": stream}
    return pa.Table.from_arrays(columns, schema=schema.with_metadata(meta))
