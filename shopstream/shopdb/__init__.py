"""The shop database: a PostgreSQL system of record that shopstream creates, fills,
simulates shopping into, and streams changes from (``shopstream.connectors.postgres_cdc``).

``schema`` holds the DDL, ``generate`` the seeded catalog and customers, ``simulate`` the
shopping sessions written as carts, wishlist, orders, payments and shipments, and
``connection`` opens connections with errors that say where.
"""

from __future__ import annotations

# Each module is imported on its own (some need an optional extra).
__all__ = [
    "connection",
    "generate",
    "schema",
    "simulate",
]
