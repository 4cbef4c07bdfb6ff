"""The Flink runner's job settings, cluster records and ``shopstream flink`` errors
(no JVM started: these run without PyFlink)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from shopstream.cli import main
from shopstream.errors import ConfigError, ShopstreamError
from shopstream.runners.flink.cluster import ClusterConfig, read_cluster
from shopstream.runners.flink.command import flink_config
from shopstream.runners.flink.errors import FlinkClusterError
from shopstream.runners.flink.runner import FlinkConfig
from shopstream.runners.flink.settings import (
    RESTART_ATTEMPTS,
    job_settings,
    latest_checkpoint,
    parse_jobmanager,
)


def test_a_local_job_without_checkpoints_sets_the_execution_mode_and_object_reuse() -> None:
    assert job_settings(FlinkConfig()) == {"python.execution-mode": "thread",
                                           "pipeline.object-reuse": "true"}


def test_checkpoints_are_aligned_kept_on_cancel_and_restart_a_bounded_number_of_times(
        tmp_path: Path) -> None:
    settings = job_settings(FlinkConfig(checkpoint_dir=str(tmp_path),
                                        checkpoint_interval_ms=500))
    assert settings["state.backend.type"] == "hashmap"
    assert settings["execution.checkpointing.dir"] == tmp_path.as_uri()
    assert settings["execution.checkpointing.interval"] == "500 ms"
    assert settings["execution.checkpointing.mode"] == "EXACTLY_ONCE"
    assert settings["execution.checkpointing.externalized-checkpoint-retention"] == \
        "RETAIN_ON_CANCELLATION"
    assert settings["restart-strategy.fixed-delay.attempts"] == str(RESTART_ATTEMPTS)
    assert "execution.target" not in settings


@pytest.mark.parametrize("text", ["localhost", ":8081", "h:0", "h:65536", "h:port", ""])
def test_a_jobmanager_address_must_be_host_and_port(text: str) -> None:
    with pytest.raises(ConfigError, match=f"--jobmanager must be HOST:PORT, got {text!r}"):
        FlinkConfig(jobmanager=text)
    assert parse_jobmanager("[::1]:8081") == ("[::1]", 8081)


def test_resume_takes_the_newest_complete_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ShopstreamError, match="no complete Flink checkpoint"):
        latest_checkpoint(tmp_path)
    for name in ("job-a/chk-3", "job-a/chk-4", "job-b/chk-9"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "job-a/chk-3/_metadata").write_bytes(b"m")
    (tmp_path / "job-a/chk-4/_metadata").write_bytes(b"m")
    args = argparse.Namespace(out_of_orderness_ms=5_000, parallelism=2, jobmanager=None,
                              checkpoint_dir=str(tmp_path), checkpoint_seconds=0.25,
                              resume=True, from_checkpoint=None)
    config = flink_config(args)
    # chk-9 has no _metadata: a checkpoint cut short is never resumed from.
    assert config.restore_from == str(tmp_path / "job-a/chk-4")
    assert config.checkpoint_interval_ms == 250
    args.checkpoint_dir = None
    with pytest.raises(ConfigError, match="--resume needs --checkpoint-dir"):
        flink_config(args)


def test_cluster_config_is_validated_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError,
                       match=re.escape("ClusterConfig.taskmanagers must be >= 1, got 0")):
        ClusterConfig(tmp_path, taskmanagers=0)
    with pytest.raises(ConfigError, match="is not a file"):
        ClusterConfig(tmp_path, jars=(str(tmp_path / "missing.jar"),))
    with pytest.raises(FlinkClusterError, match="no Flink cluster recorded"):
        read_cluster(tmp_path)


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flink", "cluster", "stop", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("shopstream flink: error: no Flink cluster recorded")
    assert err.count("\n") == 1
    events = tmp_path / "e.jsonl"
    events.write_text("")
    assert main(["flink", "submit", "--jobmanager", "127.0.0.1:1", "--input", str(events),
                 "--output-dir", str(tmp_path), "--", "--input", "x"]) == 1
    assert "give --input before '--'" in capsys.readouterr().err
    assert main(["flink", "savepoint", "abc", "--jobmanager", "nohost"]) == 1
    assert "--jobmanager must be HOST:PORT, got 'nohost'" in capsys.readouterr().err


def test_the_file_writer_cuts_a_torn_last_line(tmp_path: Path) -> None:
    pytest.importorskip("pyflink")
    from shopstream.runners.flink.functions import cut_torn_line

    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n{"c":')
    cut_torn_line(path)
    assert path.read_bytes() == b'{"a":1}\n{"b":2}\n'
    cut_torn_line(path)
    assert path.read_bytes() == b'{"a":1}\n{"b":2}\n'
    path.write_bytes(b"x" * 100_000)
    cut_torn_line(path)
    assert path.read_bytes() == b""
