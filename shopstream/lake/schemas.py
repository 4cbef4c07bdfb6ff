"""The lake's Parquet schemas: one explicit, typed schema per stream.

Columns are the records' field names in snake case; nested records are Arrow structs and
lists, never JSON strings. ``SCHEMA_VERSION`` is written into every file's metadata
(``shopstream.schema_version``) and goes up whenever a column is added, removed or changes
type, so a reader can tell files of different versions apart.

Examples
--------
>>> SCHEMAS["dead-letter"].names
['stage', 'reason', 'raw', 'source', 'offset', 'raw_encoding']
>>> TIME_COLUMNS["late-events"]
'event.timestamp_ms'

Records become tables in :mod:`shopstream.lake.columns`.
"""

from __future__ import annotations

import pyarrow as pa

from shopstream.events import streams

__all__ = ["DICTIONARY_FIELDS", "EVENTS", "SCHEMAS", "SCHEMA_VERSION", "TIME_COLUMNS",
           "table_metadata", "view_name"]

#: Bumped on any change of a column's name or type in any stream (2: ``brand`` on the
#: events, catalog changes and late events, and on their items; ``account`` on profiles).
SCHEMA_VERSION = 2
#: The lake's name for the decoded input events.
EVENTS = streams.EVENTS

_S = pa.string()
_I = pa.int64()
_F = pa.float64()

_ITEM = pa.struct([("product_id", _S), ("product_name", _S), ("category", _S),
                   ("price", _F), ("quantity", _I)])
_EVENT_ITEM = pa.struct([*_ITEM, ("brand", _S)])
_EVENT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("event_type", _S), ("timestamp_ms", _I), ("session_id", _S), ("event_id", _S),
    ("user_id", _S), ("product_id", _S), ("product_name", _S), ("category", _S),
    ("price", _F), ("quantity", _I), ("currency", _S), ("order_id", _S), ("cart_total", _F),
    ("items", pa.list_(_EVENT_ITEM)), ("search_query", _S), ("page_url", _S), ("device", _S),
    ("platform", _S), ("country", _S), ("region", _S), ("campaign", _S), ("brand", _S),
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

_TREND = pa.schema([
    ("entity", _S), ("entity_id", _S), ("window_start", _I), ("window_end", _I),
    ("label", _S), ("strength", _F), ("direction", _S), ("confidence", _F),
    ("velocity", _F), ("acceleration", _F), ("level", _F), ("change", _F), ("days", _F),
    ("views", _I), ("adds", _I), ("purchases", _I), ("seasonality", _S),
])

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
    # Customer 360 (run --profiles). A profile's preferences map each dimension
    # (category, brand, price band...) to its strongest values and their shares.
    streams.PROFILES: pa.schema([
        ("user_id", _S), ("computed_at", _I), ("first_seen", _I), ("last_seen", _I),
        ("events", _I), ("segment", _S), ("engagement", _F),
        ("sessions", pa.struct([("sessions", _I), ("avg_session_s", _F),
                                ("pages_per_session", _F), ("bounce_rate", _F),
                                ("conversion_rate", _F), ("avg_purchase_session_s", _F)])),
        ("preferences", pa.map_(_S, pa.list_(pa.struct([("value", _S), ("share", _F)])))),
        ("orders", _I), ("revenue", _F), ("avg_order_value", _F), ("cart_items", _I),
        ("cart_value", _F),
        ("lifetime", pa.struct([("model", _S), ("p_alive", _F), ("churn_risk", _F),
                                ("clv", _F)])),
        ("actions", pa.list_(pa.struct([("action", _S), ("reason", _S)]))),
        ("merged_sessions", _I), ("rfm_segment", _S), ("model_version", _I),
        ("account", pa.struct([("updated_at", _I), ("country", _S), ("region", _S),
                               ("device", _S), ("platform", _S)])),
    ]),
    streams.SEGMENT_CHANGES: pa.schema([
        ("user_id", _S), ("previous", _S), ("segment", _S), ("at", _I),
    ]),
    streams.SEGMENT_COUNTS: pa.schema([
        ("group", _S), ("computed_at", _I), ("counts", pa.map_(_S, _I)),
        ("day_ago", pa.map_(_S, _I)), ("groups", _I),
    ]),
    # Trends (run --trends): the entity and the window, then the reading's figures.
    streams.PRODUCT_TRENDS: _TREND,
    streams.CATEGORY_TRENDS: _TREND,
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
    streams.PROFILES: "computed_at", streams.SEGMENT_CHANGES: "at",
    streams.SEGMENT_COUNTS: "computed_at",
    # A reading is made when its window ends (a day-end reading: the next day's 00:00).
    streams.PRODUCT_TRENDS: "window_end", streams.CATEGORY_TRENDS: "window_end",
}


#: String fields with few distinct values (kinds, categories, devices, places, labels),
#: dictionary-encoded in Parquet wherever they occur; every other column is stored plain
#: (ids, numbers and free text gain little from a dictionary and cost its hashing).
DICTIONARY_FIELDS: frozenset[str] = frozenset({
    "event_type", "category", "currency", "device", "platform", "country", "region",
    "campaign", "brand", "status", "recommendation_type", "trigger_event", "variant",
    "sources", "rule", "severity", "scope", "change", "stage", "reason", "source",
    "raw_encoding", "offer", "recommendation_source", "segment", "previous", "rfm_segment",
    "model", "action", "group", "entity", "label", "direction", "seasonality",
})


def table_metadata(stream: str) -> dict[str, str]:
    """The metadata every file of ``stream`` carries.

    >>> table_metadata("events")["shopstream.schema_version"] == str(SCHEMA_VERSION)
    True
    """
    return {"shopstream.schema_version": str(SCHEMA_VERSION), "shopstream.stream": stream}


def view_name(stream: str) -> str:
    """The SQL name of a stream's view.

    >>> view_name("basket-completions")
    'basket_completions'
    """
    return stream.replace("-", "_")
