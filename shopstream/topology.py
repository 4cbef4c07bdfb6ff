"""How operators are wired: which stream feeds which operator, keyed how.

A :class:`Topology` is plain data that every runner reads the same way; ``pipeline.py``
builds the default one. Besides the wiring it declares what runners must honour rather
than code for one engine (issue #14's engine-neutral contract):

* per stage, whether the operator needs each key's input in event-time order
  (:attr:`Stage.event_time_order`) and a stable :attr:`Stage.uid` for its state;
* per source, how its records move event time (:class:`WatermarkPolicy`): shopper events
  move the watermark and may be late; catalog changes never move it and are never late.

Examples
--------
>>> from shopstream.operators.baskets import BasketTracker
>>> stage = Stage(BasketTracker(), inputs=("events",), key_by=lambda e: e.session_id)
>>> topology = Topology((stage,), sink_streams=("basket-completions",))
>>> topology.stage_names(), stage.uid, stage.event_time_order
(('baskets',), 'baskets', True)
>>> policy = topology.policy_for("PRODUCT_CHANGE")
>>> policy.stream, policy.moves_watermark, policy.may_be_late
('catalog-changes', False, False)
>>> topology.policy_for("VIEW_PRODUCT") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.model import CATALOG_KINDS
from shopstream.state.operator import KeyedOperator

__all__ = ["CATALOG_POLICY", "Stage", "Topology", "WatermarkPolicy"]

_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class Stage:
    """One operator and where its input comes from.

    ``inputs`` are streams whose records reach :meth:`KeyedOperator.process_element`,
    partitioned by ``key_by``; ``broadcast_inputs`` are streams whose records reach
    :meth:`KeyedOperator.process_broadcast` unkeyed (read-only reference data, applied by
    event time: an update stamped ``t`` is seen by elements at or after ``t``). A global
    operator uses a constant key.

    ``event_time_order`` (default ``True``): the operator needs each key's elements in
    event-time order, with its due timers fired before a later element. Every runner
    honours it (the embedded runner orders all input; Flink buffers each key's elements in
    keyed state until the watermark passes them). ``False`` declares that the operator
    copes with arrival order within the watermark bound itself, so a runner may hand
    elements over as they arrive (Flink then skips the per-key buffer).

    ``uid``: the stage's stable identity for state (Flink's operator uid, which savepoints
    are matched by; default: the operator's name). Keep it when renaming an operator class
    so that a savepoint still restores.
    """

    operator: KeyedOperator[Any]
    inputs: tuple[str, ...]
    key_by: Callable[[Any], str]
    broadcast_inputs: tuple[str, ...] = ()
    event_time_order: bool = True
    uid: str = ""

    def __post_init__(self) -> None:
        if not self.uid:
            object.__setattr__(self, "uid", self.operator.name)
        if not _UID.fullmatch(self.uid):
            msg = (f"stage {self.name!r}: uid must be 1-100 letters, digits, '.', '_' or '-' "
                   f"starting with a letter or digit, got {self.uid!r}")
            raise ConfigError(msg)

    @property
    def name(self) -> str:
        return self.operator.name


@dataclass(frozen=True)
class WatermarkPolicy:
    """How records of some event types move event time, declared once for every runner.

    Parameters
    ----------
    stream
        The stream such records go to (instead of ``events``).
    kinds
        The event types the policy applies to.
    moves_watermark
        Whether their timestamps advance the watermark.
    may_be_late
        Whether one at or behind the watermark is late (``late-events``); if not, it takes
        effect just after the watermark (its effective time is ``max(t, watermark + 1)``).
    """

    stream: str
    kinds: frozenset[str]
    moves_watermark: bool
    may_be_late: bool

    @property
    def held(self) -> bool:
        """Whether its records are reference data a runner holds and releases in event
        time: they neither move the watermark nor are late (the only kind of policy the
        runners support today)."""
        return not (self.moves_watermark or self.may_be_late)


#: Catalog and account changes: reference data on ``catalog-changes``, released in event
#: time before events of the same time, never moving the watermark and never late.
CATALOG_POLICY = WatermarkPolicy(streams.CATALOG_CHANGES, frozenset(CATALOG_KINDS),
                                 moves_watermark=False, may_be_late=False)


@dataclass(frozen=True)
class Topology:
    """Stages in the order they were declared, the streams written to sinks, and the
    source's watermark policies (event types not named by one are shopper events on
    ``events``: they move the watermark and may be late)."""

    stages: tuple[Stage, ...]
    sink_streams: tuple[str, ...]
    watermark_policies: tuple[WatermarkPolicy, ...] = (CATALOG_POLICY,)

    def __post_init__(self) -> None:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"topology: operator names must be unique, repeated: {dupes}"
            raise ConfigError(msg)
        uids = [s.uid for s in self.stages]
        dupes = sorted({u for u in uids if uids.count(u) > 1})
        if dupes:
            msg = f"topology: stage uids must be unique, repeated: {dupes}"
            raise ConfigError(msg)
        kinds = [k for p in self.watermark_policies for k in p.kinds]
        dupes = sorted({k for k in kinds if kinds.count(k) > 1})
        if dupes:
            msg = f"topology: an event type may follow one watermark policy, repeated: {dupes}"
            raise ConfigError(msg)

    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def held_kinds(self, runner: str) -> dict[str, str]:
        """Event type -> stream of the watermark policies, for ``runner`` (its name, for
        the message), which holds such records as reference data (see
        :attr:`WatermarkPolicy.held`). A policy that moves the watermark or may be late
        raises :class:`~shopstream.errors.ConfigError` (no topology declares one).

        Examples
        --------
        >>> Topology((), ()).held_kinds("embedded")["PRODUCT_CHANGE"]
        'catalog-changes'
        >>> moving = WatermarkPolicy("accounts", frozenset({"CUSTOMER_CHANGE"}), True, False)
        >>> Topology((), (), (moving,)).held_kinds("embedded")
        Traceback (most recent call last):
        ...
        shopstream.errors.ConfigError: the embedded runner supports watermark policies \
that neither move the watermark nor are late; the policy of 'accounts' has \
moves_watermark=True, may_be_late=False
        """
        held: dict[str, str] = {}
        for policy in self.watermark_policies:
            if not policy.held:
                msg = (f"the {runner} runner supports watermark policies that neither move "
                       f"the watermark nor are late; the policy of {policy.stream!r} has "
                       f"moves_watermark={policy.moves_watermark}, "
                       f"may_be_late={policy.may_be_late}")
                raise ConfigError(msg)
            held.update(dict.fromkeys(policy.kinds, policy.stream))
        return held

    def policy_for(self, event_type: str) -> WatermarkPolicy | None:
        """The watermark policy of ``event_type`` (``None``: a shopper event)."""
        for policy in self.watermark_policies:
            if event_type in policy.kinds:
                return policy
        return None
