"""Reading a lake in object storage: its committed objects as pyarrow datasets, one per
stream, which :func:`shopstream.lake.query.connect` hands DuckDB as views.

DuckDB reads S3 itself only through its ``httpfs`` extension, which it downloads on first
use; shopstream installs nothing at run time, so the lake's objects are read by pyarrow
(:class:`pyarrow.fs.S3FileSystem`, with the endpoint, region and credentials of
:class:`~shopstream.lake.object_store.ObjectStore`) and DuckDB scans the datasets, pushing
its column selections and filters down to them. Only the keys that the commit log lists
are read (:func:`shopstream.lake.commit_log.read_log`: the latest fold of the log and the
commits since), with the stream's schema (columns a
file's older schema version lacks are null) and the partition's ``date``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from shopstream.lake.commit_log import read_log
from shopstream.lake.object_store import ObjectStore, parse_s3_url
from shopstream.lake.schemas import SCHEMAS

__all__ = ["PARTITIONING", "committed_files", "stream_datasets"]

#: The lake's Hive partitions, typed.
PARTITIONING = ds.partitioning(pa.schema([("stream", pa.string()), ("date", pa.date32())]),
                               flavor="hive")


def committed_files(store: ObjectStore) -> dict[str, list[str]]:
    """The committed keys of each stream (``stream=NAME/...``), in key order.

    >>> committed_files.__name__
    'committed_files'
    """
    files: dict[str, list[str]] = {}
    for key in read_log(store).live_keys():
        folder = key.split("/", 1)[0]
        if folder.startswith("stream="):
            files.setdefault(folder.removeprefix("stream="), []).append(key)
    return files


def stream_datasets(url: str) -> dict[str, Any]:
    """A pyarrow dataset per stream of the lake at ``url`` that has committed objects,
    with the stream's columns and ``date``."""
    store = ObjectStore(parse_s3_url(url))
    store.check_bucket()
    files = committed_files(store)
    if not files:
        return {}
    filesystem = store.arrow_filesystem()
    base = store.path("").rstrip("/")
    datasets = {}
    for stream, keys in files.items():
        schema = SCHEMAS.get(stream)
        if schema is None:
            continue  # a stream of a later version of shopstream
        datasets[stream] = ds.dataset(
            [store.path(k) for k in keys], filesystem=filesystem, format="parquet",
            schema=schema.append(pa.field("date", pa.date32())), partitioning=PARTITIONING,
            partition_base_dir=base)
    return datasets
