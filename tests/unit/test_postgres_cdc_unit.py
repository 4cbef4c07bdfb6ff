"""What the shop database and CDC code decide without a server: configuration,
positions, malformed messages, mapping edge cases, and the command line."""

from __future__ import annotations

import pytest

from shopstream.cli import main
from shopstream.connectors.cdc_mapping import ChangeMapper, parse_wal2json
from shopstream.connectors.postgres_cdc import (
    CdcPosition,
    PostgresCdcConfig,
    PostgresCdcSource,
    connection_reason,
)
from shopstream.connectors.wal2json import TransactionAssembler
from shopstream.errors import ConfigError, DecodeError, SourceError
from shopstream.shopdb.connection import psycopg2
from shopstream.shopdb.generate import GenerateConfig
from shopstream.shopdb.simulate import SimulateConfig


def _tx(changes: str, lsn: str = "0/10") -> bytes:
    return (b'{"xid":1,"nextlsn":"' + lsn.encode() + b'","timestamp":'
            b'"2026-01-01 10:00:00+00","change":[' + changes.encode() + b']}')


def test_positions_come_back_from_checkpoints_or_say_what_is_wrong() -> None:
    assert CdcPosition.of((1, 2, 3)) == CdcPosition(1, 2, 3)
    with pytest.raises(SourceError, match="not a PostgreSQL CDC position"):
        CdcPosition.of(1234)  # a file offset: the checkpoint came from a file run
    with pytest.raises(SourceError):
        CdcPosition.of(["0/10", 0, 0])


@pytest.mark.parametrize(("field", "value"), [
    ("dsn", ""), ("slot", "Upper"), ("slot", "x" * 64), ("stop_when_idle_s", 0.0),
    ("tick_s", 0.0)])
def test_config_rejects_bad_values_naming_them(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"dsn": "postgresql://127.0.0.1/shop", field: value}
    with pytest.raises(ConfigError, match=f"PostgresCdcConfig.{field}"):
        PostgresCdcConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", [
    b"not json", b'{"change": []}', _tx('{"kind":"insert","table":"carts",'
                                        '"columnnames":["id"],"columnvalues":[1,2]}')])
def test_malformed_messages_raise_decode_errors_quoting_them(payload: bytes) -> None:
    with pytest.raises(DecodeError, match="wal2json message"):
        parse_wal2json(payload)


def test_the_assembler_frames_changes_by_begin_and_commit() -> None:
    asm = TransactionAssembler()
    with pytest.raises(DecodeError, match="outside a transaction"):
        asm.feed(b'{"action":"I","xid":1,"table":"carts","columns":[]}')
    with pytest.raises(DecodeError, match="commit without its begin"):
        asm.feed(b'{"action":"C","xid":1,"timestamp":"2026-01-01 10:00:00+00",'
                 b'"nextlsn":"0/20"}')
    assert asm.feed(b'{"action":"B","xid":2}') is None
    assert asm.feed(b'{"action":"T","xid":2,"table":"carts"}') is None  # truncate: skipped
    assert asm.feed(b'{"action":"D","xid":2,"table":"carts","identity":[{"name":"id",'
                    b'"value":4}]}') is None
    tx = asm.feed(b'{"action":"C","xid":2,"timestamp":"2026-01-01 10:00:00+00",'
                  b'"nextlsn":"0/20"}')
    assert tx is not None and tx.end_lsn == 32
    assert [(c.kind, c.row, c.old) for c in tx.changes] == [("delete", {"id": 4}, None)]


def test_numeric_sent_as_strings_still_becomes_numbers() -> None:
    tx = parse_wal2json(_tx(
        '{"kind":"insert","table":"carts","columnnames":["id","customer_id","session_id",'
        '"product_id","quantity","unit_price","updated_at"],"columnvalues":[1,2,"s",3,1,'
        '"19.90","2026-01-01 09:00:00+00"]}'))
    (event,) = ChangeMapper().map(tx)
    assert event.price == 19.9


def test_items_without_their_order_and_unpaid_orders_are_counted_not_emitted() -> None:
    mapper = ChangeMapper()
    tx = parse_wal2json(_tx(
        '{"kind":"insert","table":"order_items","columnnames":["id","order_id","product_id",'
        '"quantity","price"],"columnvalues":[1,9,3,1,5.0]},'
        '{"kind":"insert","table":"orders","columnnames":["id","customer_id","order_date",'
        '"total","status"],"columnvalues":[10,2,"2026-01-01 09:00:00+00",5.0,"pending"]}'))
    assert mapper.map(tx) == []
    assert (mapper.orphan_items, mapper.skipped_orders) == (1, 1)


def test_shop_configs_name_the_bad_value() -> None:
    with pytest.raises(ConfigError, match=r"GenerateConfig\.products must be an int >= 8"):
        GenerateConfig(categories=4, products=7)
    with pytest.raises(ConfigError, match=r"GenerateConfig\.customers"):
        GenerateConfig(customers=0)
    with pytest.raises(ConfigError, match=r"SimulateConfig\.speed"):
        SimulateConfig(minutes=1, speed=0)
    with pytest.raises(ConfigError, match=r"SimulateConfig\.historical_days"):
        SimulateConfig(historical_days=-1)


