"""Removing one shopper from operator state: a running engine's or a checkpoint's.

Works on the plain data of :meth:`Engine.snapshot
<shopstream.runners.embedded.engine.Engine.snapshot>` (what a checkpoint holds), for any
operator, without knowing it (the profile operator included):

1. **Their keys go.** In every stage and state descriptor, the entries keyed by one of
   the ids (stages keyed by user: features, recommendations, fraud, profiles) are
   dropped, and so are the entries of their *sessions*: a key whose state value records
   one of the ids in a top-level ``user_id`` field (the basket and abandonment state
   keyed by session), together with every other stage's entry under that session key
   (session features). Their timers go with them.
2. **Their mentions elsewhere are replaced.** Shared state that mentions an id or one of
   their sessions (the customers of an open revenue window, a device's evidence of
   several customers, the recent products of their sessions in a pair learner) keeps its
   shape: a dictionary entry keyed by one of them is dropped, and any other string equal
   to one of them becomes a tombstone ``erased-<random>`` (one per erasure, so counts of
   distinct customers stay right). State that cannot be rebuilt that way is dropped for
   that key.
3. **Their buffered events go**: events waiting for the watermark, and account changes.

Mentions are found by pickling a value and looking for the id as a whole pickled string,
so an id is never matched inside another (``u1`` in ``u10``). Cost: one pass over all
state (pickling each value once), as a checkpoint does; an erasure is rare.

Examples
--------
>>> from shopstream.operators.baskets import SessionInfo
>>> snap = {"buffer": [], "catalog": [], "timers": {"heap": [(9, 1, 0, "s1")], "seq": 1},
...         "stages": {
...     "baskets": {"state": {"session": {"s1": SessionInfo("ann", 5), "s2": SessionInfo("bo", 6)}},
...                 "broadcast": None},
...     "features": {"state": {"stats": {"ann": 1, "s1": 2, "bo": 3}}, "broadcast": None},
...     "revenue": {"state": {"open": {"global": {"customers": ["ann", "bo"]}}},
...                 "broadcast": None}}}
>>> result = scrub_engine_snapshot(snap, frozenset({"ann"}), tombstone="erased-x")
>>> sorted(result.snapshot["stages"]["baskets"]["state"]["session"])
['s2']
>>> result.snapshot["stages"]["features"]["state"]["stats"]
{'bo': 3}
>>> result.snapshot["stages"]["revenue"]["state"]["open"]["global"]["customers"]
['erased-x', 'bo']
>>> sorted(result.sessions), result.keys_removed, result.timers_removed
(['s1'], 3, 1)
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import struct
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

__all__ = ["ScrubResult", "mention_patterns", "mentions", "new_tombstone", "replace_ids",
           "scrub_engine_snapshot"]


def new_tombstone() -> str:
    """A fresh stand-in for an erased id: random, so it identifies nobody.

    >>> new_tombstone().startswith("erased-"), new_tombstone() != new_tombstone()
    (True, True)
    """
    return "erased-" + uuid.uuid4().hex[:16]


def mention_patterns(ids: Iterable[str]) -> tuple[bytes, ...]:
    """The bytes each of ``ids`` becomes as a whole string in a pickle (protocol >= 4).

    >>> mention_patterns(["ab"])
    (b'\\x8c\\x02ab', b'X\\x02\\x00\\x00\\x00ab')
    """
    out: list[bytes] = []
    for one in ids:
        data = one.encode("utf-8", "surrogatepass")
        if len(data) < 256:
            out.append(b"\x8c" + bytes([len(data)]) + data)
        out.append(b"X" + struct.pack("<I", len(data)) + data)
    return tuple(out)


def mentions(value: Any, patterns: tuple[bytes, ...]) -> bool:
    """Whether ``value`` holds a string equal to one of the ids of ``patterns``.

    >>> p = mention_patterns(["u1"])
    >>> mentions({"a": ["u1"]}, p), mentions({"a": ["u10"]}, p), mentions(1, p)
    (True, False, False)
    """
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an unpicklable value cannot be in a checkpoint either
        return False
    return any(p in data for p in patterns)


def replace_ids(value: Any, ids: frozenset[str], tombstone: str) -> Any:
    """``value`` rebuilt without ``ids``: dictionary entries keyed by one of them are
    dropped, other strings equal to one of them become ``tombstone`` (containers,
    deques, msgspec structs, dataclasses and plain objects; the original is not
    modified).

    >>> replace_ids({"u1": 1, "k": ("u1", "v"), "s": {"u1"}}, frozenset({"u1"}), "x")
    {'k': ('x', 'v'), 's': {'x'}}
    """
    return _replace(value, ids, tombstone, {})


def _replace(value: Any, ids: frozenset[str], stone: str, seen: dict[int, Any]) -> Any:
    if isinstance(value, str):
        return stone if value in ids else value
    if value is None or isinstance(value, int | float | bytes | bool):
        return value
    found = seen.get(id(value))
    if found is not None:
        return found
    out: Any
    if isinstance(value, dict):
        out = type(value)() if type(value) is not dict else {}
        seen[id(value)] = out
        for k, v in value.items():
            if isinstance(k, str) and k in ids:
                continue
            out[_replace(k, ids, stone, seen)] = _replace(v, ids, stone, seen)
        return out
    if isinstance(value, list):
        out = [_replace(v, ids, stone, seen) for v in value]
    elif isinstance(value, deque):
        out = deque((_replace(v, ids, stone, seen) for v in value), maxlen=value.maxlen)
    elif isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
        out = type(value)(*(_replace(v, ids, stone, seen) for v in value))
    elif isinstance(value, tuple):
        out = tuple(_replace(v, ids, stone, seen) for v in value)
    elif isinstance(value, set | frozenset):
        out = type(value)(_replace(v, ids, stone, seen) for v in value)
    elif isinstance(value, msgspec.Struct):
        changes = {}
        for name in value.__struct_fields__:
            old = getattr(value, name)
            new = _replace(old, ids, stone, seen)
            if new is not old:
                changes[name] = new
        out = msgspec.structs.replace(value, **changes) if changes else value
    else:
        out = _replace_object(value, ids, stone, seen)
    seen[id(value)] = out
    return out


def _replace_object(value: Any, ids: frozenset[str], stone: str, seen: dict[int, Any]) -> Any:
    """A copy of a plain object (``__dict__`` or ``__slots__``) with its attributes replaced;
    ``value`` itself when it has none we can see (it is then checked and dropped)."""
    names: list[str] = []
    if dataclasses.is_dataclass(value):
        names = [f.name for f in dataclasses.fields(value)]
    elif hasattr(value, "__dict__"):
        names = list(vars(value))
    for klass in type(value).__mro__:
        names.extend(n for n in getattr(klass, "__slots__", ()) if n not in names)
    if not names:
        return value
    out = copy.copy(value)
    seen[id(value)] = out
    for name in names:
        if not hasattr(value, name):
            continue
        old = getattr(value, name)
        new = _replace(old, ids, stone, seen)
        if new is not old:
            object.__setattr__(out, name, new)
    return out


@dataclass
class ScrubResult:
    """The scrubbed snapshot and what was taken out of it."""

    snapshot: dict[str, Any]
    sessions: set[str] = field(default_factory=set)
    keys_removed: int = 0
    values_rewritten: int = 0
    timers_removed: int = 0
    events_removed: int = 0
    per_stage: dict[str, int] = field(default_factory=dict)
    #: Stages whose broadcast state still names them (a shape that cannot be rebuilt).
    unscrubbed: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counts, for the erasure log."""
        return {"keysRemoved": self.keys_removed, "valuesRewritten": self.values_rewritten,
                "timersRemoved": self.timers_removed, "eventsRemoved": self.events_removed,
                "sessions": len(self.sessions)}


