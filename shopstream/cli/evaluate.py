"""``shopstream evaluate``: how good each recommender is on real sessions.

Replays a sessions CSV (see :mod:`shopstream.evaluation.replay`): every recommender
learns the earlier sessions, then predicts the next item of each later session from its
prefix, under the static protocol of the session-based recommendation literature
(``--protocol static``, the default) or as the pipeline would, learning as it goes
(``--protocol online``). ``--tune`` learns the blend's weights on a validation split of
the training sessions first (``--tune-memory``: and the counts' half-life; ``--blend-knn``:
the blend may weigh session k-NN, offline only). Prints a table and writes the JSON report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from shopstream.errors import ConfigError, DatasetError
from shopstream.evaluation.harness import REPORT_NAMES
from shopstream.evaluation.replay import PROTOCOLS, EvaluationConfig, evaluate
from shopstream.evaluation.sessions import load_sessions
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.suite import RecommendConfig

__all__ = ["format_report", "parse_weights", "register"]

_STRATEGIES = frozenset(REPORT_NAMES) - {"VIEW_BASED"}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="measure every recommender on a sessions CSV (HR@K, MRR@K, coverage, latency)",
        description="Replay sessions: every recommender (each strategy, the session k-NN "
                    "baseline and the blend) learns the earlier sessions, then predicts the "
                    "next item of each held-out session from its prefix. The CSV has the "
                    "header session_id,timestamp,item[,user_id,event_type]; `shopstream "
                    "datasets fetch instacart` and `datasets fetch movielens-100k` write "
                    "them from real data.",
    )
    parser.add_argument("--sessions", required=True, type=Path, metavar="FILE.csv",
                        help="sessions to replay")
    parser.add_argument("--k", type=int, default=20, help="list length (default 20)")
    parser.add_argument("--test-fraction", type=float, default=0.2, metavar="F",
                        help="share of the latest sessions held out (default 0.2)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="static",
                        help="static: train once, frozen models, unseen test items dropped "
                             "(session-rec); online: replay the test in event time, "
                             "learning as it goes (default static)")
    parser.add_argument("--tune", action="store_true",
                        help="learn the blend weights on a validation split of the "
                             "training sessions first")
    parser.add_argument("--tune-memory", action="store_true",
                        help="with --tune, also choose the half-life of the learned counts "
                             "(14 days, 90 days, a year, never) on the validation split")
    parser.add_argument("--blend-knn", action="store_true",
                        help="with --tune, let the blend weigh the session k-NN baseline "
                             "(VIEW_BASED; offline only: the pipeline cannot serve it)")
    parser.add_argument("--max-test-sessions", type=int, metavar="N",
                        help="evaluate only the first N held-out sessions (quick runs)")
    parser.add_argument("--weights", metavar="S=W,...",
                        help="blend weights, e.g. CO_OCCURRENCE=1,NEXT_ITEM=0.5 (strategies: "
                             f"{', '.join(sorted(_STRATEGIES))}); default: the built-in ones")
    parser.add_argument("--variant", default="default", help="name of this blend variant")
    parser.add_argument("--output", type=Path, metavar="report.json",
                        help="also write the report as JSON here")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_run)


def parse_weights(text: str, option: str = "--weights") -> tuple[tuple[str, float], ...]:
    """``"PERSONAL=1,NEXT_ITEM=0.1"`` as blend weights; a clear error for anything else
    (``VIEW_BASED``, the session k-NN baseline, needs the whole session index: it is
    not a servable weight, only ``--tune --blend-knn`` may weigh it, offline).

    Examples
    --------
    >>> parse_weights("personal=1, next_item=0.25")
    (('PERSONAL', 1.0), ('NEXT_ITEM', 0.25))
    """
    weights = []
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip().upper()
        if not sep or name not in _STRATEGIES:
            msg = (f"{option}: {part.strip()!r} is not STRATEGY=WEIGHT with a strategy of "
                   f"{', '.join(sorted(_STRATEGIES))}")
            raise ConfigError(msg)
        try:
            weights.append((name, float(value)))
        except ValueError:
            msg = f"{option}: the weight of {name} is not a number: {value.strip()!r}"
            raise ConfigError(msg) from None
    return tuple(weights)


def format_report(report: dict[str, Any]) -> str:
    """The report as a fixed-width table, best HR first."""
    k = report["k"]
    rows = sorted(report["recommenders"].items(), key=lambda item: -item[1]["hr"])
    base = report["recommenders"]["popularity"]["hr"] or float("nan")
    lines = [f"protocol {report['protocol']}: {report['sessions']['train']:,} training "
             f"sessions, {report['sessions']['test']:,} test sessions, "
             f"{report['predictions']:,} predictions ({report['skipped']:,} targets "
             f"excluded by the context), catalog {report['catalog']:,} products"]
    if report["rules"]["note"]:
        lines.append(f"rules: {report['rules']['count']:,} ({report['rules']['note']})")
    if report.get("tuning"):
        tuning = report["tuning"]
        lines.append(f"tuned on {tuning['predictions']:,} validation predictions: HR "
                     f"{tuning['hr_before']} -> {tuning['hr_after']}, weights "
                     + ", ".join(f"{s}={w:g}" for s, w in tuning["weights"].items())
                     + ("; counts never decay" if tuning["half_life_days"] == "never"
                        else f"; counts half-life {tuning['half_life_days']} days"))
    lines.append(f"{'recommender':<16}{'HR@' + str(k):>8}{'MRR@' + str(k):>9}"
                 f"{'coverage':>10}{'x popularity':>14}{'ms median':>11}{'ms p99':>9}")
    for name, r in rows:
        lines.append(f"{name:<16}{r['hr']:>8.4f}{r['mrr']:>9.4f}{r['coverage']:>10.4f}"
                     f"{r['hr'] / base:>14.2f}{r['latency_ms_median']:>11.3f}"
                     f"{r['latency_ms_p99']:>9.3f}")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    blend = BlendConfig(variant=args.variant) if args.weights is None else BlendConfig(
        weights=parse_weights(args.weights), variant=args.variant)
    config = EvaluationConfig(k=args.k, test_fraction=args.test_fraction,
                              protocol=args.protocol, recommend=RecommendConfig(blend=blend),
                              max_test_sessions=args.max_test_sessions, tune=args.tune,
                              tune_memory=args.tune_memory, blend_knn=args.blend_knn)
    sessions = load_sessions(args.sessions)
    if len(sessions) < 2:
        msg = f"{args.sessions}: {len(sessions)} sessions; at least 2 are needed to split"
        raise DatasetError(msg)
    with tqdm(unit="events", disable=args.no_progress, file=sys.stderr,
              desc="training") as bar:
        def begin(total: int) -> None:
            bar.reset(total=total)
            bar.set_description("test")

        def advance(done: int) -> None:
            bar.update(done)

        report = evaluate(sessions, config, progress=advance, start=begin)
    if args.output is not None:
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            msg = f"cannot write {str(args.output)!r}: {exc.strerror}"
            raise DatasetError(msg) from None
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