def test_run_takes_exactly_one_input(tmp_path: object, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    with pytest.raises(SystemExit) as both:
        main(["run", "--input", "x.jsonl", "--postgres", "dbname=shop", "--output-dir", "o"])
    assert both.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit) as neither:
        main(["run", "--output-dir", "o"])
    assert neither.value.code == 2
    assert "--input" in capsys.readouterr().err


def test_db_commands_without_a_database_say_how_to_give_one(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SHOPSTREAM_POSTGRES", raising=False)
    assert main(["db", "init"]) == 1
    assert "pass --dsn DSN or set $SHOPSTREAM_POSTGRES" in capsys.readouterr().err


def test_an_unreachable_database_is_one_line_with_the_password_hidden(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 on the loopback: nothing listens there, the connection is refused at once.
    assert main(["db", "counts", "--dsn",
                 "postgresql://shop:secret@127.0.0.1:1/shop?connect_timeout=2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("shopstream db: error: PostgreSQL at postgresql://shop:***@")
    assert "secret" not in err and len(err.strip().splitlines()) == 1


# Port 1 on the loopback refuses at once; the password is quoted and holds a space, and
# libpq's own text repeats the host and port and adds a hint line.
_QUOTED = "host=127.0.0.1 port=1 user=shop password='s3cret word' dbname=shop connect_timeout=2"


def test_a_cdc_source_that_cannot_connect_is_one_line_without_its_password() -> None:
    source = PostgresCdcSource(PostgresCdcConfig(dsn=_QUOTED))
    with pytest.raises(SourceError) as caught:
        next(iter(source.read(None)))
    message = str(caught.value)
    assert message == ("PostgreSQL at host=127.0.0.1 port=1 user=shop password=*** dbname=shop "
                       "connect_timeout=2: cannot connect: Connection refused")
    assert "s3cret word" not in source.name and "password=***" in source.name


@pytest.mark.parametrize(("text", "reason"), [
    ('connection to server at "db" (10.0.0.5), port 5432 failed: FATAL:  password '
     'authentication failed for user "shop"\n', 'password authentication failed for user "shop"'),
    ('invalid dsn: missing "=" after "word\'" in connection info string\n',
     'invalid dsn: missing "=" after "***" in connection info string'),
    ("", "OperationalError"),
])
def test_connection_reasons_drop_libpq_repetition_and_secrets(text: str, reason: str) -> None:
    dsn = "postgresql://shop:word'@db/shop"
    assert connection_reason(psycopg2().OperationalError(text), dsn) == reason


_ORDER_COLS = ('"columnnames":["id","customer_id","session_id","order_date","total",'
               '"status","updated_at"]')


def _order_update(order_id: int, old: str, new: str) -> str:
    def values(status: str) -> str:
        return (f'[{order_id},2,"s",'
                f'"2026-01-01 09:00:00+00",25.0,"{status}","2026-01-01 09:30:00+00"]')
    return (f'{{"kind":"update","table":"orders",{_ORDER_COLS},"columnvalues":{values(new)},'
            f'"oldkeys":{{"keynames":["id","customer_id","session_id","order_date","total",'
            f'"status","updated_at"],"keyvalues":{values(old)}}}}}')


def test_a_payment_without_remembered_items_asks_for_them_and_uses_what_it_gets() -> None:
    paid = parse_wal2json(_tx(_order_update(40, "pending", "paid")))
    mapper = ChangeMapper()
    assert mapper.missing_items(paid) == [40]
    assert mapper.map(paid) == []  # not supplied: counted, not emitted
    assert mapper.skipped_orders == 1
    mapper.supply_items(40, [{"id": 1, "order_id": 40, "product_id": 3, "quantity": 2,
                              "price": 12.5}])
    (event,) = mapper.map(paid)
    assert (event.event_id, event.cart_total, event.timestamp_ms) == (
        "pg-order-40", 25.0, 1767259800000)
    assert event.items is not None and [(i.product_id, i.quantity) for i in event.items] == [
        ("3", 2)]
    shipped = parse_wal2json(_tx(_order_update(40, "paid", "shipped")))
    assert mapper.missing_items(shipped) == [] and mapper.map(shipped) == []


def test_an_edited_item_of_a_remembered_order_is_read_again_at_payment() -> None:
    mapper = ChangeMapper()
    mapper.map(parse_wal2json(_tx(
        '{"kind":"insert","table":"orders","columnnames":["id","customer_id","order_date",'
        '"total","status"],"columnvalues":[41,2,"2026-01-01 09:00:00+00",5.0,"pending"]},'
        '{"kind":"insert","table":"order_items","columnnames":["id","order_id","product_id",'
        '"quantity","price"],"columnvalues":[7,41,3,1,5.0]}')))
    paid = parse_wal2json(_tx(_order_update(41, "pending", "paid")))
    assert mapper.missing_items(paid) == []  # remembered with its item
    mapper.map(parse_wal2json(_tx(
        '{"kind":"delete","table":"order_items","oldkeys":{"keynames":["id"],'
        '"keyvalues":[7]}}')))
    assert mapper.missing_items(paid) == [41]
