"""``GET /metrics``: Prometheus text exposition of the serving process.

Examples
--------
>>> from shopstream.stores.base import WriteStats
>>> stats = WriteStats(); stats.observe(0.002, 40)
>>> text = render(MetricsInput(events=3, dead_letters=1, late_events=0, lag_s=0.5,
...                            store_stats=stats))
>>> print("\\n".join(line for line in text.splitlines() if "store_write_seconds_count" in line
...                  or line.startswith("shopstream_events_processed_total")))
shopstream_events_processed_total 3
shopstream_store_write_seconds_count 1
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shopstream.stores.base import WriteStats

__all__ = ["MetricsInput", "line", "render", "store_lines"]


@dataclass
class MetricsInput:
    """Numbers gathered at scrape time."""

    events: int
    dead_letters: int
    late_events: int
    lag_s: float | None
    store_stats: WriteStats
    waiting: int = 0
    pipeline_errors: int = 0
    pushes: int = 0
    subscriptions: int = 0
    outputs: dict[str, int] = field(default_factory=dict)
    watermark_lag_s: float | None = None


def line(out: list[str], name: str, kind: str, text: str, value: float) -> None:
    """Append one metric family of a single sample (with its HELP and TYPE) to ``out``."""
    out.append(f"# HELP {name} {text}")
    out.append(f"# TYPE {name} {kind}")
    out.append(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}")


_line = line


def render(m: MetricsInput) -> str:
    """The exposition text (format 0.0.4)."""
    out: list[str] = []
    _line(out, "shopstream_events_processed_total", "counter",
          "Events the pipeline's operators processed (not those still held for the "
          "watermark: shopstream_events_buffered).", m.events)
    _line(out, "shopstream_dead_letters_total", "counter",
          "Events refused by POST /events as invalid.", m.dead_letters)
    _line(out, "shopstream_late_events_total", "counter",
          "Events that arrived behind the watermark.", m.late_events)
    if m.lag_s is not None:
        _line(out, "shopstream_event_lag_seconds", "gauge",
              "Wall clock minus the newest event time seen.", round(m.lag_s, 3))
    _line(out, "shopstream_ingest_waiting_events", "gauge",
          "Events accepted but not yet processed.", m.waiting)
    _line(out, "shopstream_pipeline_errors_total", "counter",
          "Failures inside the hosted pipeline (see /health).", m.pipeline_errors)
    _line(out, "shopstream_ws_pushes_total", "counter",
          "Messages pushed to WebSocket subscribers.", m.pushes)
    _line(out, "shopstream_ws_subscriptions", "gauge",
          "Open WebSocket subscriptions.", m.subscriptions)
    out.append("# HELP shopstream_outputs_total Records emitted per output stream.")
    out.append("# TYPE shopstream_outputs_total counter")
    for stream, count in sorted(m.outputs.items()):
        out.append(f'shopstream_outputs_total{{stream="{stream}"}} {count}')
    if m.watermark_lag_s is not None:
        _line(out, "shopstream_watermark_lag_seconds", "gauge",
              "Wall clock minus the pipeline's watermark.", round(m.watermark_lag_s, 3))
    store_lines(out, m.store_stats)
    return "\n".join(out) + "\n"


def store_lines(out: list[str], stats: WriteStats) -> None:
    """The store's families: values written, write latency, errors, retries, waiting."""
    _line(out, "shopstream_store_keys_written_total", "counter",
          "Values written to the feature store.", stats.keys)
    out.append("# HELP shopstream_store_write_seconds Latency of one batch write to the store.")
    out.append("# TYPE shopstream_store_write_seconds histogram")
    for bound, count in stats.buckets():
        label = "+Inf" if bound == float("inf") else f"{bound:g}"
        out.append(f'shopstream_store_write_seconds_bucket{{le="{label}"}} {count}')
    out.append(f"shopstream_store_write_seconds_sum {stats.seconds:.6f}")
    out.append(f"shopstream_store_write_seconds_count {stats.batches}")
    _line(out, "shopstream_store_errors_total", "counter",
          "Batch writes the store refused (each is retried with backoff).", stats.errors)
    _line(out, "shopstream_store_retries_total", "counter",
          "Writes tried again after a store error.", stats.retries)
    _line(out, "shopstream_store_waiting_values", "gauge",
          "Values held for the store during an outage (not dropped).", stats.waiting)
    _line(out, "shopstream_store_replayed_total", "counter",
          "Values written again after an outage of a store that may forget (Redis).",
          stats.replayed)
