"""Errors of the real datasets.

:class:`~shopstream.errors.DatasetError` is defined with the shared errors because the
commands and the evaluation raise it too, for data files a user hands them; it is this
package's error, re-exported here. A fetched dataset file that cannot be opened, read or
decoded raises it too (:func:`~shopstream.datasets.textfile.read_text_file`); a baskets
CSV a user hands in that cannot be read raises :class:`~shopstream.errors.SourceError`.

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(DatasetError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import DatasetError

__all__ = ["DatasetError"]
