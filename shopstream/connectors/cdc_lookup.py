"""The lookup tables change data capture keeps so that events carry names, prices and
places though order and cart rows hold only ids: products, categories and customers,
updated from the changes the mapper sees (a source seeds them from the database when it
starts). Memory: one small entry per product, category and customer of the shop.

Examples
--------
>>> from shopstream.connectors.wal2json import RowChange
>>> lookup = CatalogLookup()
>>> lookup.learn(RowChange("insert", "categories", {"id": 1, "name": "Tea"}))
>>> lookup.learn(RowChange("insert", "products",
...                        {"id": 12, "name": "Sencha", "category_id": 1, "price": 4.5}))
>>> product = lookup.product(12)
>>> product.name, lookup.category(product), product.brand
('Sencha', 'Tea', None)
>>> lookup.learn(RowChange("update", "products", {"id": 12, "name": "Sencha",
...                        "category_id": 1, "price": 4.5, "brand": "Hoshino"}))
>>> lookup.product(12).brand
'Hoshino'
"""

from __future__ import annotations

from typing import Any, NamedTuple

from shopstream.connectors.cdc_values import money
from shopstream.connectors.wal2json import RowChange

__all__ = ["CatalogLookup", "CustomerInfo", "ProductInfo", "brand_of"]


class ProductInfo(NamedTuple):
    """What events need to know about a product; ``brand`` comes from the ``products.brand``
    column (``None`` when NULL or blank, or on a database created before the column)."""

    name: str
    category_id: int | None
    price: float
    brand: str | None = None


def brand_of(value: Any) -> str | None:
    """A ``products.brand`` value as events carry it: stripped text, ``None`` for NULL or
    blank (so that no profile gets an empty brand).

    Examples
    --------
    >>> brand_of("  Acme "), brand_of(""), brand_of("   "), brand_of(None)
    ('Acme', None, None, None)
    """
    if value is None:
        return None
    return str(value).strip() or None


class CustomerInfo(NamedTuple):
    """What events need to know about a customer."""

    country: str | None
    region: str | None
    device: str | None
    platform: str | None


class CatalogLookup:
    """Products, categories and customers by id, kept current by :meth:`learn`."""

    def __init__(self) -> None:
        self.products: dict[int, ProductInfo] = {}
        self.categories: dict[int, str] = {}
        self.customers: dict[int, CustomerInfo] = {}

    def learn(self, change: RowChange) -> None:
        """Update the table ``change`` belongs to (other tables: nothing); a value that
        cannot be used raises one of :data:`~shopstream.connectors.cdc_values.BAD_VALUE`."""
        table, row = change.table, change.row
        key = row.get("id")
        if not isinstance(key, int):
            return
        if change.kind == "delete":
            if table == "products":
                self.products.pop(key, None)
            elif table == "categories":
                self.categories.pop(key, None)
            elif table == "customers":
                self.customers.pop(key, None)
            return
        if table == "products":
            self.products[key] = ProductInfo(str(row.get("name", "")), row.get("category_id"),
                                             money(row.get("price")), brand_of(row.get("brand")))
        elif table == "categories":
            self.categories[key] = str(row.get("name", ""))
        elif table == "customers":
            self.customers[key] = CustomerInfo(row.get("country"), row.get("region"),
                                               row.get("device"), row.get("platform"))

    def product(self, product_id: Any) -> ProductInfo | None:
        """The product ``product_id`` (``None`` when unknown or not an integer id)."""
        return self.products.get(product_id) if isinstance(product_id, int) else None

    def category(self, product: ProductInfo | None) -> str | None:
        """The name of ``product``'s category (``None`` when unknown)."""
        if product is None or product.category_id is None:
            return None
        return self.categories.get(product.category_id)

    def customer(self, customer_id: Any) -> CustomerInfo | None:
        """The customer ``customer_id`` (``None`` when unknown)."""
        return self.customers.get(customer_id)
