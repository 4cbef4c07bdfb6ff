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
        """Take a read-only shared input (rules, trending, ...) published to every key.

        ``ctx.key`` is empty here: broadcast input is not keyed. Operators store what they
        need from it in plain attributes that are snapshotted with :meth:`snapshot_broadcast`.
        """
        return ()

    def snapshot_broadcast(self) -> Any:
        """What this operator holds from broadcasts, for a checkpoint (``None``: nothing)."""
        return None

    def restore_broadcast(self, snapshot: Any) -> None:
        """Put back what :meth:`snapshot_broadcast` returned."""
