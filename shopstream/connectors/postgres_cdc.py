"""Change data capture from the shop database: a :class:`Source` over a logical
replication slot decoded by wal2json.

Each committed transaction arrives as wal2json (format version 2) messages framed by
begin and commit, and becomes the events
:class:`~shopstream.connectors.cdc_mapping.ChangeMapper` makes of it. The position after
an event is a :class:`CdcPosition`: the end LSN of the last transaction fully emitted,
plus the transaction in progress and how many of its events are out, so a checkpoint
taken in the middle of a transaction resumes right after the last event it covers.
:meth:`PostgresCdcSource.commit`, which the runner calls only once a checkpoint is
durable, confirms the slot up to just before that end LSN; after a crash the slot
replays from its confirmed position and everything up to the checkpointed position is
skipped, so a restart neither loses nor repeats an order.

Why one byte before: psycopg2 moves the confirmed position on by itself, to the server's
WAL end on a keepalive, once the confirmed position reaches the start of the last
message read. The messages of a transaction that began after the confirmed commit start
at or after its end, so confirming ``end - 1`` keeps psycopg2 from confirming them
before they are checkpointed; the server still skips the confirmed transaction on a
restart, as its commit record begins before ``end - 1``. One case remains: a transaction
that began before the confirmed commit and committed after it, with a server keepalive
arriving between its own messages (the server sends one mid-transaction only after
``wal_sender_timeout / 2`` without a reply, i.e. a reader stalled for 30 s by default,
or in answer to a request for a reply, below; its WAL end is then that of the record
before the transaction's commit, so the confirmation should not skip the transaction).

Once every event out is in a durable checkpoint and no transaction is half read, the
idle source also confirms the slot up to the server's WAL end as of its last message
(everything sent before it was read): a server being stopped (``pg_ctl stop -m fast``)
waits for its logical walsenders' clients to confirm all they were sent, and without
this it waited for the reader forever (the reader's replies keep the walsender from
timing out).

Orders paid after they were inserted: the payment (an ``orders`` update) carries no
items, and the mapper remembers the items of unpaid orders only since it started. For a
payment whose items it lacks (:meth:`ChangeMapper.missing_items
<shopstream.connectors.cdc_mapping.ChangeMapper.missing_items>`), the source reads that
order's ``order_items`` from the database on a plain query connection, just before
mapping the transaction. Reading on demand, rather than loading every unpaid order at
start, is what keeps it exactly once: whether a PURCHASE is emitted is decided by the
payment's place in the replicated changes alone, never by a snapshot taken at some
other moment (an order pending at the confirmed position but paid before such a
snapshot would be in neither). The payment was replicated, so it is committed and the
items, inserted before or with it, are visible; the rows are read as they are now, so an
item edited after the payment shows its edited values, and an order deleted before a
restarted reader reaches its payment is counted as skipped instead of emitted.

The source is unbounded: it yields idle ticks while nothing commits, ends with
``exhausted`` false when :meth:`PostgresCdcSource.stop` is called (the CLI calls it on
SIGINT/SIGTERM), and ends with ``exhausted`` true after ``stop_when_idle_s`` of silence.

Silence is what the server proves, not what the wall clock says: while nothing arrives,
the source asks the server for a reply (a status update requesting one, at most every
``tick_s``, one at a time), and :meth:`PostgresCdcSource.listened_s`, the clock of
silence the runner uses for ``--idle-ms`` and this source for ``stop_when_idle_s``,
moves on to the moment the answered request was sent. The server sends changes and
replies on one connection, in order, so a reply comes after every change committed
before the request reached it: the silence it proves is real. On a connection that
stalls (a network dropping packets) nothing is answered and the clock stops, so event
time does not run ahead of changes committed meanwhile, which arrive once it flows
again; a connection that fails ends the run with a :class:`SourceError` (``--resume``
goes on from the last checkpoint). The clock may run ahead of the proof (a keepalive
the server sent before the request reached it is taken as its answer) by at most the
interval between two requests: ``tick_s``, or the time between two idle ticks when the
run is busier, plus a round trip. Cost: one 34-byte request and one reply per idle
``tick_s`` at most.

Examples
--------
>>> PostgresCdcConfig(dsn="postgresql://127.0.0.1/shop", slot="Bad-Name")
Traceback (most recent call last):
...
shopstream.errors.ConfigError: PostgresCdcConfig.slot must match [a-z0-9_]{1,63}, got 'Bad-Name'
>>> CdcPosition.of([10, 20, 1])
CdcPosition(safe_lsn=10, tx_lsn=20, done=1)
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Iterator
from typing import Any

import msgspec

from shopstream.connectors.cdc_config import CdcPosition, PostgresCdcConfig
from shopstream.connectors.cdc_lookup import brand_of
from shopstream.connectors.cdc_mapping import CDC_TABLES, ChangeMapper, CustomerInfo, ProductInfo
from shopstream.connectors.wal2json import TransactionAssembler
from shopstream.errors import DecodeError, SourceError, require
from shopstream.shopdb.connection import connection_reason, describe, psycopg2, safe_dsn

connection_error = describe  # its old name here (error lines live in shopdb.connection)

__all__ = ["CdcPosition", "PostgresCdcConfig", "PostgresCdcSource", "connection_error",
           "connection_reason", "safe_dsn"]

_LOG = logging.getLogger("shopstream.postgres")
_encode = msgspec.json.Encoder().encode


class PostgresCdcSource:
    """The shop database's committed changes as canonical events (see the module doc)."""

    def __init__(self, config: PostgresCdcConfig) -> None:
        self.config = config
        self.mapper = ChangeMapper()
        self._exhausted = False
        self._stopping = False
        self._conn: Any = None
        self._cursor: Any = None
        self._query_conn: Any = None
        self.transactions = 0
        #: Records yielded (events and dead letters): the events in of ``/metrics``.
        self.records = 0
        self.confirmed_lsn = 0
        self._heard = time.monotonic()

    @property
    def name(self) -> str:
        return f"postgres:{safe_dsn(self.config.dsn)}#{self.config.slot}"

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def listened_s(self) -> float:
        """The monotonic time (seconds) up to which the server is known to have had no
        change left to send: when the last change arrived, or when the source sent the
        last request for a reply that the server answered. The runner's clock of silence
        (:class:`~shopstream.runners.embedded.pace.Pace`): it stops while the server
        cannot be heard, so a stalled or lost connection moves no event time on (see the
        module doc).

        Examples
        --------
        A source counts as heard when it is made (nothing was missed before it), and not
        again until the server speaks: making it opens no connection.

        >>> import time
        >>> before = time.monotonic()
        >>> source = PostgresCdcSource(PostgresCdcConfig(dsn="postgresql://127.0.0.1:9/shop"))
        >>> before <= source.listened_s() <= time.monotonic()
        True
        >>> heard = source.listened_s()
        >>> time.sleep(0.01)
        >>> source.listened_s() == heard  # silence that was not heard is not counted
        True
        """
        return self._heard

    def stop(self) -> None:
        """End the iterator at the next tick (safe to call from a signal handler)."""
        self._stopping = True

    def read(self, position: Any | None) -> Iterator[tuple[bytes, Any] | None]:
        start = CdcPosition.of(position) if position is not None else CdcPosition(0)
        self._seed_lookups()
        cursor = self._start(start.safe_lsn)
        safe = start.safe_lsn
        idle_limit = self.config.stop_when_idle_s
        tick = self.config.tick_s
        last_activity = self._heard
        pinged, waiting, spoke = 0.0, False, False
        # The end of the last transaction whose events are all out (the checkpoint
        # resumed from is durable); whether a transaction's messages are half read.
        emitted, pending = start.safe_lsn, False
        assembler = TransactionAssembler()
        while not self._stopping:
            try:
                message = cursor.read_message()
                if message is None:
                    now = time.monotonic()
                    if spoke and waiting:  # the server answered (see listened_s)
                        self._heard = max(self._heard, pinged)
                        waiting = False
                    if not waiting and now - pinged >= tick:
                        durable = max(self.confirmed_lsn, start.safe_lsn - 1)
                        self._ping(cursor, not pending and durable >= emitted - 1)
                        pinged, waiting = now, True
            except psycopg2().Error as exc:
                msg = describe(exc, self.config.dsn, "the replication connection "
                                       "was lost; --resume goes on from the last checkpoint")
                raise SourceError(msg) from None
            if message is None:
                if idle_limit is not None and self._heard - last_activity >= idle_limit:
                    self._exhausted = True
                    return
                spoke = bool(select.select([cursor], [], [], tick)[0])
                yield None
                continue
            self._heard = last_activity = time.monotonic()
            spoke = False
            payload: bytes = message.payload
            try:
                tx = assembler.feed(payload)
            except DecodeError:
                # Lands in dead-letter with the reason; the position does not move.
                pending = True
                self.records += 1
                yield payload, CdcPosition(safe, start.tx_lsn, start.done)
                continue
            pending = tx is None
            if tx is None:
                continue  # inside a transaction
            if tx.end_lsn <= safe:
                continue  # already covered by the checkpoint we resumed from
            self.transactions += 1
            missing = self.mapper.missing_items(tx)
            if missing:
                self._supply_items(missing)
            events = self.mapper.map(tx)
            skip = start.done if tx.end_lsn == start.tx_lsn else 0
            last = len(events) - 1
            for i in range(skip, len(events)):
                where = (CdcPosition(tx.end_lsn) if i == last
                         else CdcPosition(safe, tx.end_lsn, i + 1))
                self.records += 1
                yield _encode(events[i]), where
            if events:
                emitted = tx.end_lsn
            safe = tx.end_lsn

    def _ping(self, cursor: Any, checkpointed: bool) -> None:
        """Ask the server for a reply (see :meth:`listened_s`). ``checkpointed``: every
        event out is in a durable checkpoint and no transaction is half read, so the slot
        is confirmed up to the server's WAL end as of its last message too (all it sent
        before that was read): a stopping server waits for that confirmation before its
        walsender ends, and so before it stops."""
        wal_end: int = cursor.wal_end
        if checkpointed and wal_end > self.confirmed_lsn:
            cursor.send_feedback(flush_lsn=wal_end, reply=True)
            self.confirmed_lsn = wal_end
        else:
            cursor.send_feedback(reply=True)

    def commit(self, position: Any) -> None:
        """Confirm to the slot every transaction the durable checkpoint fully covers."""
        lsn = CdcPosition.of(position).safe_lsn - 1  # see the module documentation
        if self._cursor is None or lsn <= self.confirmed_lsn:
            return
        try:
            self._cursor.send_feedback(flush_lsn=lsn, reply=True)
        except psycopg2().Error as exc:
            msg = describe(exc, self.config.dsn,
                                   f"cannot confirm slot {self.config.slot!r} up to {lsn}")
            raise SourceError(msg) from None
        self.confirmed_lsn = lsn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = self._cursor = None
        if self._query_conn is not None:
            self._query_conn.close()
            self._query_conn = None

    def _supply_items(self, order_ids: list[Any]) -> None:
        """The ``order_items`` rows of orders being paid whose items the mapper lacks,
        as the database holds them now (see the module documentation)."""
        try:
            if self._query_conn is None:
                self._query_conn = _connect(self.config.dsn)
                self._query_conn.autocommit = True
            with self._query_conn.cursor() as cur:
                cur.execute("SELECT id, order_id, product_id, quantity, price FROM order_items"
                            " WHERE order_id = ANY(%s) ORDER BY id", (list(order_ids),))
                rows = cur.fetchall()
        except psycopg2().Error as exc:
            msg = describe(exc, self.config.dsn,
                                   f"cannot read the items of orders {order_ids}")
            raise SourceError(msg) from None
        found: dict[Any, list[dict[str, Any]]] = {oid: [] for oid in order_ids}
        for item_id, order_id, product_id, quantity, price in rows:
            found[order_id].append({"id": item_id, "order_id": order_id,
                                    "product_id": product_id, "quantity": quantity,
                                    "price": price})
        for order_id, lines in found.items():
            self.mapper.supply_items(order_id, lines)

    def _seed_lookups(self) -> None:
        """Names, prices, categories and brands of products, and customers, as they are
        now. A ``products`` table without the ``brand`` column (a database created before
        it; ``shopstream db init`` adds it) gives no brands and a warning."""
        try:
            conn = _connect(self.config.dsn)
        except psycopg2().Error as exc:
            raise SourceError(describe(exc, self.config.dsn, "cannot connect")) from None
        try:
            with conn, conn.cursor() as cur:
                cur.execute("SELECT id, name FROM categories")
                self.mapper.categories.update(cur.fetchall())
                cur.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = "
                            "'public' AND table_name = 'products' AND column_name = 'brand'")
                has_brand = cur.fetchone() is not None
                cur.execute("SELECT id, name, category_id, price, "
                            f"{'brand' if has_brand else 'NULL'} FROM products")
                for pid, name, category, price, brand in cur.fetchall():
                    self.mapper.products[pid] = ProductInfo(name, category, float(price),
                                                            brand_of(brand))
                cur.execute("SELECT id, country, region, device, platform FROM customers")
                for cid, *rest in cur.fetchall():
                    self.mapper.customers[cid] = CustomerInfo(*rest)
                cur.execute("SELECT relreplident FROM pg_class "
                            "WHERE oid = 'public.orders'::regclass")
                identity = cur.fetchone()
        except psycopg2().Error as exc:
            msg = describe(exc, self.config.dsn, "cannot read the shop's products "
                                   "and customers (create the shop first: `shopstream db init`)")
            raise SourceError(msg) from None
        finally:
            conn.close()
        if not has_brand:
            _LOG.warning("table products has no brand column, so events carry no brands; "
                         "run `shopstream db init` to add it")
        if identity is None or identity[0] != "f":
            _LOG.warning("table orders lacks REPLICA IDENTITY FULL, so an order paid by a "
                         "later update becomes a PURCHASE only if this run saw it inserted; "
                         "run `shopstream db init` to set it")

    def _start(self, start_lsn: int) -> Any:
        extras = require("psycopg2.extras", "shopstream[postgres]")
        dsn, slot = self.config.dsn, self.config.slot
        try:
            self._conn = psycopg2().connect(
                dsn, connection_factory=extras.LogicalReplicationConnection,
                options="-c timezone=UTC")
            cursor = self._conn.cursor()
            cursor.execute("SELECT plugin, database, current_database() "
                           "FROM pg_replication_slots WHERE slot_name = %s", (slot,))
            row = cursor.fetchone()
            if row is None:
                cursor.create_replication_slot(slot, output_plugin="wal2json")
            elif row[1] != row[2]:
                msg = (f"replication slot {slot!r} belongs to database {row[1]!r}, not "
                       f"{row[2]!r}: choose another slot name (--slot)")
                raise SourceError(msg)
            elif row[0] != "wal2json":
                msg = (f"replication slot {slot!r} uses the {row[0]!r} plugin, not wal2json: "
                       "choose another slot name (--slot)")
                raise SourceError(msg)
            cursor.start_replication(
                slot_name=slot, decode=False, start_lsn=start_lsn, status_interval=5,
                options={"format-version": "2", "include-transaction": "1",
                         "include-lsn": "1", "include-timestamp": "1", "include-xids": "1",
                         "include-types": "0", "include-schemas": "0",
                         "add-tables": ",".join(f"public.{t}" for t in CDC_TABLES)})
        except psycopg2().Error as exc:
            self.close()
            msg = describe(exc, dsn, f"cannot replicate from slot {slot!r}")
            raise SourceError(msg) from None
        except SourceError:
            self.close()
            raise
        self._cursor = cursor
        return cursor


def _connect(dsn: str) -> Any:
    """A plain psycopg2 connection to ``dsn`` in UTC (errors left to the caller)."""
    return psycopg2().connect(dsn, options="-c timezone=UTC")
