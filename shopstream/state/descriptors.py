"""State descriptors: an operator declares each piece of keyed state it keeps.

A runner creates the storage behind a descriptor; the operator only sees the
:mod:`shopstream.state.protocols` views bound to the current key.

Examples
--------
>>> from shopstream.state.descriptors import MapStateDescriptor, ValueStateDescriptor
>>> ValueStateDescriptor[int]("count").name
'count'
>>> MapStateDescriptor[str, int]("basket")
MapStateDescriptor(name='basket')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ListStateDescriptor", "MapStateDescriptor", "StateDescriptor",
           "ValueStateDescriptor"]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


# eq=False: descriptors hash by identity, which keeps ``ctx.state(descriptor)`` a cheap
# dictionary hit on the hot path; runners store the data under ``name``.
@dataclass(frozen=True, eq=False)
class StateDescriptor:
    """A named piece of keyed state; names are unique within one operator."""

    name: str


@dataclass(frozen=True, eq=False)
class ValueStateDescriptor(StateDescriptor, Generic[T]):
    """One value per key."""


@dataclass(frozen=True, eq=False)
class MapStateDescriptor(StateDescriptor, Generic[K, V]):
    """A map per key."""


@dataclass(frozen=True, eq=False)
class ListStateDescriptor(StateDescriptor, Generic[T]):
    """A list per key."""
