"""The CDNOW sample: purchases of 2,357 customers, as BG/NBD and Gamma-Gamma summaries.

``CDNOW_sample.txt`` (see :data:`shopstream.datasets.registry.DATASETS`) is the 1/10
sample of the CDNOW cohort (first purchase in 1997-Q1) used by Fader, Hardie & Lee
(2005): whitespace-separated ``original_id sample_id date(YYYYMMDD) cds dollars``, no
header, purchases up to 1998-06-30. The papers use weeks, a 39-week calibration period
ending 1997-09-30 and a 39-week holdout to 1998-06-30.

Examples
--------
>>> import io
>>> sample = io.StringIO(" 00004 0001 19970101  2   29.33\\r\\n"
...                      " 00004 0001 19970118  2   29.73\\r\\n"
...                      " 00004 0001 19971212  2   26.48\\r\\n")
>>> purchases = read_purchases(sample)
>>> purchases[0]
Purchase(customer_id='0001', day=datetime.date(1997, 1, 1), cds=2, dollars=29.33)
>>> [(s.frequency, round(s.recency, 2), round(s.age, 2), s.holdout_frequency)
...  for s in calibration_summaries(purchases)]
[(1, 2.43, 38.86, 1)]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from shopstream.datasets.textfile import read_text_file
from shopstream.errors import DatasetError
from shopstream.profiles.summary import CustomerSummary, summarise

__all__ = ["CALIBRATION_END", "CALIBRATION_START", "HOLDOUT_END", "Purchase",
           "calibration_summaries", "load_purchases", "read_purchases"]

CALIBRATION_START = date(1997, 1, 1)
CALIBRATION_END = date(1997, 9, 30)
"""Last day of the 39-week calibration period of the papers."""
HOLDOUT_END = date(1998, 6, 30)
"""Last day of the 39-week holdout period."""


@dataclass(frozen=True)
class Purchase:
    """One line of the CDNOW file (the sample id is the customer id)."""

    customer_id: str
    day: date
    cds: int
    dollars: float


def read_purchases(source: TextIO) -> list[Purchase]:
    """Parse the CDNOW text format; a :class:`DatasetError` names the bad line."""
    purchases = []
    for number, line in enumerate(source, start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            _, customer_id, day, cds, dollars = fields
            purchases.append(Purchase(customer_id, datetime.strptime(day, "%Y%m%d").date(),
                                      int(cds), float(dollars)))
        except ValueError as exc:
            msg = f"CDNOW line {number}: cannot read {line.strip()!r}: {exc}"
            raise DatasetError(msg) from exc
    return purchases


def load_purchases(path: Path) -> list[Purchase]:
    """:func:`read_purchases` of a file."""
    return read_text_file(path, read_purchases, "CDNOW file", encoding="ascii")


def calibration_summaries(purchases: list[Purchase], *,
                          calibration_end: date = CALIBRATION_END,
                          holdout_end: date = HOLDOUT_END) -> list[CustomerSummary]:
    """Per-customer weekly summaries for the papers' calibration/holdout split."""
    return summarise(((p.customer_id, p.day, p.dollars) for p in purchases),
                     calibration_end=calibration_end, holdout_end=holdout_end)