def scrub_engine_snapshot(snapshot: dict[str, Any], ids: frozenset[str],
                          sessions: Iterable[str] = (), tombstone: str | None = None,
                          ) -> ScrubResult:
    """A copy of an engine ``snapshot`` without the shopper of ``ids`` (raw and/or
    pseudonymised user ids); ``sessions`` are session ids already known to be theirs.

    The input snapshot is not modified (a live engine's snapshot shares its dicts).
    """
    stone = tombstone or new_tombstone()
    stages: dict[str, Any] = snapshot["stages"]
    result = ScrubResult(snapshot=dict(snapshot), sessions=set(sessions))
    _find_sessions(snapshot, ids, result.sessions)
    gone = ids | frozenset(result.sessions)
    patterns = mention_patterns(gone)
    result.snapshot["stages"] = {name: _scrub_stage(name, saved, gone, patterns, stone, result)
                                 for name, saved in stages.items()}
    timers = snapshot.get("timers")
    if timers is not None:
        heap = [entry for entry in timers["heap"] if entry[3] not in gone]
        result.timers_removed = len(timers["heap"]) - len(heap)
        result.snapshot["timers"] = {**timers, "heap": heap}
    for part in ("buffer", "catalog"):
        entries = snapshot.get(part)
        if entries is None:
            continue
        kept_events = [e for e in entries
                       if e[2].user_id not in ids and e[2].session_id not in gone]
        result.events_removed += len(entries) - len(kept_events)
        result.snapshot[part] = kept_events
    return result


def _find_sessions(snapshot: dict[str, Any], ids: frozenset[str], sessions: set[str]) -> None:
    """Add to ``sessions`` their sessions: keys whose value names them in a top-level
    ``user_id``, and the sessions of their buffered events."""
    for saved in snapshot["stages"].values():
        for per_key in saved["state"].values():
            for key, value in per_key.items():
                if getattr(value, "user_id", None) in ids:
                    sessions.add(key)
    for _, _, event in snapshot.get("buffer", ()):
        if event.user_id in ids:
            sessions.add(event.session_id)


def _scrub_stage(name: str, saved: dict[str, Any], gone: frozenset[str],
                 patterns: tuple[bytes, ...], stone: str, result: ScrubResult,
                 ) -> dict[str, Any]:
    """One stage's saved state without the keys of ``gone`` and with the values that
    mention them rewritten (dropped when they cannot be); counted in ``result``."""
    state: dict[str, dict[str, Any]] = {}
    removed = 0
    for descriptor, per_key in saved["state"].items():
        kept: dict[str, Any] = {}
        for key, value in per_key.items():
            if key in gone:
                removed += 1
                continue
            if mentions(value, patterns):
                value = replace_ids(value, gone, stone)
                if mentions(value, patterns):  # a shape we cannot rebuild: drop it
                    removed += 1
                    continue
                result.values_rewritten += 1
            kept[key] = value
        state[descriptor] = kept
    broadcast = saved.get("broadcast")
    if broadcast is not None and mentions(broadcast, patterns):
        broadcast = replace_ids(broadcast, gone, stone)
        result.values_rewritten += 1
        if mentions(broadcast, patterns):
            result.unscrubbed.append(name)
    result.keys_removed += removed
    result.per_stage[name] = removed
    return {**saved, "state": state, "broadcast": broadcast}
