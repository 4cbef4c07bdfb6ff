"""``shopstream db``: create, fill, simulate into and clear the PostgreSQL shop database."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from typing import Any

from shopstream.errors import ConfigError

__all__ = ["register"]

_DSN_ENV = "SHOPSTREAM_POSTGRES"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "db",
        help="the PostgreSQL shop database: schema, data generator, shopping simulator",
        description="Manage the shop database whose changes `shopstream run --postgres` "
                    "streams: create the schema, generate a catalog and customers, "
                    f"simulate shopping into it. The DSN comes from --dsn or ${_DSN_ENV}.",
    )
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help_text,
                                                         description=help_text)
        p.add_argument("--dsn", default=os.environ.get(_DSN_ENV), metavar="DSN",
                       help="PostgreSQL connection string, e.g. "
                            "postgresql://shop@127.0.0.1:5432/shop")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        return p

    action("init", "create the tables that are missing and bring existing ones up to "
           "date (adds new columns such as products.brand)").set_defaults(func=_init)
    action("reset", "drop every shop table and create them again, empty").set_defaults(
        func=_reset)
    action("clear", "delete every row (the catalog too); keep the schema").set_defaults(
        func=_clear)
    action("counts", "rows per table").set_defaults(func=_counts)
    gen = action("generate", "fill an empty shop with a seeded catalog and customers")
    gen.add_argument("--categories", type=int, default=15, metavar="N",
                     help="categories, 1..15 (default 15)")
    gen.add_argument("--products", type=int, default=200, metavar="N",
                     help="products (default 200)")
    gen.add_argument("--customers", type=int, default=100, metavar="N",
                     help="customers (default 100)")
    gen.add_argument("--seed", type=int, default=42, help="seed (default 42)")
    gen.set_defaults(func=_generate)
    sim = action("simulate", "simulate shopping sessions: carts, wishlist, orders, "
                             "payments, shipments")
    sim.add_argument("--sessions", type=int, default=50, metavar="N",
                     help="shopping sessions (default 50)")
    mode = sim.add_mutually_exclusive_group()
    mode.add_argument("--minutes", type=float, metavar="M",
                      help="live: sessions start over the next M minutes, each action "
                           "written when its time comes (default 25)")
    mode.add_argument("--historical-days", type=float, metavar="D",
                      help="backfill: sessions over the past D days, written at once")
    sim.add_argument("--speed", type=float, default=1.0, metavar="X",
                     help="live mode: run X times faster than the wall clock (default 1)")
    sim.add_argument("--seed", type=int, default=1, help="seed of the sessions (default 1)")
    sim.set_defaults(func=_simulate)


def _dsn(args: argparse.Namespace) -> str:
    if not args.dsn:
        msg = f"no database given: pass --dsn DSN or set ${_DSN_ENV}"
        raise ConfigError(msg)
    dsn: str = args.dsn
    return dsn


def _report(args: argparse.Namespace, body: dict[str, Any], text: str) -> int:
    print(json.dumps(body, indent=2) if args.json else text)
    return 0


def _init(args: argparse.Namespace) -> int:
    from shopstream.shopdb import schema

    schema.init(_dsn(args))
    return _report(args, {"initialized": True}, "shop schema ready")


def _reset(args: argparse.Namespace) -> int:
    from shopstream.shopdb import schema

    schema.reset(_dsn(args))
    return _report(args, {"reset": True}, "shop schema dropped and created again (empty)")


def _clear(args: argparse.Namespace) -> int:
    from shopstream.shopdb import schema

    schema.clear(_dsn(args))
    return _report(args, {"cleared": True}, "every shop table is empty")


def _counts(args: argparse.Namespace) -> int:
    from shopstream.shopdb import schema

    counts = schema.table_counts(_dsn(args))
    return _report(args, counts, "\n".join(f"{t:<12} {n:>9,}" for t, n in counts.items()))


def _generate(args: argparse.Namespace) -> int:
    from shopstream.shopdb.generate import GenerateConfig, generate

    config = GenerateConfig(args.categories, args.products, args.customers, args.seed)
    done = generate(_dsn(args), config)
    return _report(args, asdict(done),
                   f"generated {done.categories} categories, {done.products} products, "
                   f"{done.customers} customers (seed {done.seed})")


def _simulate(args: argparse.Namespace) -> int:
    from shopstream.shopdb.simulate import SimulateConfig, simulate

    minutes = args.minutes
    if minutes is None and args.historical_days is None:
        minutes = 25.0
    config = SimulateConfig(sessions=args.sessions, minutes=minutes,
                            historical_days=args.historical_days, seed=args.seed,
                            speed=args.speed)
    done = simulate(_dsn(args), config)
    return _report(args, asdict(done),
                   f"{done.sessions} sessions in {done.seconds:.1f} s: {done.cart_adds} cart "
                   f"adds, {done.cart_removals} removals, {done.wishlist_adds} wishlist adds, "
                   f"{done.orders} orders ({done.paid_later} paid later), revenue "
                   f"{done.revenue:,.2f}")
