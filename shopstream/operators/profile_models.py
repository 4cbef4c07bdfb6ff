"""The profile models in force at an event time: versions of the ``profile-models``
broadcast beside the Customer 360 operator's static configuration.

:class:`ModelVersions` keeps the newest ``cap`` versions, ordered by ``(valid_from_ms,
version)``; :meth:`ModelVersions.at` answers with the newest one whose ``valid_from_ms``
is not after the time asked about, or the static configuration (version 0) before any.
Which versions are kept and which one answers depend only on the versions received, not
on the order they came in: one that arrives after newer ones takes its place in the
order, and falls off at once when ``cap`` newer ones are already there. A version
received twice is kept once, from the earlier of its two times (a restarted service
publishing its newest model again changes nothing). The versions in force at each time
are therefore independent of arrival too, as long as none is pushed out by the cap while
it could still answer: true when versions are published in time order (the retrain
stamps each at the watermark) and whenever at most ``cap`` are received.

Bounds: ``cap`` versions; :meth:`~ModelVersions.apply` is ``O(cap log cap)``,
:meth:`~ModelVersions.at` ``O(cap)`` (a scan from the newest).

Examples
--------
>>> from shopstream.events.profile_models import BgNbdModel, ProfileModel, RfmThresholds
>>> from shopstream.profiles.actions import ChurnConfig
>>> from shopstream.profiles.segments import RfmConfig
>>> models = ModelVersions(ChurnConfig(), RfmConfig(), cap=2)
>>> rfm = RfmThresholds(10.0, 40.0, 3, 100.0)
>>> models.apply(ProfileModel(2, 500, rfm, BgNbdModel(0.2, 4.0, 0.8, 2.4)))
>>> models.apply(ProfileModel(1, 100, rfm))  # older, arrives later
>>> [(t, models.at(t).version) for t in (99, 100, 499, 500)]
[(99, 0), (100, 1), (499, 1), (500, 2)]
>>> models.at(500).churn.bgnbd
BgNbdParams(r=0.2, alpha=4.0, a=0.8, b=2.4)
>>> models.at(100).rfm.frequent_orders, models.at(99).rfm.frequent_orders
(3, 5)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import msgspec

from shopstream.events.profile_models import ProfileModel
from shopstream.profiles.actions import ChurnConfig
from shopstream.profiles.bgnbd import BgNbdParams
from shopstream.profiles.gamma_gamma import GammaGammaParams
from shopstream.profiles.segments import RfmConfig

__all__ = ["InForce", "ModelVersions"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(ProfileModel).decode


@dataclass(frozen=True)
class InForce:
    """The models a profile is computed with; ``version`` 0: the static configuration."""

    version: int
    churn: ChurnConfig
    rfm: RfmConfig


class ModelVersions:
    """Versions of the profile models over a static ``churn`` and ``rfm`` (module docs)."""

    def __init__(self, churn: ChurnConfig, rfm: RfmConfig, cap: int) -> None:
        self.static = InForce(0, churn, rfm)
        self.cap = cap
        #: ``(valid_from_ms, version)``, the record and what it means, oldest first.
        self._versions: list[tuple[tuple[int, int], ProfileModel, InForce]] = []

    def __len__(self) -> int:
        return len(self._versions)

    def apply(self, model: ProfileModel) -> None:
        """Keep ``model`` among the newest ``cap`` versions (see the module docs)."""
        order = (model.valid_from_ms, model.version)
        for index, (held, _, _) in enumerate(self._versions):
            if held[1] == model.version:
                if held[0] <= model.valid_from_ms:
                    return
                del self._versions[index]
                break
        self._versions.append((order, model, self._in_force(model)))
        self._versions.sort(key=lambda entry: entry[0])
        del self._versions[:-self.cap]

    def at(self, time_ms: int) -> InForce:
        """The models in force at event time ``time_ms``."""
        for (valid_from, _), _, in_force in reversed(self._versions):
            if valid_from <= time_ms:
                return in_force
        return self.static

    def snapshot(self) -> list[bytes] | None:
        """The versions as JSON records (``None`` when there are none)."""
        return [_encode(model) for _, model, _ in self._versions] or None

    def restore(self, snapshot: list[bytes]) -> None:
        """Put back what :meth:`snapshot` returned."""
        self._versions = []
        for raw in snapshot:
            self.apply(_decode(raw))

    def _in_force(self, model: ProfileModel) -> InForce:
        churn = self.static.churn
        bg, spend = model.bgnbd, model.gamma_gamma
        if bg is not None:
            churn = replace(churn, bgnbd=BgNbdParams(bg.r, bg.alpha, bg.a, bg.b))
        if spend is not None:
            churn = replace(churn, gamma_gamma=GammaGammaParams(spend.p, spend.q, spend.gamma))
        t = model.rfm
        rfm = RfmConfig(t.recent_days, t.lapsed_days, t.frequent_orders, t.high_value)
        return InForce(model.version, churn, rfm)
