"""A job on a standalone Flink cluster, its TaskManager killed, restored from a checkpoint.

``shopstream flink cluster start`` (here: :func:`start_cluster`) runs a JobManager and one
TaskManager from the installed PyFlink; ``shopstream flink submit --detach`` sends the
pipeline with checkpoints every 0.5 s. Once a checkpoint has completed and outputs are
being written, the TaskManager gets SIGKILL and a new one is started; Flink restores the
job from its latest checkpoint and runs it to the end. At-least-once: every output record
of an uninterrupted run (the embedded runner, which the parity suite proves equal to
Flink) is there, and nothing else is, once duplicates are removed (a record is its own
id: every field of it). Run alone with ``pytest -m flink tests/integration/
test_flink_cluster_kill.py`` (about 3 minutes; needs the flink extra and Java 17).
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shopstream.sim import SimulationConfig, write_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.flink, pytest.mark.slow]

# Without the recommender to keep the test short (its broadcast state is restored in
# tests/unit/test_flink_broadcast.py and compared in the parity suite).
PIPELINE = ["--", "--fraud-by-device", "--no-recommendations"]


def _skip_reason() -> str | None:
    from shopstream.runners.flink import pyflink_available

    if not pyflink_available():
        return "PyFlink is not installed: pip install 'shopstream[flink]'"
    if shutil.which("java") is None:
        return "the Flink runner needs Java 17 on PATH"
    return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from shopstream.runners.flink.cluster import ClusterConfig, start_cluster, stop_cluster

    directory = tmp_path_factory.mktemp("flink-cluster")
    info = start_cluster(ClusterConfig(directory, taskmanagers=1, slots=2))
    try:
        yield info
    finally:
        stop_cluster(directory)


def _shopstream(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shopstream.cli", *args], capture_output=True,
                          text=True, check=False, timeout=600)


def _records(directory: Path) -> dict[str, collections.Counter[str]]:
    """Every output file of a run: stream -> multiset of canonical JSON records."""
    out: dict[str, collections.Counter[str]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        out[path.stem] = collections.Counter(
            json.dumps(json.loads(line), sort_keys=True)
            for line in path.read_text().splitlines())
    return out


def _wait(what: str, check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def test_killed_taskmanager_restores_from_checkpoint_with_the_same_outputs(
        cluster: Any, tmp_path: Path) -> None:
    from shopstream.runners.flink.cluster import read_cluster, rest_get, start_taskmanager

    events = tmp_path / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=1_500, seed=11, disorder_ms=2_000, bad_rate=0.01),
                str(events), progress=False)
    expected_dir, flink_dir = tmp_path / "embedded", tmp_path / "flink"
    done = _shopstream("run", "--input", str(events), "--output-dir", str(expected_dir),
                       "--no-progress", *PIPELINE[1:])
    assert done.returncode == 0, done.stderr

    submitted = _shopstream(
        "flink", "submit", "--jobmanager", cluster.jobmanager, "--input", str(events),
        "--output-dir", str(flink_dir), "--checkpoint-dir", str(tmp_path / "checkpoints"),
        "--checkpoint-seconds", "0.5", "--detach", "--json", *PIPELINE)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    job = json.loads(submitted.stdout.strip().splitlines()[-1])["job_id"]

    def checkpoints() -> dict[str, int]:
        counts: dict[str, int] = rest_get(cluster.jobmanager, f"/jobs/{job}/checkpoints")[
            "counts"]
        return counts

    def state() -> str:
        return str(rest_get(cluster.jobmanager, f"/jobs/{job}")["state"])

    completions = flink_dir / "basket-completions.jsonl"
    _wait("a completed checkpoint and outputs on disk", lambda: (
        checkpoints()["completed"] >= 1 and completions.exists()
        and completions.stat().st_size > 0), 240)
    assert state() == "RUNNING", "the job ended before it could be killed: give it more input"
    written_before = completions.read_text().count("\n")

    victim = read_cluster(cluster.directory).taskmanager_pids[0]
    os.kill(victim, signal.SIGKILL)
    # The fixture started it, so it is a child of this process: reap it, so the new
    # TaskManager is counted apart from the dead one.
    os.waitpid(victim, 0)
    start_taskmanager(cluster.directory)
    final = _wait("the job to end", lambda: state() in ("FINISHED", "FAILED", "CANCELED")
                  and state(), 420)
    assert final == "FINISHED"
    counts = checkpoints()
    assert counts["restored"] >= 1, counts

    expected, got = _records(expected_dir), _records(flink_dir)
    total = sum(len(c) for c in expected.values())
    assert written_before < len(expected["basket-completions"]), "killed after the end"
    assert total > 500
    for stream in sorted(set(expected) | set(got)):
        want = expected.get(stream, collections.Counter())
        have = got.get(stream, collections.Counter())
        # At-least-once: each record at least as often as uninterrupted, nothing new.
        assert set(have) == set(want), stream
        assert all(have[r] >= n for r, n in want.items()), stream


def test_stopped_with_a_savepoint_and_resubmitted_from_it_gives_the_same_outputs(
        cluster: Any, tmp_path: Path) -> None:
    """``flink savepoint JOB --stop`` then ``flink submit --from-checkpoint SAVEPOINT``:
    the second job continues the first one's files and state."""
    from shopstream.runners.flink.cluster import rest_get

    events = tmp_path / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=3_000, seed=12, disorder_ms=2_000, bad_rate=0.01),
                str(events), progress=False)
    expected_dir, flink_dir = tmp_path / "embedded", tmp_path / "flink"
    done = _shopstream("run", "--input", str(events), "--output-dir", str(expected_dir),
                       "--no-progress", *PIPELINE[1:])
    assert done.returncode == 0, done.stderr
    common = ["--jobmanager", cluster.jobmanager, "--input", str(events), "--output-dir",
              str(flink_dir), "--checkpoint-dir", str(tmp_path / "checkpoints"), "--json"]
    submitted = _shopstream("flink", "submit", *common, "--detach", *PIPELINE)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    job = json.loads(submitted.stdout.strip().splitlines()[-1])["job_id"]
    completions = flink_dir / "basket-completions.jsonl"
    _wait("outputs on disk", lambda: completions.exists() and completions.stat().st_size, 240)
    saved = _shopstream("flink", "savepoint", job, "--jobmanager", cluster.jobmanager,
                        "--dir", str(tmp_path / "savepoints"), "--stop")
    assert saved.returncode == 0, saved.stderr[-3000:]
    location = saved.stdout.strip().splitlines()[-1]
    assert rest_get(cluster.jobmanager, f"/jobs/{job}")["state"] == "FINISHED"
    written_before = completions.read_text().count("\n")

    resumed = _shopstream("flink", "submit", *common, "--from-checkpoint", location, *PIPELINE)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, got = _records(expected_dir), _records(flink_dir)
    assert written_before < len(expected["basket-completions"]), "stopped after the end"
    for stream in sorted(set(expected) | set(got)):
        want = expected.get(stream, collections.Counter())
        have = got.get(stream, collections.Counter())
        assert set(have) == set(want), stream
        assert all(have[r] >= n for r, n in want.items()), stream
