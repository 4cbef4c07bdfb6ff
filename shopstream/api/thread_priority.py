"""The calling thread's scheduling: a lower priority (``serve --pipeline-nice``), a
shorter time slice (``serve --read-slice-us``) and the CPUs it may run on (``serve
--pipeline-cpus``, ``--read-cpus``; threads and processes it starts afterwards inherit
them), or a real-time policy (``serve --read-rt-priority``: ``SCHED_FIFO``, which runs
before every normal thread whatever else the machine runs; it needs root or
``CAP_SYS_NICE``, and the kernel's real-time throttling still leaves the others 5 % of
each second).

On Linux a thread's native id is a valid ``PRIO_PROCESS`` (and ``sched_setattr``)
target, and only that thread changes; the process and its other threads keep theirs.
Lowering needs no privilege; nothing here raises a priority back (see
:func:`lower_thread_priority`). A shorter slice (:func:`shorten_thread_slice`) changes no
share of the CPU: with the EEVDF scheduler (Linux 6.12 and later) a thread that asks for
a short slice gets an earlier deadline, so when it wakes (a request came) it preempts a
thread running a long slice (the pipeline) instead of waiting for that slice to end.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import struct
import sys
import threading
from pathlib import Path
from typing import Any

from shopstream.errors import ConfigError

__all__ = ["check_scheduling", "lower_thread_priority", "pin_pipeline", "pin_thread",
           "realtime_thread", "schedule_read_worker", "shorten_thread_slice",
           "thread_slice_ns"]

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


def check_scheduling(config: Any, owner: str = "ServeConfig") -> None:
    """Refuse scheduling fields of ``config`` the kernel would not take (``read_slice_us``,
    ``read_rt_priority``, ``read_cpus``, ``pipeline_cpus``), naming ``owner``'s field and
    the value; the CPU lists (JSON lists in a read worker's environment) become tuples.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> fields = SimpleNamespace(read_slice_us=100, read_rt_priority=0, read_cpus=[1],
    ...                          pipeline_cpus=())
    >>> check_scheduling(fields); fields.read_cpus
    (1,)
    >>> check_scheduling(SimpleNamespace(read_slice_us=50, read_rt_priority=0))
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: ServeConfig.read_slice_us must be 0 or 100..100000, got 50
    """
    slice_us, rt_priority = config.read_slice_us, config.read_rt_priority
    if slice_us and not 100 <= slice_us <= 100_000:
        msg = f"{owner}.read_slice_us must be 0 or 100..100000, got {slice_us!r}"
        raise ConfigError(msg)
    if not 0 <= rt_priority <= 99:
        msg = f"{owner}.read_rt_priority must be in 0..99, got {rt_priority!r}"
        raise ConfigError(msg)
    for name in ("read_cpus", "pipeline_cpus"):
        cpus = tuple(getattr(config, name))
        if any(type(cpu) is not int or cpu < 0 for cpu in cpus):
            msg = f"{owner}.{name} must be CPU numbers (integers >= 0), got {cpus!r}"
            raise ConfigError(msg)
        object.__setattr__(config, name, cpus)  # a frozen dataclass's field too


def pin_pipeline(config: Any) -> None:
    """``serve --pipeline-cpus``: pin the calling (main) thread to ``config.pipeline_cpus``
    when given. Call it before any thread starts: they inherit the CPUs."""
    if config.pipeline_cpus:
        pin_thread(config.pipeline_cpus, "serve --pipeline-cpus")


def schedule_read_worker(config: Any) -> None:
    """The calling read worker thread (the one running its event loop) gets
    ``config.read_slice_us``'s slice and ``read_rt_priority``'s ``SCHED_FIFO``: only it,
    not the threads it starts afterwards (see :func:`realtime_thread`). The worker runs
    on ``read_cpus``, or on every CPU when the server was pinned (``pipeline_cpus``)
    and ``read_cpus`` is not given: every thread it starts afterwards inherits these."""
    shorten_thread_slice(config.read_slice_us)
    realtime_thread(config.read_rt_priority)
    if config.read_cpus or config.pipeline_cpus:  # not the server's CPUs unless asked
        pin_thread(config.read_cpus, "serve --read-cpus")


#: ``sched_setattr``'s system call number by machine (Linux).
_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}


def thread_slice_ns(sched: Path | None = None) -> int | None:
    """The calling thread's time slice in nanoseconds (``se.slice`` of its
    ``/proc/.../sched``, or of the file ``sched``), ``None`` where the kernel does not
    show one or shows it in a form not known here (logged in one line).

    >>> path = getfixture("tmp_path") / "sched"
    >>> _ = path.write_text("se.slice      :   3000000")
    >>> thread_slice_ns(path)
    3000000
    >>> _ = path.write_text("se.slice      :   3.0 ms")
    >>> thread_slice_ns(path) is None
    True
    """
    path = sched or Path(f"/proc/self/task/{threading.get_native_id()}/sched")
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("se.slice"):
            try:
                return int(line.rsplit(":", 1)[1])
            except (IndexError, ValueError):
                log.warning("%s: se.slice in an unknown form: %r", path, line.strip())
                return None
    return None


def shorten_thread_slice(slice_us: int, what: str = "serve read worker") -> int | None:
    """Ask the scheduler for a ``slice_us`` microsecond time slice for the calling thread
    (the kernel keeps it within 100 us..100 ms), keeping its policy (normal) and nice.

    Returns the slice in nanoseconds the kernel shows afterwards (``None`` when nothing
    changed: ``slice_us`` 0, not Linux on x86_64 or aarch64, or the system refused,
    logged as a warning naming ``what``). Kernels before 6.12 accept the call and keep
    their slice: the value returned is then theirs.

    Examples
    --------
    >>> import threading
    >>> seen = []
    >>> worker = threading.Thread(target=lambda: seen.append(shorten_thread_slice(100)))
    >>> worker.start(); worker.join()
    >>> seen[0] is None or seen[0] > 0
    True
    >>> shorten_thread_slice(0) is None  # 0 leaves the thread as it is
    True
    """
    number = _SCHED_SETATTR.get(platform.machine())
    if not slice_us or not sys.platform.startswith("linux") or number is None:
        return None
    tid = threading.get_native_id()
    try:
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        # struct sched_attr (version 0, 48 bytes): size, policy (SCHED_OTHER), flags,
        # nice, priority, runtime (the slice), deadline, period.
        attr = ctypes.create_string_buffer(
            struct.pack("IIQiIQQQ", 48, 0, 0, nice, 0, slice_us * 1000, 0, 0), 48)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(number, tid, attr, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    except OSError as exc:
        log.warning("%s: cannot set the thread's time slice to %d us: %s", what, slice_us,
                    exc)
        return None
    return thread_slice_ns()


def pin_thread(cpus: tuple[int, ...], what: str = "serve") -> frozenset[int] | None:
    """Let the calling thread (and the threads and processes it starts afterwards) run
    on ``cpus`` only; ``()`` lets it run on every CPU of the machine again.

    Returns the CPUs it may run on afterwards, ``None`` when nothing changed (not Linux,
    or the system refused: logged as a warning naming ``what`` and the CPUs).

    Examples
    --------
    >>> import threading
    >>> seen = []
    >>> worker = threading.Thread(target=lambda: seen.append(pin_thread((0,))))
    >>> worker.start(); worker.join()
    >>> seen in ([frozenset({0})], [None])
    True
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    wanted = set(cpus) if cpus else set(range(os.cpu_count() or 1))
    try:
        os.sched_setaffinity(0, wanted)  # Linux: the calling thread
        return frozenset(os.sched_getaffinity(0))
    except OSError as exc:
        log.warning("%s: cannot run on CPUs %s: %s", what, sorted(wanted), exc)
        return None


