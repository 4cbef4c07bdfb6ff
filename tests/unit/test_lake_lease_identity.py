"""The lake's lock is taken over from a holder whose process is gone only when that
process's pid was read in the same boot and pid namespace (containers may share a host
name with pid namespaces of their own): else the holder's lease must end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shopstream.lake import lease
from shopstream.lake.lease import holder_is_gone, lock_body

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
pytestmark = pytest.mark.skipif(not _BOOT_ID.exists(), reason="Linux /proc")


@pytest.fixture(scope="module")
def dead_holder() -> dict[str, Any]:
    """The lock body of a process of this host and namespace that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    body = json.loads(json.dumps(lock_body("run1", expires_ms=10_000)))  # as stored
    return {**body, "pid": child.pid}


def test_the_lock_names_the_boot_and_pid_namespace() -> None:
    body = lock_body("run1", expires_ms=1)
    assert body["boot_id"] == _BOOT_ID.read_text().strip()
    assert body["pid_ns"] == os.stat("/proc/self/ns/pid").st_ino


def test_a_dead_holder_of_this_boot_and_namespace_is_gone(dead_holder: dict[str, Any]) -> None:
    assert holder_is_gone(dead_holder, now_ms=1_000)


@pytest.mark.parametrize("other", [{"pid_ns": 1}, {"boot_id": "another-boot"},
                                   {"pid_ns": None, "boot_id": None}, {"host": "elsewhere"}],
                         ids=["other-namespace", "other-boot", "older-lock", "other-host"])
def test_a_pid_read_elsewhere_proves_nothing(dead_holder: dict[str, Any],
                                              other: dict[str, Any]) -> None:
    assert not holder_is_gone({**dead_holder, **other}, now_ms=1_000)
    assert holder_is_gone({**dead_holder, **other}, now_ms=10_000)  # its lease ended


def test_a_lock_without_its_keys_waits_for_its_lease(dead_holder: dict[str, Any]) -> None:
    older = {k: v for k, v in dead_holder.items() if k not in ("boot_id", "pid_ns")}
    assert not holder_is_gone(older, now_ms=1_000)


def test_off_linux_no_pid_is_taken_for_dead(dead_holder: dict[str, Any],
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setattr(lease, "_PID_NAMESPACE", str(tmp_path / "no-such-namespace"))
    assert not holder_is_gone(dead_holder, now_ms=1_000)
    assert lock_body("run1", expires_ms=1)["pid_ns"] is None
