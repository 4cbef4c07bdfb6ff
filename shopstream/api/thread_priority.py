"""Lowering the calling thread's scheduling priority (``serve --pipeline-nice``).

On Linux a thread's native id is a valid ``PRIO_PROCESS`` target, and only that thread
changes; the process and its other threads keep their priority. Lowering needs no
privilege; nothing here raises a priority back (see :func:`lower_thread_priority`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

__all__ = ["lower_thread_priority"]

log = logging.getLogger("shopstream.api")


def lower_thread_priority(step: int, what: str = "serve pipeline") -> int | None:
    """Add ``step`` (capped at nice 19) to the calling thread's nice value.

    Returns the thread's new nice value, or ``None`` when nothing changed: ``step`` 0, not
    Linux, or the system refused (logged as a warning naming ``what``).

    Examples
    --------
    >>> import threading
    >>> seen = []
    >>> worker = threading.Thread(target=lambda: seen.append(lower_thread_priority(19)))
    >>> worker.start(); worker.join()
    >>> seen == [19] or not sys.platform.startswith("linux")
    True
    >>> lower_thread_priority(0) is None  # a step of 0 leaves the thread as it is
    True
    """
    if not step or not sys.platform.startswith("linux"):
        return None
    tid = threading.get_native_id()
    try:
        nice = min(19, os.getpriority(os.PRIO_PROCESS, tid) + step)
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        log.warning("%s: cannot lower the thread's priority (nice step %d): %s", what, step, exc)
        return None
    return nice
