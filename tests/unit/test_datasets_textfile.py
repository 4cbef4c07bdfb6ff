"""Every dataset loader fails the same way on a file it cannot open, read or decode."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopstream.datasets.cdnow import load_purchases
from shopstream.datasets.instacart import load_order_lines
from shopstream.datasets.movielens import load_ratings
from shopstream.errors import DatasetError

LOADERS = [(load_purchases, "CDNOW file"), (load_order_lines, "instacart sample"),
           (load_ratings, "movielens ratings")]


@pytest.mark.parametrize(("load", "what"), LOADERS)
def test_a_missing_file_names_the_dataset_and_the_path(load, what, tmp_path: Path) -> None:
    path = tmp_path / "absent.txt"
    with pytest.raises(DatasetError) as caught:
        load(path)
    assert str(caught.value) == f"cannot read {what} {str(path)!r}: No such file or directory"


@pytest.mark.parametrize(("load", "what"), LOADERS)
def test_a_wrongly_encoded_file_is_a_dataset_error(load, what, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xff\xfe\xfa not text\n")
    with pytest.raises(DatasetError, match=f"^cannot read {what} .*codec can't decode"):
        load(path)


def test_a_readable_file_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "cdnow.txt"
    path.write_bytes(b" 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  1   9.5\r\n")
    assert [(p.customer_id, p.cds) for p in load_purchases(path)] == [("0001", 2), ("0001", 1)]
