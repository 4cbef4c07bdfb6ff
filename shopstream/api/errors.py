"""Errors of the API and of the pipeline ``shopstream serve`` hosts.

Each maps to one HTTP answer, and only here in ``api/``: :class:`QueueFullError` and
:class:`PipelineFailedError` to 503, :class:`RejectedEventsError` to 400 with the
rejections.

Examples
--------
>>> exc = QueueFullError("the pipeline is behind", retry_after_s=2)
>>> isinstance(exc, ApiError), retry_after(exc)
(True, {'Retry-After': '2'})
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopstream.errors import ShopstreamError

if TYPE_CHECKING:
    from shopstream.api.validation import EventRejection

__all__ = ["ApiError", "NoTargetError", "PipelineFailedError", "QueueFullError",
           "RejectedEventsError", "retry_after"]


class ApiError(ShopstreamError):
    """Base of the errors the API answers with a status of its own."""


class QueueFullError(ApiError):
    """The pipeline is behind: too many events wait (the API answers 503 with
    ``Retry-After: retry_after_s``)."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NoTargetError(ApiError):
    """The collector has nowhere to send events (the API answers 503)."""


class PipelineFailedError(ApiError):
    """An operator raised while the hosted pipeline ran: it stopped taking events (the
    API answers 503 naming the operator; see
    :attr:`~shopstream.api.live.LivePipeline.failure`)."""


class RejectedEventsError(ApiError):
    """Some events of a request were invalid; none of them was accepted."""

    def __init__(self, problems: list[EventRejection], total: int) -> None:
        self.problems = problems
        self.total = total
        super().__init__(f"{len(problems)} of {total} events are invalid; none was accepted")


def retry_after(exc: QueueFullError) -> dict[str, str]:
    """The ``Retry-After`` header of the 503 answering ``exc``."""
    return {"Retry-After": str(exc.retry_after_s)}
