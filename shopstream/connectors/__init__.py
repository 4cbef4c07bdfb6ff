"""Sources and sinks: files, Kafka, HTTP collector, Postgres CDC, webhooks."""

from __future__ import annotations

# Each module is imported on its own (some need an optional extra).
__all__ = [
    "broker",
    "cdc_mapping",
    "cdc_orders",
    "files",
    "kafka_admin",
    "kafka_gates",
    "kafka_probe",
    "kafka_sink",
    "kafka_source",
    "kafka_source_config",
    "partition_merge",
    "partition_watermarks",
    "postgres_cdc",
    "snowplow",
    "wal",
    "wal2json",
    "webhook",
]
