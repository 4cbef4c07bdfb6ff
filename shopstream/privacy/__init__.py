"""Privacy: pseudonymised user ids at ingest, erasure of a shopper, retention periods.

- :mod:`~shopstream.events.pseudonym`: keyed HMAC-SHA256 pseudonyms of user ids, applied
  by the event decoder when a key is configured, and redaction of dead letters;
- :mod:`~shopstream.privacy.erasure`: ``shopstream erase USER`` and ``DELETE /users/{id}``
  remove a shopper from the store, the lake (:mod:`~shopstream.privacy.lake_erasure`,
  imported on use: it needs pyarrow), operator state and the checkpoint, on record;
- :mod:`~shopstream.privacy.retention`: how long each stream is kept.
"""

from __future__ import annotations

from shopstream.events.pseudonym import KEY_ENV, Pseudonymiser, from_environment, load_key
from shopstream.privacy.erasure import (
    ErasureError,
    ErasureLog,
    ErasureReport,
    erase_user,
    erasure_ids,
    scrub_engine,
    subject_digest,
)
from shopstream.privacy.retention import DEFAULT_DAYS, RetentionConfig, expired_partitions
from shopstream.privacy.scrub import ScrubResult, scrub_engine_snapshot

__all__ = [
    "DEFAULT_DAYS",
    "KEY_ENV",
    "ErasureError",
    "ErasureLog",
    "ErasureReport",
    "Pseudonymiser",
    "RetentionConfig",
    "ScrubResult",
    "erase_user",
    "erasure_ids",
    "expired_partitions",
    "from_environment",
    "load_key",
    "scrub_engine",
    "scrub_engine_snapshot",
    "subject_digest",
]
