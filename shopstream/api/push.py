"""WebSocket pushes: who subscribed to which session or user, and what reaches them.

The pipeline thread calls :meth:`PushHub.publish` with every output; the hub picks the
outputs a client asked for (recommendations, alerts and feature updates of a session or
a user) and hands them to the event loop, which sends them.

What a message looks like and whom it concerns is :mod:`shopstream.events.fanout`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from shopstream.events.fanout import KINDS, PUSHED, message, targets
from shopstream.events.records import Output

__all__ = ["KINDS", "PushHub", "message", "targets"]

Send = Callable[[dict[str, Any]], None]


class PushHub:
    """Subscriptions of the connected WebSocket clients."""

    def __init__(self) -> None:
        self._subs: dict[tuple[str, str], set[asyncio.Queue[dict[str, Any]]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.pushed = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the clients' queues belong to."""
        self._loop = loop

    def subscribe(self, kind: str, ident: str, inbox: asyncio.Queue[dict[str, Any]]) -> None:
        self._subs.setdefault((kind, ident), set()).add(inbox)

    def unsubscribe(self, kind: str, ident: str, inbox: asyncio.Queue[dict[str, Any]]) -> None:
        inboxes = self._subs.get((kind, ident))
        if inboxes is not None:
            inboxes.discard(inbox)
            if not inboxes:
                del self._subs[(kind, ident)]

    def drop(self, inbox: asyncio.Queue[dict[str, Any]]) -> None:
        """Forget every subscription of one client."""
        for target in [t for t, boxes in self._subs.items() if inbox in boxes]:
            self.unsubscribe(*target, inbox)

    @property
    def subscriptions(self) -> int:
        return sum(len(boxes) for boxes in self._subs.values())

    def publish(self, out: Output) -> None:
        """Called from the pipeline thread with every output."""
        if not self._subs or self._loop is None or out.stream not in PUSHED:
            return
        inboxes = [box for target in targets(out) for box in tuple(self._subs.get(target, ()))]
        if inboxes:
            payload = message(out)
            self.pushed += len(inboxes)
            for box in inboxes:
                self._loop.call_soon_threadsafe(_offer, box, payload)


def _offer(box: asyncio.Queue[dict[str, Any]], payload: dict[str, Any]) -> None:
    # A client that stopped reading loses pushes rather than growing memory forever.
    if box.qsize() < 1_000:
        box.put_nowait(payload)
