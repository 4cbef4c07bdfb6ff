"""A webhook tap: POSTs the records of chosen streams (fraud alerts) as JSON.

The pipeline only puts records on a bounded queue; a background thread delivers them in
order, retrying failures with exponential backoff. Nothing is lost silently: every record
ends up counted as ``delivered``, ``failed`` (gave up after ``max_attempts``, a permanent
4xx answer, or still undelivered when ``close`` timed out) or ``dropped`` (the queue was
full), and failures and drops are logged on the ``shopstream.connectors.webhook`` logger.

Each request carries one record as its JSON body (camelCase, as in the stream files) and
the headers ``X-Shopstream-Stream`` and ``X-Shopstream-Key``.

Examples
--------
>>> tap = WebhookTap(WebhookConfig("http://127.0.0.1:9/alerts", max_attempts=1))
>>> sorted(tap.streams)
['fraud-alerts']
>>> tap.close()
>>> tap.stats()
WebhookStats(delivered=0, failed=0, dropped=0, retries=0)
>>> WebhookConfig("ftp://example.com")
Traceback (most recent call last):
...
shopstream.errors.ConfigError: WebhookConfig.url must be an http:// or https:// URL, got 'ftp://example.com'
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import msgspec

from shopstream import __version__
from shopstream.errors import ConfigError, require_positive
from shopstream.events import streams as stream_names
from shopstream.events.records import Output
from shopstream.redaction import hide_url, url_origin

__all__ = ["WebhookConfig", "WebhookStats", "WebhookTap"]

log = logging.getLogger(__name__)

# Answers worth retrying: the server may recover. Other 4xx answers will not change.
_RETRY_STATUS = frozenset({408, 425, 429})
_STOP = object()
_DROP_LOG_EVERY = 1_000


@dataclass(frozen=True)
class WebhookConfig:
    """Where and how records are POSTed.

    Parameters
    ----------
    url
        The endpoint (``http://`` or ``https://``).
    streams
        Streams whose records are sent (default ``fraud-alerts``).
    max_attempts
        Tries per record, the first included (default 5).
    base_delay_s, max_delay_s
        Backoff before retry ``k`` (1-based) is ``min(max_delay_s, base_delay_s * 2**(k-1))``,
        spread by ``jitter`` (a fraction: 0.1 is +-10%) so many senders do not retry in step.
    timeout_s
        Socket timeout of one request.
    queue_size
        Records waiting for delivery; beyond that new ones are dropped (and counted).
    close_timeout_s
        How long :meth:`WebhookTap.close` waits for the queue to drain.
    """

    url: str = field(repr=False)
    streams: frozenset[str] = field(default_factory=lambda: frozenset({stream_names.FRAUD_ALERTS}))
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    jitter: float = 0.1
    timeout_s: float = 5.0
    queue_size: int = 10_000
    close_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            msg = ("WebhookConfig.url must be an http:// or https:// URL, got "
                   f"{url_origin(self.url)!r}")
            raise ConfigError(msg)
        if not self.streams:
            msg = f"WebhookConfig.streams must name at least one stream, got {self.streams!r}"
            raise ConfigError(msg)
        require_positive(self, "max_attempts", "queue_size")
        for name in ("base_delay_s", "max_delay_s", "timeout_s", "close_timeout_s"):
            if not getattr(self, name) > 0:
                msg = f"WebhookConfig.{name} must be > 0, got {getattr(self, name)!r}"
                raise ConfigError(msg)
        if not 0 <= self.jitter < 1:
            msg = f"WebhookConfig.jitter must be in [0, 1), got {self.jitter!r}"
            raise ConfigError(msg)

    def delay_s(self, retry: int) -> float:
        """Backoff before retry number ``retry`` (1-based), without jitter.

        Examples
        --------
        >>> [WebhookConfig("http://x", base_delay_s=0.5, max_delay_s=3.0).delay_s(k)
        ...  for k in range(1, 6)]
        [0.5, 1.0, 2.0, 3.0, 3.0]
        """
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** (retry - 1))


@dataclass(frozen=True)
class WebhookStats:
    """What became of the records handed to the tap so far."""

    delivered: int
    failed: int
    dropped: int
    retries: int


class WebhookTap:
    """A :class:`~shopstream.runners.embedded.runner.Tap` that POSTs records from a thread.

    ``write`` never blocks: it queues the record, or counts and logs a drop when the queue
    is full. ``close`` waits up to ``close_timeout_s`` for the queue to drain; whatever is
    still undelivered then counts as failed.
    """

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.streams = config.streams
        self._queue: queue.Queue[object] = queue.Queue(config.queue_size)
        self._abort = threading.Event()
        self._encoder = msgspec.json.Encoder()
        self._random = random.Random()
        # Each counter has one writer: dropped the pipeline thread, the rest the sender.
        self._delivered = self._failed = self._dropped = self._retries = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="shopstream-webhook",
                                        daemon=True)
        self._thread.start()

    def write(self, out: Output) -> None:
        try:
            self._queue.put_nowait(out)
        except queue.Full:
            self._dropped += 1
            if self._dropped % _DROP_LOG_EVERY == 1:
                log.warning("webhook queue full (%d records): dropped a %s record for %s "
                            "(%d dropped so far)", self.config.queue_size, out.stream,
                            out.key, self._dropped)

    def flush(self) -> None:
        """Nothing to wait for: deliveries are retried in the background, best effort."""

    def close(self) -> None:
        """Stop taking records and wait (bounded) for the queued ones to be delivered."""
        if self._closed:
            return
        self._closed = True
        cfg = self.config
        deadline = time.monotonic() + cfg.close_timeout_s
        # Once aborted the sender gives up on each record at once; only a request in
        # flight can still take up to timeout_s.
        grace = cfg.timeout_s + 1.0
        try:
            self._queue.put(_STOP, timeout=cfg.close_timeout_s)
        except queue.Full:
            self._abort.set()
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=grace)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(grace)
        if self._thread.is_alive():
            log.warning("webhook %s: sender still busy after close; about %d records not "
                        "accounted for", url_origin(cfg.url), self._queue.qsize())
        stats = self.stats()
        if stats.failed or stats.dropped:
            log.warning("webhook %s: %d delivered, %d failed, %d dropped",
                        url_origin(self.config.url), stats.delivered, stats.failed,
                        stats.dropped)

    def stats(self) -> WebhookStats:
        return WebhookStats(self._delivered, self._failed, self._dropped, self._retries)

    # -- sender thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if not isinstance(item, Output):
                continue
            if self._abort.is_set():
                self._give_up(item, "not delivered before close timed out")
                continue
            try:
                self._deliver(item)
            except Exception as exc:  # a bug must not kill the sender and lose the rest
                log.exception("webhook: unexpected error sending a %s record", item.stream)
                self._give_up(item, hide_url(f"unexpected error: {exc!r}", self.config.url))

    def _deliver(self, out: Output) -> None:
        cfg = self.config
        body = self._encoder.encode(out.record)
        for attempt in range(1, cfg.max_attempts + 1):
            error, retry = self._post(body, out)
            if error is None:
                self._delivered += 1
                return
            if not retry or attempt == cfg.max_attempts or self._abort.is_set():
                self._give_up(out, f"{error} after {attempt} attempt(s)")
                return
            delay = cfg.delay_s(attempt)
            delay *= 1 + cfg.jitter * (2 * self._random.random() - 1)
            log.info("webhook: attempt %d for %s %s failed (%s); retrying in %.2f s",
                     attempt, out.stream, out.key, error, delay)
            self._retries += 1
            if self._abort.wait(delay):
                self._give_up(out, f"{error}; close timed out during backoff")
                return

    def _post(self, body: bytes, out: Output) -> tuple[str | None, bool]:
        """One attempt: ``(None, _)`` on success, else the error and whether to retry."""
        request = urllib.request.Request(self.config.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": f"shopstream/{__version__}",
            "X-Shopstream-Stream": out.stream,
            "X-Shopstream-Key": out.key,
        })
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            return f"HTTP {exc.code}", exc.code >= 500 or exc.code in _RETRY_STATUS
        except urllib.error.URLError as exc:
            return hide_url(f"{exc.reason}", self.config.url), True
        except (OSError, http.client.HTTPException) as exc:
            # http.client quotes the request's path (the secret of a Slack-style hook)
            return hide_url(f"{type(exc).__name__}: {exc}", self.config.url), True
        return None, False

    def _give_up(self, out: Output, why: str) -> None:
        self._failed += 1
        log.warning("webhook: giving up on a %s record for %s: %s", out.stream, out.key, why)