def realtime_thread(priority: int, what: str = "serve read worker") -> int | None:
    """Run the calling thread ``SCHED_FIFO`` at ``priority`` (1..99): it runs before
    every normal thread as soon as it is runnable, and keeps the CPU until it waits.

    Only the calling thread: the policy is set with ``SCHED_RESET_ON_FORK``, so the
    threads and processes it starts afterwards (a thread pool's workers, a store client's
    threads) run ``SCHED_OTHER`` at nice 0, and a CPU-bound one cannot take the 95 % of
    a CPU the kernel leaves real-time threads. (They do inherit :func:`pin_thread`'s CPUs,
    and not :func:`shorten_thread_slice`'s slice.)

    Returns the priority it got, ``None`` when nothing changed (``priority`` 0, not
    Linux, or the system refused: without root or ``CAP_SYS_NICE``, logged as a warning
    naming ``what``).

    Examples
    --------
    >>> import threading
    >>> seen = []
    >>> worker = threading.Thread(target=lambda: seen.append(realtime_thread(1)))
    >>> worker.start(); worker.join()
    >>> seen in ([1], [None])  # 1 with the privilege, None (and a warning) without
    True
    >>> realtime_thread(0) is None
    True
    """
    if not priority or not hasattr(os, "sched_setscheduler"):
        return None
    policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
    try:
        os.sched_setscheduler(0, policy, os.sched_param(priority))  # this thread
    except OSError as exc:
        log.warning("%s: cannot run SCHED_FIFO at priority %d (needs root or "
                    "CAP_SYS_NICE): %s", what, priority, exc)
        return None
    return priority
