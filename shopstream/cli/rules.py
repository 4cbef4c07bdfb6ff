"""``shopstream rules mine``: exact association rules of a baskets CSV.

Reads ``basket_id,item`` rows (see :mod:`shopstream.datasets.baskets_csv`), mines every
rule the thresholds keep and writes one record per rule, in canonical order (count
descending, then confidence, lift, antecedents, consequent):

- ``jsonl`` (default): one JSON object per line with camelCase keys ``antecedents``
  (sorted list), ``consequent``, ``support``, ``confidence``, ``lift``,
  ``interestingness``, ``count``, ``antecedentCount``, ``consequentCount``,
  ``basketCount``;
- ``csv``: the same columns with a header; ``antecedents`` joined with ``|``.

A one-line summary goes to stderr at the end.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import msgspec

from shopstream.datasets.baskets_csv import BasketTable, read_baskets_file
from shopstream.errors import SourceError
from shopstream.mining.batch import MiningResult, mine_rules
from shopstream.mining.config import RulesConfig
from shopstream.mining.rules import Rule

__all__ = ["ANTECEDENT_SEPARATOR", "register", "write_rules"]

ANTECEDENT_SEPARATOR = "|"
_COLUMNS = ("antecedents", "consequent", "support", "confidence", "lift", "interestingness",
            "count", "antecedentCount", "consequentCount", "basketCount")


def register(subparsers: Any) -> None:
    """Add ``rules`` and its ``mine`` sub-command."""
    parser = subparsers.add_parser("rules", help="mine association rules of baskets")
    actions = parser.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    mine = actions.add_parser("mine", help="exact rules of a basket_id,item CSV")
    defaults = RulesConfig()
    mine.add_argument("--baskets", type=Path, required=True, metavar="FILE.csv",
                      help="CSV with header basket_id,item")
    mine.add_argument("--min-support", type=float, default=defaults.min_support,
                      help="share of baskets (default %(default)s)")
    mine.add_argument("--min-confidence", type=float, default=defaults.min_confidence,
                      help="default %(default)s")
    mine.add_argument("--min-lift", type=float, default=defaults.min_lift,
                      help="default %(default)s")
    mine.add_argument("--max-len", type=int, default=defaults.max_len,
                      help="most items in a rule (default %(default)s)")
    mine.add_argument("--output", type=Path, required=True, metavar="FILE")
    mine.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    mine.add_argument("--no-progress", action="store_true", help="no progress bar")
    mine.set_defaults(func=run_mine)


def run_mine(args: argparse.Namespace) -> int:
    """Mine the baskets file and write the rules."""
    config = RulesConfig(min_support=args.min_support, min_confidence=args.min_confidence,
                         min_lift=args.min_lift, max_len=args.max_len)
    started = time.perf_counter()
    # tqdm's own default (no bar unless stderr is a terminal), decided here so that a
    # scripted run does not import tqdm (~50 ms) nor pay a callback per CSV line.
    if not args.no_progress and sys.stderr.isatty():
        table, result = _read_and_mine_with_bars(args.baskets, config)
    else:
        table = read_baskets_file(args.baskets)
        result = mine_rules(table.item_lists(), config)
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with args.output.open("w", newline="", encoding="utf-8") as sink:
            write_rules(sink, result.rules, args.format)
    except OSError as exc:
        msg = f"cannot write {str(args.output)!r}: {exc}"
        raise SourceError(msg) from exc
    elapsed = time.perf_counter() - started
    print(f"rules: {result.basket_count} baskets, {result.item_count} items, "
          f"{len(result.itemset_counts)} frequent itemsets, {len(result.rules)} rules "
          f"in {elapsed:.2f} s -> {args.output}", file=sys.stderr)
    return 0


def _read_and_mine_with_bars(path: Path, config: RulesConfig
                             ) -> tuple[BasketTable, MiningResult]:
    """Read and mine as :func:`run_mine` does, with a progress bar for each step."""
    from tqdm import tqdm

    size = path.stat().st_size if path.is_file() else None
    with tqdm(total=size, unit="B", unit_scale=True, desc="reading", file=sys.stderr,
              leave=False) as bar:

        def advance(size: int) -> None:
            bar.update(size)

        table = read_baskets_file(path, progress=advance)
    with tqdm(total=1, desc="mining", file=sys.stderr, leave=False) as bar:
        result = mine_rules(table.item_lists(), config)
        bar.update()
    return table, result


def write_rules(sink: TextIO, rules: Iterable[Rule], fmt: str = "jsonl") -> int:
    """Write ``rules`` as JSON lines or CSV; return how many were written.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> write_rules(out, [Rule(("a", "b"), "c", 2, 4, 5, 10)], "csv")
    1
    >>> print(out.getvalue(), end="")
    antecedents,consequent,support,confidence,lift,interestingness,count,antecedentCount,consequentCount,basketCount
    a|b,c,0.2,0.5,1.0,0.6000000000000001,2,4,5,10
    """
    written = 0
    if fmt == "csv":
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(_COLUMNS)
        for rule in rules:
            record = rule.to_record()
            record["antecedents"] = ANTECEDENT_SEPARATOR.join(rule.antecedents)
            writer.writerow([_csv_value(record[column]) for column in _COLUMNS])
            written += 1
        return written
    encoder = msgspec.json.Encoder()
    for rule in rules:
        sink.write(encoder.encode(rule.to_record()).decode())
        sink.write("\n")
        written += 1
    return written


def _csv_value(value: object) -> object:
    # repr() of a float is its shortest round-trip form, as in the JSON output.
    return repr(value) if isinstance(value, float) else value
