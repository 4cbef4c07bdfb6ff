"""Raw reads (shopstream.stores.raw) and the hot answers spliced from them: the same
bytes as decoding every stored value and encoding the answer, for any JSON value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.api.hot_reads import HotReads
from shopstream.api.profiles_routes import profile_answer, profile_body
from shopstream.api.store_routes import recommendations_answer, user_features_answer
from shopstream.operators.feature_catalog import USER_FEATURES
from shopstream.stores.base import StoreEntry
from shopstream.stores.embedded import SqliteStore
from shopstream.stores.raw import raw_many, raw_one

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class _Plain:
    """A store without raw reads: raw_many encodes what get_many gives."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner

    def get_many(self, keys: list[str]) -> list[Any]:
        return self.inner.get_many(keys)


def test_raw_reads_skip_expired_and_absent_values(tmp_path: Path) -> None:
    clock = _Clock()
    store = SqliteStore(tmp_path / "s.db", clock=clock)
    store.write_batch([StoreEntry("a", 1, 10.0), StoreEntry("b", [2], None),
                       StoreEntry("user:u1:x", "v", 5.0)])
    assert raw_many(store, ["a", "b", "c"]) == [b"1", b"[2]", None]
    clock.now += 6
    many = ["user:u1:x", "user:u1:y", "user:u1:z", "user:u1:w"]  # the range-scan read
    assert raw_many(store, many) == [None] * 4
    assert raw_one(store, "user:u1:x") is None and raw_one(store, "a") == b"1"
    clock.now += 5
    assert raw_many(store, ["a", "b"]) == [None, b"[2]"]
    assert raw_many(store, []) == []


@settings(max_examples=60, deadline=None)
@given(values=st.lists(_json, min_size=len(USER_FEATURES), max_size=len(USER_FEATURES)),
       missing=st.sets(st.integers(0, len(USER_FEATURES) - 1)), recs=_json, profile=_json)
def test_spliced_answers_equal_decoded_and_encoded_answers(
        tmp_path_factory: Any, values: list[Any], missing: set[int], recs: Any,
        profile: Any) -> None:
    store = SqliteStore(tmp_path_factory.mktemp("raw") / "s.db")
    store.write_batch([StoreEntry(f"user:u1:{name}", value)
                       for i, (name, value) in enumerate(zip(USER_FEATURES, values, strict=True))
                       if i not in missing]
                      + [StoreEntry("recs:session:s1", recs),
                         StoreEntry("profile:user:u1", profile)])
    encode = msgspec.json.encode
    stored = store.get_many([f"user:u1:{name}" for name in USER_FEATURES])
    features = (200, encode({"userId": "u1", "features": dict(zip(USER_FEATURES, stored,
                                                                   strict=True))}))
    if all(v is None for v in stored):
        features = (404, encode({"detail": "no features stored for user 'u1'"}))
    assert user_features_answer(store, "u1") == features
    assert user_features_answer(_Plain(store), "u1") == features  # type: ignore[arg-type]
    stored_recs = store.get("recs:session:s1")
    assert recommendations_answer(store, "s1") == (
        (200, encode({"sessionId": "s1", "recommendations": stored_recs}))
        if stored_recs is not None else (404, encode({
            "detail": "no recommendations stored for session 's1' (key recs:session:s1)"})))
    status, body = profile_answer(store, "u1")
    assert profile_body(store, "u1") == (status, encode(body))
    assert HotReads(store).answer("/users/u1/profile") == (status, encode(body))
    store.close()


def test_hot_reads_know_only_their_routes(tmp_path: Path) -> None:
    reads = HotReads(SqliteStore(tmp_path / "s.db"))
    for path in ("/users/u1/features/x", "/users//features", "/users/u1/recommendations",
                 "/products/p1/related", "users/u1/features/", "/"):
        assert reads.answer(path) is None, path
    assert reads.answer("/users/u1/features") == (
        404, b'{"detail":"no features stored for user \'u1\'"}')
