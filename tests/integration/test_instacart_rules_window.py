"""The sliding-window rule miner at a low support with a lift filter on the real
Instacart sample, compared with batch mining (see ``test_instacart_rules.py``; this check
is the longest of them, in a module of its own so that ``--dist loadscope`` runs it on
the other pytest worker)."""

from __future__ import annotations

import pytest
from test_instacart_rules import _slide_and_compare

from shopstream.mining.config import RulesConfig


@pytest.mark.slow
def test_sliding_window_equals_batch_low_support(
        instacart_baskets: list[tuple[str, ...]]) -> None:
    stream = instacart_baskets[5_000:6_400]
    assert _slide_and_compare(stream, RulesConfig(0.008, 0.25, 1.0, 3), 1_000) >= 14
