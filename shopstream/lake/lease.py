"""One writer at a time on a lake in object storage: a lock object with a lease.

A writer (a run, a compaction) takes the lake's lock by creating ``_lock.json`` with a
conditional PUT (``If-None-Match: *``): of two writers starting together, the store lets
one create it. The object names its holder (run, host, process) and when its lease ends;
a thread renews the lease every third of it (``If-Match`` on the ETag the holder last
wrote, so a holder that lost the lock cannot overwrite its new owner) and the holder
checks it still holds the lock before each commit. The lock is deleted when the writer
ends.

A writer that died (killed, its machine gone) leaves its lock; another writer takes it
over once its lease has ended, or at once when the holder was a process of the same host
(same host name, boot id and pid namespace) that no longer runs (how a killed run's
``--resume`` starts without waiting), again by a conditional PUT on the ETag it read,
so two writers cannot both take it. Leases compare the clocks of different hosts: keep
them synchronised (a skew shortens or lengthens a lease by as much).

Examples
--------
>>> body = lock_body("run1", expires_ms=5_000)
>>> holder_is_gone(body, now_ms=4_000), holder_is_gone(body, now_ms=6_000)
(False, True)
>>> holder_is_gone({**body, "pid": 999_999_999}, now_ms=4_000)  # same host, no such process
True
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from shopstream.lake.errors import LakeBusyError, LakeError
from shopstream.lake.object_store import ObjectStore

__all__ = ["LOCK_KEY", "LeaseLock", "holder_is_gone", "lock_body"]

LOCK_KEY = "_lock.json"


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), ``None`` when it does not
    run; tells a process from a later one that reuses its id."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return ""
        return ""


_BOOT_ID = "/proc/sys/kernel/random/boot_id"
_PID_NAMESPACE = "/proc/self/ns/pid"


def _pid_space() -> tuple[str, int] | None:
    """Where this process's pid means something: the kernel's boot id and the inode of
    its pid namespace; ``None`` when either cannot be read (off Linux)."""
    try:
        with open(_BOOT_ID, encoding="ascii") as boot:
            boot_id = boot.read().strip()
        namespace = os.stat(_PID_NAMESPACE).st_ino
    except OSError:
        return None
    return (boot_id, namespace) if boot_id else None


def lock_body(run: str, expires_ms: int, owner: str = "") -> dict[str, Any]:
    """What a holder writes into the lock: who it is, where (host, and the boot and pid
    namespace its pid belongs to), and until when."""
    boot_id, pid_ns = _pid_space() or (None, None)
    return {"owner": owner or uuid.uuid4().hex, "run": run, "host": socket.gethostname(),
            "pid": os.getpid(), "pid_start": _process_start(os.getpid()),
            "boot_id": boot_id, "pid_ns": pid_ns, "expires_ms": expires_ms}


def holder_is_gone(body: dict[str, Any], now_ms: int) -> bool:
    """Whether the writer that holds a lock with ``body`` may be taken over from: its
    lease ended, or it was a process that no longer runs, which only a reader with the
    same host name, boot id and pid namespace can tell (containers may share a host name
    with pid namespaces of their own); a lock without boot id or namespace (off Linux,
    or written by an older version) waits for its lease."""
    if int(body.get("expires_ms", 0)) <= now_ms:
        return True
    space = _pid_space()
    if (space is None or body.get("host") != socket.gethostname()
            or not isinstance(body.get("pid"), int)
            or (body.get("boot_id"), body.get("pid_ns")) != space):
        return False
    started = _process_start(body["pid"])
    return started is None or (started != "" and started != body.get("pid_start"))


class LeaseLock:
    """The lock of the lake in ``store``, for writer ``run``; see the module's docstring."""

    def __init__(self, store: ObjectStore, run: str, lease_s: float = 60.0) -> None:
        if not lease_s > 0:
            msg = f"LeaseLock.lease_s must be > 0, got {lease_s!r}"
            raise LakeError(msg)
        self.store = store
        self.run = run
        self.lease_s = lease_s
        self.owner = uuid.uuid4().hex
        self._etag: str | None = None
        self._expires_ms = 0
        #: Why the lock was lost (the renewal failed), or ``""``.
        self.lost = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    def _body(self) -> tuple[bytes, int]:
        """The lock's body for a lease from now, and when that lease ends."""
        expires_ms = int(time.time() * 1000 + self.lease_s * 1000)
        return json.dumps(lock_body(self.run, expires_ms, self.owner)).encode(), expires_ms

    def _mine(self) -> tuple[str, int] | None:
        """The lock's ETag and lease end when the lock there is this writer's (a
        conditional PUT retried after its answer was lost fails its own condition)."""
        found = self.store.get(LOCK_KEY)
        if found is None:
            return None
        try:
            holder = json.loads(found[0])
        except ValueError:
            return None
        if not isinstance(holder, dict) or holder.get("owner") != self.owner:
            return None
        return found[1], int(holder.get("expires_ms", 0))

    def acquire(self) -> None:
        """Take the lock (or fail with one line naming its holder) and start renewing it."""
        for _ in range(5):
            body, expires_ms = self._body()
            etag = self.store.put_if(LOCK_KEY, body, None)
            if etag is not None:
                break
            found = self.store.get(LOCK_KEY)
            if found is None:
                continue  # released meanwhile: try again
            try:
                holder = json.loads(found[0])
            except ValueError:
                holder = {}
            if isinstance(holder, dict) and holder.get("owner") == self.owner:
                etag, expires_ms = found[1], int(holder.get("expires_ms", 0))
                break  # this writer's own PUT, retried after its answer was lost
            if not holder_is_gone(holder, int(time.time() * 1000)):
                raise LakeBusyError(self._refusal(holder))
            body, expires_ms = self._body()
            etag = self.store.put_if(LOCK_KEY, body, found[1])
            if etag is not None:
                break
        else:
            msg = f"lake {self.store.location.url}: cannot take its lock (writers contend)"
            raise LakeError(msg)
        self._etag = etag
        self._expires_ms = expires_ms
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="lake-lease",
                                        daemon=True)
        self._thread.start()

    def refuse_if_held(self) -> None:
        """Fail with :meth:`acquire`'s line when a live writer holds the lock now (a
        check before a run opens its outputs; :meth:`acquire` decides)."""
        found = self.store.get(LOCK_KEY)
        if found is None:
            return
        try:
            holder = json.loads(found[0])
        except ValueError:
            return
        if not holder_is_gone(holder, int(time.time() * 1000)):
            raise LakeError(self._refusal(holder))

    def _refusal(self, holder: dict[str, Any]) -> str:
        until = datetime.fromtimestamp(int(holder.get("expires_ms", 0)) / 1000, UTC)
        return (f"lake {self.store.location.url} is being written by run "
                f"{holder.get('run', '?')} (pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, lease until {until:%Y-%m-%dT%H:%M:%SZ}): one "
                "writer at a time; wait for it to end (a dead writer's lock is taken over "
                "when its lease ends)")

    def _renew_loop(self) -> None:
        wait = self.lease_s / 3
        while not self._stop.wait(wait):
            renewed = self.renew()
            if self.lost:
                return
            # A renewal that failed (the store did not answer) is tried again sooner,
            # until the lease ends.
            wait = self.lease_s / 3 if renewed else self.lease_s / 12

    def renew(self) -> bool:
        """Extend the lease (the thread does it; a commit may too); whether it was.

        Only a failed condition with another writer's lock in place loses the lock; an
        error of the store is tried again (by the thread) until the lease ends."""
        with self._mutex:
            if self._etag is None or self.lost:
                return False
            try:
                body, expires_ms = self._body()
                etag = self.store.put_if(LOCK_KEY, body, self._etag)
                if etag is None:
                    mine = self._mine()
                    if mine is None:
                        self.lost = (f"lake {self.store.location.url}: this writer (run "
                                     f"{self.run}) lost its lock to another writer; its "
                                     "last flush is not committed")
                        return False
                    etag, expires_ms = mine
            except LakeError as exc:
                if self._expires_ms <= time.time() * 1000:
                    self.lost = (f"lake {self.store.location.url}: this writer (run "
                                 f"{self.run}) could not renew its lock before its lease "
                                 f"ended ({exc}); its last flush is not committed")
                return False
            self._etag = etag
            self._expires_ms = expires_ms
            return True

    def check(self) -> None:
        """Fail when the lock is lost or its lease ended (before a commit)."""
        if not self.lost and self._expires_ms <= time.time() * 1000:
            self.renew()
        if self.lost:
            raise LakeError(self.lost)

    def release(self) -> None:
        """Stop renewing and delete the lock (if it is still this writer's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._mutex:
            if self._etag is not None and not self.lost:
                self.store.delete_if(LOCK_KEY, self._etag)
            self._etag = None
