"""Package namespaces that import their modules only when a name is first used.

A package ``__init__`` re-exports names from its modules so users write
``from shopstream.datasets import read_baskets``; importing every module for that makes
a command that needs one of them pay for all (``shopstream rules mine`` paid for the
dataset downloader's ``tarfile`` and ``shutil``). :func:`lazy_exports` gives the package
a module ``__getattr__`` (PEP 562) that imports the owning module on first use.

Examples
--------
>>> getattr_ = lazy_exports("shopstream", {"ShopstreamError": "errors"}, {})
>>> getattr_("ShopstreamError").__name__
'ShopstreamError'
>>> getattr_("nope")
Traceback (most recent call last):
...
AttributeError: module 'shopstream' has no attribute 'nope'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, owners: Mapping[str, str],
                 namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``owners`` maps each exported name to
    the module (relative to ``package``) that defines it; a name, once imported, is
    kept in ``namespace`` (the package's ``globals()``)."""

    def __getattr__(name: str) -> Any:
        owner = owners.get(name)
        if owner is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(f"{package}.{owner}"), name)
        namespace[name] = value
        return value

    return __getattr__
