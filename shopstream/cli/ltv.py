"""``shopstream ltv``: fit the lifetime-value models on a transaction log.

- ``ltv fit --transactions FILE.csv [--calibration-end DATE] [--period-days N] [--json]``
  reads a ``customer_id,date,amount`` CSV (a header naming the three columns, in any
  order; other columns are ignored; ``date`` is ISO ``YYYY-MM-DD`` or ``YYYYMMDD``),
  summarises each customer as in :mod:`shopstream.profiles.summary` (purchases on one day
  are one transaction; frequency counts repeat days; recency and age in periods of
  ``N`` days, default 7), fits BG/NBD (:func:`~shopstream.profiles.bgnbd.fit_bgnbd`) and,
  on the repeat buyers, Gamma-Gamma (:func:`~shopstream.profiles.gamma_gamma.fit_gamma_gamma`)
  and prints ``r, alpha, a, b, p, q, gamma``. When the log goes past the calibration end
  (default: its last date), the purchases the BG/NBD model expects per customer in the
  holdout (calibration end to the last date) are compared with the actual transaction
  days: totals and the mean absolute error per customer.
- ``ltv cdnow-csv --output FILE.csv [--dir DIR]`` fetches the CDNOW sample (as
  ``shopstream datasets fetch cdnow``) and writes it as such a CSV (``amount`` is the
  line's dollars).

A bad row stops the command with one line naming the file line and the value.

Examples
--------
>>> import io
>>> log = read_transactions(io.StringIO(
...     "customer_id,date,amount\\nc1,1997-01-01,10.5\\nc1,19970115,4\\n"), "t.csv")
>>> [(t[0], t[1].isoformat(), t[2]) for t in log]
[('c1', '1997-01-01', 10.5), ('c1', '1997-01-15', 4.0)]
>>> read_transactions(io.StringIO("customer_id,date,amount\\nc1,1997-13-01,1\\n"), "t.csv")
Traceback (most recent call last):
...
shopstream.errors.DatasetError: t.csv line 2: date '1997-13-01' is not YYYY-MM-DD
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from shopstream.errors import DatasetError
from shopstream.profiles.bgnbd import BgNbdParams, fit_bgnbd, log_likelihood
from shopstream.profiles.gamma_gamma import GammaGammaParams, fit_gamma_gamma
from shopstream.profiles.summary import CustomerSummary, summarise

__all__ = ["LtvFit", "fit_transactions", "read_transactions", "register"]

_COLUMNS = ("customer_id", "date", "amount")
Transaction = tuple[str, date, float]


def register(subparsers: Any) -> None:
    """Add ``ltv fit`` and ``ltv cdnow-csv``."""
    parser = subparsers.add_parser("ltv", help="fit lifetime-value models (BG/NBD, "
                                               "Gamma-Gamma) on a transaction log")
    actions = parser.add_subparsers(dest="ltv_command", metavar="ACTION", required=True)
    fit = actions.add_parser("fit", help="fit BG/NBD and Gamma-Gamma on a "
                                         "customer_id,date,amount CSV")
    fit.add_argument("--transactions", type=Path, required=True, metavar="FILE.csv")
    fit.add_argument("--calibration-end", type=_iso_date, default=None, metavar="DATE",
                     help="last day of the calibration period (default: the last date)")
    fit.add_argument("--period-days", type=float, default=7.0, metavar="N",
                     help="length of one period of recency and age (default 7: weeks)")
    fit.add_argument("--json", action="store_true", help="print one JSON object")
    fit.set_defaults(func=run_fit)
    cdnow = actions.add_parser("cdnow-csv", help="write the CDNOW sample as a "
                                                 "customer_id,date,amount CSV")
    cdnow.add_argument("--output", type=Path, required=True, metavar="FILE.csv")
    cdnow.add_argument("--dir", type=Path, default=None, help="dataset cache directory")
    cdnow.set_defaults(func=run_cdnow_csv)


@dataclass(frozen=True)
class Holdout:
    """Predicted against actual transaction days after the calibration end."""

    start: str
    end: str
    periods: float
    predicted_total: float
    actual_total: int
    mae_per_customer: float


@dataclass(frozen=True)
class LtvFit:
    """What ``ltv fit`` prints."""

    customers: int
    repeat_buyers: int
    calibration_start: str
    calibration_end: str
    period_days: float
    bgnbd: BgNbdParams
    bgnbd_log_likelihood: float
    gamma_gamma: GammaGammaParams | None
    holdout: Holdout | None


def read_transactions(source: TextIO, name: str) -> list[Transaction]:
    """Parse a ``customer_id,date,amount`` CSV; a :class:`DatasetError` names the line."""
    reader = csv.reader(source)
    header = next(reader, None)
    if header is None:
        msg = f"{name} is empty: expected a header {','.join(_COLUMNS)}"
        raise DatasetError(msg)
    names = [h.strip().lower() for h in header]
    missing = [c for c in _COLUMNS if c not in names]
    if missing:
        msg = (f"{name} line 1: missing column(s) {', '.join(missing)} in header "
               f"{','.join(header)!r} (need {','.join(_COLUMNS)})")
        raise DatasetError(msg)
    who, when, much = (names.index(c) for c in _COLUMNS)
    width = max(who, when, much) + 1
    rows: list[Transaction] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not field.strip() for field in row):
            continue
        if len(row) < width:
            msg = f"{name} line {line}: expected {len(header)} fields, got {','.join(row)!r}"
            raise DatasetError(msg)
        customer = row[who].strip()
        if not customer:
            msg = f"{name} line {line}: empty customer_id"
            raise DatasetError(msg)
        rows.append((customer, _parse_date(row[when], name, line),
                     _parse_amount(row[much], name, line)))
    if not rows:
        msg = f"{name} has a header but no transactions"
        raise DatasetError(msg)
    return rows


def fit_transactions(log: list[Transaction], *, calibration_end: date | None = None,
                     period_days: float = 7.0) -> LtvFit:
    """Summarise ``log`` and fit both models (see the module docstring)."""
    if not (math.isfinite(period_days) and period_days > 0):
        msg = f"--period-days must be a positive number, got {period_days!r}"
        raise DatasetError(msg)
    first = min(t[1] for t in log)
    last = max(t[1] for t in log)
    end = calibration_end or last
    if end < first:
        msg = f"--calibration-end {end} is before the first transaction ({first})"
        raise DatasetError(msg)
    summaries = summarise(log, calibration_end=end, period_days=period_days)
    x, tx, age = _columns(summaries)
    repeat = x > 0
    spend = np.array([s.average_value for s in summaries])[repeat]
    # The optimisers try parameters where the log-likelihood overflows; the objectives
    # turn a non-finite value into a huge one, so numpy's warnings say nothing here.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        bg = fit_bgnbd(x, tx, age)
        gg = fit_gamma_gamma(x[repeat], spend) if repeat.sum() >= 2 else None
    holdout = None
    if last > end:
        periods = (last - end).days / period_days
        actual = np.array([s.holdout_frequency for s in summaries], dtype=float)
        predicted = np.asarray(bg.expected_purchases(periods, x, tx, age))
        holdout = Holdout(start=(end + timedelta(days=1)).isoformat(), end=last.isoformat(),
                          periods=periods, predicted_total=float(predicted.sum()),
                          actual_total=int(actual.sum()),
                          mae_per_customer=float(np.mean(np.abs(predicted - actual))))
    return LtvFit(customers=len(summaries), repeat_buyers=int(repeat.sum()),
                  calibration_start=first.isoformat(), calibration_end=end.isoformat(),
                  period_days=period_days, bgnbd=bg,
                  bgnbd_log_likelihood=float(np.sum(log_likelihood(bg, x, tx, age))),
                  gamma_gamma=gg, holdout=holdout)


def run_fit(args: argparse.Namespace) -> int:
    """Read, fit and print."""
    path: Path = args.transactions
    try:
        with path.open(newline="", encoding="utf-8") as source:
            log = read_transactions(source, str(path))
    except OSError as exc:
        msg = f"cannot read {str(path)!r}: {exc}"
        raise DatasetError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = f"{path} is not UTF-8 text: {exc}"
        raise DatasetError(msg) from exc
    except csv.Error as exc:
        msg = f"{path}: not a readable CSV: {exc}"
        raise DatasetError(msg) from exc
    result = fit_transactions(log, calibration_end=args.calibration_end,
                              period_days=args.period_days)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        print(_text(result))
    return 0


def run_cdnow_csv(args: argparse.Namespace) -> int:
    """Fetch CDNOW and write it as ``customer_id,date,amount``."""
    from shopstream.datasets.cdnow import load_purchases
    from shopstream.datasets.fetch import fetch
    from shopstream.datasets.registry import dataset_info

    purchases = load_purchases(fetch(dataset_info("cdnow"), args.dir))
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with args.output.open("w", newline="", encoding="utf-8") as sink:
            writer = csv.writer(sink, lineterminator="\n")
            writer.writerow(_COLUMNS)
            writer.writerows((p.customer_id, p.day.isoformat(), f"{p.dollars:.2f}")
                             for p in purchases)
    except OSError as exc:
        msg = f"cannot write {str(args.output)!r}: {exc}"
        raise DatasetError(msg) from exc
    print(f"ltv: {len(purchases)} transactions -> {args.output}", file=sys.stderr)
    return 0


def _text(fit: LtvFit) -> str:
    bg, gg = fit.bgnbd, fit.gamma_gamma
    lines = [
        f"customers {fit.customers} (repeat buyers {fit.repeat_buyers}), calibration "
        f"{fit.calibration_start} to {fit.calibration_end}, period {fit.period_days:g} days",
        f"BG/NBD       r {bg.r:.3f}  alpha {bg.alpha:.3f}  a {bg.a:.3f}  b {bg.b:.3f}  "
        f"(log-likelihood {fit.bgnbd_log_likelihood:.1f})",
        (f"Gamma-Gamma  p {gg.p:.2f}  q {gg.q:.2f}  gamma {gg.gamma:.2f}" if gg else
         "Gamma-Gamma  not fitted: fewer than 2 customers with a repeat purchase"),
    ]
    if fit.holdout is not None:
        h = fit.holdout
        lines.append(f"holdout {h.start} to {h.end} ({h.periods:.1f} periods): predicted "
                     f"{h.predicted_total:.1f}, actual {h.actual_total} transaction days, "
                     f"MAE per customer {h.mae_per_customer:.4f}")
    else:
        lines.append("holdout: none (no transaction after the calibration end)")
    return "\n".join(lines)


def _columns(summaries: list[CustomerSummary]) -> tuple[Any, Any, Any]:
    x = np.array([s.frequency for s in summaries], dtype=float)
    tx = np.array([s.recency for s in summaries], dtype=float)
    age = np.array([s.age for s in summaries], dtype=float)
    return x, tx, age


def _parse_date(text: str, name: str, line: int) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        msg = f"{name} line {line}: date {text!r} is not YYYY-MM-DD"
        raise DatasetError(msg) from None


def _parse_amount(text: str, name: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = f"{name} line {line}: amount {text!r} is not a number"
        raise DatasetError(msg) from None
    if not (math.isfinite(value) and value >= 0):
        msg = f"{name} line {line}: amount {text!r} must be a finite number >= 0"
        raise DatasetError(msg)
    return value


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = f"not a date (YYYY-MM-DD): {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
