"""Sources and sinks: files, Kafka, HTTP collector, Postgres CDC, webhooks."""

from __future__ import annotations
