"""Whose is a store key: the rule every store uses to erase one shopper's entries.

Store keys name one entity in one of three shapes (:mod:`shopstream.stores.keys`):
``kind:ID:part`` (``user:u1:orders_count_24hr``, ``session:s1:session_bounce``),
``kind:sub:ID`` (``recs:session:s1``, ``profile:user:u1``, the jobs' ``recs:user:u1``)
``kind:ID``, and the feature groups' ``features:kind:ID:group``. A key
belongs to an id when the id fills the ID slot of one of these shapes exactly, so an id
is never matched inside another (``u1`` in ``u10``) nor across a colon it contains (``a``
does not own the keys of ``a:b``).

Examples
--------
>>> owners = frozenset({"u1", "a:b"})
>>> [key_owned("user:u1:x", owners), key_owned("user:u10:x", owners),
...  key_owned("recs:session:u1", owners), key_owned("user:a:b:x", owners)]
[True, False, True, True]
>>> key_owned("recs:user:u1", owners), key_owned("recs:user:u10", owners)
(True, False)
>>> key_owned("user:a:b:x", frozenset({"a"})), key_owned("recs:session:a:b", frozenset({"b"}))
(False, False)
>>> [key_owned(k, owners) for k in ("features:user:u1:5min", "features:user:a:b:1hr",
...                                 "features:user:u10:5min", "features:session:x:u1")]
[True, True, False, False]
"""

from __future__ import annotations

__all__ = ["key_owned"]


def key_owned(key: str, ids: frozenset[str]) -> bool:
    """Whether ``key`` is one of ``ids``'s keys (see the module's shapes)."""
    kind, sep, rest = key.partition(":")
    if not sep:
        return False
    if kind == "features":  # features:kind:ID:group, the group without a colon
        head = rest.partition(":")[2].rpartition(":")[0]
        return head in ids
    if rest in ids:  # kind:ID
        return True
    # kind:ID:part, the part without a colon
    head, sep, _ = rest.rpartition(":")
    if sep and head in ids:
        return True
    # kind:sub:ID, the sub without a colon
    sub, sep, tail = rest.partition(":")
    return bool(sep) and tail in ids and ":" not in sub
