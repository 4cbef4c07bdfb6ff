"""The operator base class: pure, keyed, event-time logic with declared state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Generic, TypeVar

from shopstream.events.records import Output
from shopstream.state.descriptors import StateDescriptor
from shopstream.state.protocols import Context

__all__ = ["KeyedOperator"]

In = TypeVar("In")


class KeyedOperator(Generic[In]):
    """Base of every operator.

    Subclasses keep all their state in the descriptors listed in ``state_descriptors``
    (so a runner can snapshot and restore it), take a frozen ``...Config``, and never
    touch I/O or the wall clock: time is ``ctx.timestamp_ms`` and ``ctx.watermark_ms``.

    ``name`` names the operator in errors and in checkpoints.

    The engine-neutral contract (what every runner guarantees, and what an operator must
    not assume beyond it; ``tests/parity`` checks both runners against it):

    * per key, elements come in event-time order and a timer fires before any later
      element, when the stage declares ``event_time_order`` (the default; see
      :class:`~shopstream.topology.Stage`); otherwise in arrival order within the
      watermark bound, with ``ctx.watermark_ms`` the runner's watermark;
    * elements of one key with the same timestamp may come in any order when they come
      from different upstream keys or stages (a parallel engine interleaves them): the
      results must not depend on it (break ties by value, not by arrival);
    * state may be held serialised (Flink keeps it as bytes): a value changed in place
      must be written back with ``update`` before the call returns;
    * broadcast inputs are read-only and applied by event time (see
      :meth:`process_broadcast`).
    """

    name: ClassVar[str] = "operator"
    state_descriptors: ClassVar[tuple[StateDescriptor, ...]] = ()

    def process_element(self, element: In, ctx: Context) -> Iterable[Output]:
        """Handle one element for ``ctx.key``; return the outputs it causes."""
        raise NotImplementedError

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        """Handle an event-time timer registered for ``ctx.key``."""
        return ()

    def process_broadcast(self, update: Any, ctx: Context) -> Iterable[Output]:
        """Take one update of a read-only shared input (published lists, rules, trending,
        catalog changes) that every parallel instance of the stage receives.

        ``ctx.timestamp_ms`` is the update's event time: the time of the upstream element
        or timer that emitted it (a catalog change: the time it takes effect). Every runner
        applies it after everything before that time and before any element or timer at
        or after it, so an element at ``t`` sees exactly the updates stamped at or before
        ``t``, whatever the interleaving of the inputs.

        A handler may read ``ctx.timestamp_ms`` and ``ctx.watermark_ms`` (``t - 1``)
        only: ``ctx.key`` is empty, and it must not use ``ctx.state`` or timers (Flink
        forbids keyed state and timers here; its runner raises). It returns no outputs
        (each parallel instance applies every update, so an output would repeat; Flink
        raises). What it keeps goes in plain attributes, snapshotted with
        :meth:`snapshot_broadcast`, and must depend only on the updates applied and their
        order, so that every instance holds the same.
        """
        return ()

    def snapshot_broadcast(self) -> Any:
        """What this operator holds from broadcasts, for a checkpoint (``None``: nothing)."""
        return None

    def restore_broadcast(self, snapshot: Any) -> None:
        """Put back what :meth:`snapshot_broadcast` returned."""
