"""The retrain publishes the profile part of its model to the hosted pipeline's Customer
360 operator: refitted thresholds and lifetime-value parameters, the last fitted ones
when it cannot refit them (and the run record says so), none when no version ever had
them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from ltv_history import bgnbd_shoppers

from shopstream.api.live import LivePipeline
from shopstream.events import ShopperEvent
from shopstream.jobs.config import JobsConfig, RetrainConfig
from shopstream.jobs.models import ModelRepository
from shopstream.jobs.publish import ModelPublisher
from shopstream.jobs.shop_jobs import ShopJobs
from shopstream.operators.profiles import CustomerProfileOperator
from shopstream.profiles.bgnbd import BgNbdParams
from shopstream.profiles.gamma_gamma import GammaGammaParams
from shopstream.profiles.segments import RfmConfig
from shopstream.stores.embedded import SqliteStore

T0 = 1_790_000_000_000
FAR = 2**62


def _history() -> list[ShopperEvent]:
    return sorted(bgnbd_shoppers(T0), key=lambda e: e.timestamp_ms)


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    events = tmp_path / "events.jsonl"
    encoder = msgspec.json.Encoder()
    events.write_bytes(b"".join(encoder.encode(e) + b"\n" for e in _history()))
    store = SqliteStore(str(tmp_path / "features.db"))
    live = LivePipeline(None)  # not started: the test applies what the thread would
    publisher = ModelPublisher(live)
    yield store, publisher, str(events)
    store.close()


def _jobs(store: SqliteStore, publisher: ModelPublisher, events: str,
          min_ltv_customers: int = 20) -> ShopJobs:
    config = JobsConfig(events=events, retrain=RetrainConfig(
        min_ltv_customers=min_ltv_customers))
    return ShopJobs(store, config, publisher)


def _operator(publisher: ModelPublisher) -> CustomerProfileOperator:
    [(_, operator)] = publisher.profile_stages
    assert isinstance(operator, CustomerProfileOperator)
    return operator


def test_a_retrain_publishes_its_fitted_models_and_thresholds(setup: Any) -> None:
    store, publisher, events = setup
    counts = _jobs(store, publisher, events).retrain(T0)
    assert (counts["ltv_fitted"], counts["published_profile_model"],
            counts["profile_ltv"]) == (1, 1, "fitted")
    operator = _operator(publisher)
    assert operator.models.at(FAR).version == 0  # queued, not applied yet
    publisher.apply_pending()
    model = ModelRepository(Path(store.url).with_name("features.models")).latest()
    assert model is not None
    in_force = operator.models.at(FAR)
    assert (in_force.version, publisher.profile_version, publisher.profile_models) == (1, 1, 1)
    assert in_force.churn.bgnbd == BgNbdParams(**model.ltv["bgnbd"])
    assert in_force.churn.gamma_gamma == GammaGammaParams(**model.ltv["gammaGamma"])
    assert in_force.rfm == RfmConfig(**model.segments)
    assert in_force.rfm != RfmConfig()  # refitted from the history, not the defaults
    manifest = json.loads((Path(store.url).with_name("features.models") / "v000001" /
                           "manifest.json").read_text())["lifetimeValue"]
    assert manifest["fitted"] is True
    assert (set(manifest["bgnbd"]), set(manifest["gammaGamma"])) == (
        {"r", "alpha", "a", "b"}, {"p", "q", "gamma"})


def test_a_retrain_that_cannot_fit_ltv_keeps_the_last_fitted_one(setup: Any) -> None:
    store, publisher, events = setup
    _jobs(store, publisher, events).retrain(T0)
    counts = _jobs(store, publisher, events, min_ltv_customers=1_000).retrain(T0 + 1)
    assert counts["ltv_fitted"] == 0 and counts["version"] == 2
    assert counts["profile_ltv"].startswith("previous (version 1): not refitted, ")
    assert "fewer than 1000" in counts["profile_ltv"]
    publisher.apply_pending()
    repo = ModelRepository(Path(store.url).with_name("features.models"))
    first, second = repo.load(1), repo.load(2)
    assert first is not None and second is not None
    assert second.ltv["previous"] == {"version": 1, "bgnbd": first.ltv["bgnbd"],
                                      "gammaGamma": first.ltv["gammaGamma"]}
    in_force = _operator(publisher).models.at(FAR)
    assert in_force.version == 2
    assert in_force.churn.bgnbd == BgNbdParams(**first.ltv["bgnbd"])
    assert in_force.rfm == RfmConfig(**second.segments)
    # A third that cannot fit either still finds version 1's (through version 2's).
    third = _jobs(store, publisher, events, min_ltv_customers=1_000).retrain(T0 + 2)
    assert third["profile_ltv"].startswith("previous (version 1)")


def test_without_any_fitted_version_the_static_ltv_stays(setup: Any) -> None:
    store, publisher, events = setup
    counts = _jobs(store, publisher, events, min_ltv_customers=1_000).retrain(T0)
    assert counts["profile_ltv"].startswith("static configuration: not refitted, ")
    publisher.apply_pending()
    in_force = _operator(publisher).models.at(FAR)
    assert in_force.version == 1
    assert in_force.churn.bgnbd is None and in_force.churn.gamma_gamma is None
    assert in_force.rfm != RfmConfig()


def test_without_a_profile_stage_nothing_is_published_to_profiles(tmp_path: Path) -> None:
    from shopstream.api.live import LiveConfig

    store = SqliteStore(str(tmp_path / "features.db"))
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in _history()))
    publisher = ModelPublisher(LivePipeline(None, LiveConfig(profiles=False)))
    try:
        counts = _jobs(store, publisher, str(events)).retrain(T0)
    finally:
        store.close()
    assert publisher.profile_stages == []
    assert counts["published_profile_model"] == 0 and counts["published_lists"] > 0


def test_a_restarted_service_publishes_the_newest_saved_profile_part(setup: Any) -> None:
    store, publisher, events = setup
    _jobs(store, publisher, events).retrain(T0)
    restarted = ModelPublisher(LivePipeline(None))
    assert _jobs(store, restarted, events).publish_latest() == 1
    restarted.apply_pending()
    in_force = _operator(restarted).models.at(FAR)
    model = ModelRepository(Path(store.url).with_name("features.models")).latest()
    assert model is not None
    assert (in_force.version, in_force.churn.bgnbd) == (1, BgNbdParams(**model.ltv["bgnbd"]))
    assert (restarted.published, restarted.version) == (0, 0)  # no lists: stages relearn


def test_nothing_saved_nothing_published_at_start(setup: Any) -> None:
    store, publisher, events = setup
    assert _jobs(store, publisher, events).publish_latest() == 0
    assert publisher.apply_pending() == 0 and publisher.profile_version == 0
