"""The shop database's read API: customers, products, categories, carts, orders, order
items, wishlist and payments, one page at a time.

Mounted by :func:`shopstream.api.app.create_app` under ``/shop``; it answers when the
server was given a database (``shopstream serve --postgres DSN``) and says 503 otherwise.
Pages are keyset-paginated by id: ``?limit=N`` (1-500, default 50) and ``?after=ID``;
``next`` is the path of the following page, ``null`` on the last. Money is a JSON number.

Examples
--------
>>> [route.path for route in data_router(None).routes][:4]
['/shop/categories', '/shop/products', '/shop/products/{product_id}', '/shop/customers']
>>> try:
...     _Database(None).rows("SELECT 1", ())
... except fastapi.HTTPException as exc:
...     print(exc.status_code, exc.detail[:32])
503 this server has no shop database
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel

from shopstream.errors import require
from shopstream.shopdb.connection import describe, psycopg2

try:
    import fastapi
    from fastapi import Query
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["data_router"]

_T = TypeVar("_T")
_LIMIT = Query(50, ge=1, le=500, description="rows per page")
_AFTER = Query(None, ge=0, description="the last id of the previous page")


class Page(BaseModel, Generic[_T]):
    """One page of rows; ``next`` is the path of the next page (``null``: last page)."""

    data: list[_T]
    next: str | None


class _Stamped(BaseModel):
    id: int
    created_at: datetime
    updated_at: datetime


class Category(_Stamped):
    name: str
    slug: str


class Product(_Stamped):
    sku: str
    name: str
    description: str
    price: float
    stock: int
    category_id: int
    active: bool
    brand: str | None = None



class Customer(_Stamped):
    email: str
    first_name: str
    last_name: str
    country: str
    region: str
    device: str
    platform: str


class CartLine(_Stamped):
    customer_id: int
    session_id: str
    product_id: int
    quantity: int
    unit_price: float


class WishlistEntry(_Stamped):
    customer_id: int
    product_id: int
    session_id: str | None


class OrderItem(_Stamped):
    order_id: int
    product_id: int
    quantity: int
    price: float


class Order(_Stamped):
    customer_id: int
    session_id: str | None
    order_date: datetime
    total: float
    currency: str
    status: str
    payment_id: int | None
    shipment_id: int | None


class OrderWithItems(Order):
    items: list[OrderItem]


class Payment(_Stamped):
    method: str
    amount: float
    currency: str
    status: str
    transaction_id: str


class _Database:
    """A small pool of connections to the shop, opened on first use."""

    def __init__(self, dsn: str | None) -> None:
        self.dsn = dsn
        self._pool: Any = None
        self._lock = threading.Lock()

    def rows(self, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        if self.dsn is None:
            raise fastapi.HTTPException(503, "this server has no shop database: start it "
                                             "with `shopstream serve --postgres DSN`")
        pg = psycopg2()
        extras = require("psycopg2.extras", "shopstream[postgres]")
        try:
            with self._lock:
                if self._pool is None:
                    pool = require("psycopg2.pool", "shopstream[postgres]")
                    self._pool = pool.ThreadedConnectionPool(1, 4, self.dsn,
                                                             options="-c timezone=UTC")
            conn = self._pool.getconn()
        except pg.Error as exc:
            raise fastapi.HTTPException(503, describe(exc, self.dsn)) from None
        try:
            with conn, conn.cursor(cursor_factory=extras.RealDictCursor) as cur:
                cur.execute(sql, args)
                return [dict(r) for r in cur.fetchall()]
        except pg.Error as exc:
            conn.rollback()
            raise fastapi.HTTPException(503, describe(exc, self.dsn)) from None
        finally:
            self._pool.putconn(conn)

    def page(self, table: str, path: str, limit: int, after: int | None,
             filters: dict[str, Any]) -> dict[str, Any]:
        """One page of ``table`` (at most ``limit`` rows after id ``after``, equal to
        every ``filters`` value not None), and the link to the next one."""
        where, args = ["id > %s"], [after if after is not None else -1]
        for column, value in filters.items():
            if value is not None:
                where.append(f"{column} = %s")  # column names are ours, values bound
                args.append(value)
        rows = self.rows(f"SELECT * FROM {table} WHERE {' AND '.join(where)} "
                        f"ORDER BY id LIMIT %s", (*args, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        if not more:
            return {"data": rows, "next": None}
        query = {"limit": limit, "after": rows[-1]["id"]} | {
            k: str(v).lower() if isinstance(v, bool) else v
            for k, v in filters.items() if v is not None}
        return {"data": rows, "next": f"/shop/{path}?{urlencode(query)}"}

    def one(self, table: str, ident: int, what: str) -> dict[str, Any]:
        """The row of ``table`` with id ``ident`` (404 naming ``what`` when none)."""
        rows = self.rows(f"SELECT * FROM {table} WHERE id = %s", (ident,))
        if not rows:
            raise fastapi.HTTPException(404, f"no {what} with id {ident}")
        return rows[0]


def data_router(dsn: str | None) -> Any:
    """The ``/shop`` router over the database at ``dsn`` (``None``: answers 503)."""
    db = _Database(dsn)
    router = fastapi.APIRouter(prefix="/shop", tags=["shop database"])
    _catalog_routes(router, db)
    _activity_routes(router, db)
    return router


def _catalog_routes(router: fastapi.APIRouter, db: _Database) -> None:
    """Categories, products and customers."""
    @router.get("/categories", response_model=Page[Category], summary="Categories")
    def categories(limit: int = _LIMIT, after: int | None = _AFTER) -> Any:
        return db.page("categories", "categories", limit, after, {})

    @router.get("/products", response_model=Page[Product], summary="Products")
    def products(limit: int = _LIMIT, after: int | None = _AFTER,
                 category_id: int | None = None, active: bool | None = None) -> Any:
        return db.page("products", "products", limit, after,
                       {"category_id": category_id, "active": active})

    @router.get("/products/{product_id}", response_model=Product, summary="One product")
    def product(product_id: int) -> Any:
        return db.one("products", product_id, "product")

    @router.get("/customers", response_model=Page[Customer], summary="Customers")
    def customers(limit: int = _LIMIT, after: int | None = _AFTER,
                  country: str | None = None) -> Any:
        return db.page("customers", "customers", limit, after, {"country": country})

    @router.get("/customers/{customer_id}", response_model=Customer, summary="One customer")
    def customer(customer_id: int) -> Any:
        return db.one("customers", customer_id, "customer")


def _activity_routes(router: fastapi.APIRouter, db: _Database) -> None:
    """Carts, wishlists, orders, their items and payments."""
    @router.get("/carts", response_model=Page[CartLine],
                summary="Cart lines (open and abandoned carts)")
    def carts(limit: int = _LIMIT, after: int | None = _AFTER,
              customer_id: int | None = None, session_id: str | None = None) -> Any:
        return db.page("carts", "carts", limit, after,
                       {"customer_id": customer_id, "session_id": session_id})

    @router.get("/wishlist", response_model=Page[WishlistEntry], summary="Wishlist entries")
    def wishlist(limit: int = _LIMIT, after: int | None = _AFTER,
                 customer_id: int | None = None) -> Any:
        return db.page("wishlist", "wishlist", limit, after, {"customer_id": customer_id})

    @router.get("/orders", response_model=Page[Order], summary="Orders")
    def orders(limit: int = _LIMIT, after: int | None = _AFTER,
               customer_id: int | None = None, status: str | None = None) -> Any:
        return db.page("orders", "orders", limit, after,
                       {"customer_id": customer_id, "status": status})

    @router.get("/orders/{order_id}", response_model=OrderWithItems,
                summary="One order with its items")
    def order(order_id: int) -> Any:
        found = db.one("orders", order_id, "order")
        found["items"] = db.rows("SELECT * FROM order_items WHERE order_id = %s ORDER BY id",
                                 (order_id,))
        return found

    @router.get("/order-items", response_model=Page[OrderItem], summary="Order items")
    def order_items(limit: int = _LIMIT, after: int | None = _AFTER,
                    order_id: int | None = None, product_id: int | None = None) -> Any:
        return db.page("order_items", "order-items", limit, after,
                       {"order_id": order_id, "product_id": product_id})

    @router.get("/payments", response_model=Page[Payment], summary="Payments")
    def payments(limit: int = _LIMIT, after: int | None = _AFTER,
                 status: str | None = None) -> Any:
        return db.page("payments", "payments", limit, after, {"status": status})
