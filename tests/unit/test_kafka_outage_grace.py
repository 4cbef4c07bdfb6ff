"""``--kafka-outage-grace`` / ``KafkaSourceConfig.outage_grace_s``: how long after a
broker outage the run's clock of silence stands still (the behaviour against a real
broker: tests/integration/test_outage_idle_clock.py). A bad value is refused in one line
before any broker is asked anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopstream.cli import main
from shopstream.connectors.kafka_source import KafkaSourceConfig
from shopstream.errors import ConfigError


def test_the_grace_defaults_to_librdkafkas_longest_reconnect_backoff() -> None:
    assert KafkaSourceConfig().outage_grace_s == 15.0
    assert KafkaSourceConfig(outage_grace_s=0).outage_grace_s == 0


@pytest.mark.parametrize("grace", [-1.0, float("nan")])
def test_a_negative_grace_is_refused(grace: float) -> None:
    with pytest.raises(ConfigError, match="outage_grace_s must be >= 0"):
        KafkaSourceConfig(outage_grace_s=grace)


def test_the_option_is_checked_before_the_broker_is_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--kafka", "127.0.0.1:1", "--kafka-outage-grace", "-1",
                 "--output-dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == ("shopstream run: error: --kafka-outage-grace must be >= 0 "
                           "seconds, got -1.0")
