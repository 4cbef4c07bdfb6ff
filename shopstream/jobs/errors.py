"""Errors of the scheduled jobs."""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["JobError", "JobSetupError"]


class JobError(ShopstreamError):
    """A job could not do its work; the message names the job and what failed."""


class JobSetupError(JobError):
    """A job cannot run as configured (no history, no models directory): trying again
    cannot help, so the runner does not retry it."""
