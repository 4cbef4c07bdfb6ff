"""Session metrics and the engagement score of a shopper.

Session metrics over every session of the shopper (finished and still open):

* ``avg_session_s``: mean seconds from a session's first event to its last;
* ``pages_per_session``: mean events that show a page (page, product, category views
  and searches);
* ``bounce_rate``: share of sessions with exactly one event;
* ``conversion_rate``: share of sessions with a purchase.

The engagement score, in ``[0, 1]``, rounded to 4 places::

    engagement = 0.4 * activity / (activity + activity_scale)
               + 0.2 * min(pages_per_session / deep_pages, 1)
               + 0.2 * (1 - bounce_rate)
               + 0.2 * conversion_rate

``activity`` is the shopper's decayed event count (each event weighs 1 and halves every
preference half-life, 14 days by default), so the first term fades when a shopper stays
away; the other three are 0 for a shopper without sessions.

Examples
--------
>>> totals = SessionTotals(sessions=4, duration_s=1_200.0, pages=24, bounces=1,
...                        purchase_sessions=1, purchase_duration_s=300.0)
>>> m = session_metrics(totals)
>>> m.avg_session_s, m.pages_per_session, m.bounce_rate, m.conversion_rate
(300.0, 6.0, 0.25, 0.25)
>>> engagement_score(20.0, m, EngagementConfig())  # .2 + .12 + .15 + .05
0.52
>>> engagement_score(0.0, session_metrics(SessionTotals()), EngagementConfig())
0.0
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from shopstream.errors import ConfigError

__all__ = ["EngagementConfig", "SessionMetrics", "SessionTotals", "engagement_score",
           "session_metrics"]


@dataclass(frozen=True)
class EngagementConfig:
    """The scales of the engagement formula (see module docs)."""

    activity_scale: float = 20.0
    deep_pages: float = 10.0

    def __post_init__(self) -> None:
        if not (self.activity_scale > 0 and self.deep_pages > 0):
            msg = (f"EngagementConfig needs activity_scale > 0 and deep_pages > 0, got "
                   f"activity_scale={self.activity_scale!r}, deep_pages={self.deep_pages!r}")
            raise ConfigError(msg)


class SessionTotals(msgspec.Struct, gc=False):
    """Sums over sessions: how many, their seconds, pages, bounces, and the sessions with
    a purchase and their seconds."""

    sessions: int = 0
    duration_s: float = 0.0
    pages: int = 0
    bounces: int = 0
    purchase_sessions: int = 0
    purchase_duration_s: float = 0.0


class SessionMetrics(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """Means over the sessions of a shopper (all 0 without sessions)."""

    sessions: int
    avg_session_s: float
    pages_per_session: float
    bounce_rate: float
    conversion_rate: float
    avg_purchase_session_s: float | None


def session_metrics(totals: SessionTotals) -> SessionMetrics:
    """The means of ``totals``, rounded to 4 places."""
    n = totals.sessions
    if n == 0:
        return SessionMetrics(0, 0.0, 0.0, 0.0, 0.0, None)
    buying = totals.purchase_sessions
    return SessionMetrics(
        n, round(totals.duration_s / n, 4), round(totals.pages / n, 4),
        round(totals.bounces / n, 4), round(buying / n, 4),
        round(totals.purchase_duration_s / buying, 4) if buying else None)


def engagement_score(activity: float, metrics: SessionMetrics,
                     config: EngagementConfig) -> float:
    """The engagement score of a shopper (formula in the module docs)."""
    score = 0.4 * activity / (activity + config.activity_scale)
    if metrics.sessions:
        score += (0.2 * min(metrics.pages_per_session / config.deep_pages, 1.0)
                  + 0.2 * (1.0 - metrics.bounce_rate) + 0.2 * metrics.conversion_rate)
    return round(min(max(score, 0.0), 1.0), 4)
