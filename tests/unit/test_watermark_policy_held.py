"""Which watermark policies the runners can hold is decided in one place, the topology
(``WatermarkPolicy.held`` / ``Topology.held_kinds``): the embedded engine and the Flink
runner's check refuse the same policies for the same reason."""

from __future__ import annotations

import pytest

from shopstream.errors import ConfigError
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.flink.errors import FlinkUnsupportedError
from shopstream.runners.flink.support import check_supported
from shopstream.topology import CATALOG_POLICY, Topology, WatermarkPolicy


def _policy(moves: bool, late: bool) -> WatermarkPolicy:
    return WatermarkPolicy("account-changes", frozenset({"CUSTOMER_CHANGE"}),
                           moves_watermark=moves, may_be_late=late)


def test_only_a_policy_that_neither_moves_the_watermark_nor_is_late_is_held() -> None:
    assert CATALOG_POLICY.held
    assert [_policy(m, late).held for m, late in [(True, False), (False, True), (True, True)]
            ] == [False, False, False]
    assert Topology((), ()).held_kinds("embedded") == dict.fromkeys(
        CATALOG_POLICY.kinds, CATALOG_POLICY.stream)


@pytest.mark.parametrize(("moves", "late"), [(True, False), (False, True)])
def test_both_runners_refuse_an_unheld_policy_with_the_same_reason(moves: bool,
                                                                   late: bool) -> None:
    topology = Topology((), (), watermark_policies=(_policy(moves, late),))
    with pytest.raises(ConfigError) as embedded:
        Engine(topology, 0, lambda out: None)
    with pytest.raises(FlinkUnsupportedError) as flink:
        check_supported(topology)
    reason = str(embedded.value).replace("the embedded runner", "the {} runner")
    assert str(flink.value).replace("the Flink runner", "the {} runner") == reason
    assert f"moves_watermark={moves}, may_be_late={late}" in reason
    assert "'account-changes'" in reason
