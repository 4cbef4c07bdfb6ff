"""A standalone Flink cluster on this machine, from the installed PyFlink distribution.

``shopstream flink cluster start`` runs one JobManager and ``taskmanagers`` TaskManagers
as child processes of no terminal (their own sessions), bound to 127.0.0.1 on free
ports, with the configuration, logs and process ids under one directory; ``stop`` ends
exactly those processes. It is for trying a cluster on one machine (or tests): a real
deployment runs Flink's own distribution on several hosts.

The cluster's ``lib`` is the distribution's jars, PyFlink's ``flink-python`` jar and the
connector jars asked for (the Kafka connector: :mod:`shopstream.runners.flink.kafka`),
linked, so nothing in the installed PyFlink changes. TaskManagers run Python operators
in thread mode (the interpreter embedded in the JVM) and get this interpreter's import
path. Starting takes about 10 s on a small machine (two JVMs).

Examples
--------
>>> config = ClusterConfig("/tmp/c", taskmanagers=1, slots=2)
>>> config.slots, config.taskmanager_memory
(2, '1536m')
>>> ClusterConfig("/tmp/c", slots=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: ClusterConfig.slots must be >= 1, got 0
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shopstream.errors import ConfigError
from shopstream.runners.flink.errors import FlinkClusterError, FlinkNotInstalledError

__all__ = ["ClusterConfig", "ClusterInfo", "read_cluster", "rest_get", "rest_post", "savepoint",
           "start_cluster", "start_taskmanager", "stop_cluster"]

_STATE = "cluster.json"
_CHILDREN: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class ClusterConfig:
    """A standalone cluster on this machine.

    Parameters
    ----------
    directory
        Where the configuration, ``lib``, logs and ``cluster.json`` (ports, pids) go.
    taskmanagers, slots
        TaskManager processes, and task slots in each.
    taskmanager_memory, jobmanager_memory
        Flink's ``*.memory.process.size`` of each process.
    jars
        Extra jars for the cluster's classpath (connectors).
    checkpoint_dir
        Default checkpoint directory of jobs (they may give their own).
    """

    directory: str | Path
    taskmanagers: int = 1
    slots: int = 2
    taskmanager_memory: str = "1536m"
    jobmanager_memory: str = "1024m"
    jars: tuple[str, ...] = ()
    checkpoint_dir: str | None = None

    def __post_init__(self) -> None:
        for name in ("taskmanagers", "slots"):
            value = getattr(self, name)
            if value < 1:
                msg = f"ClusterConfig.{name} must be >= 1, got {value!r}"
                raise ConfigError(msg)
        for jar in self.jars:
            if not Path(jar).is_file():
                msg = f"ClusterConfig.jars: {jar!r} is not a file"
                raise ConfigError(msg)


@dataclass(frozen=True)
class ClusterInfo:
    """A running cluster, as ``cluster.json`` records it."""

    directory: str
    rest_port: int
    rpc_port: int
    jobmanager_pid: int
    taskmanager_pids: tuple[int, ...] = field(default=())

    @property
    def jobmanager(self) -> str:
        """``HOST:PORT`` of the REST endpoint, what ``flink submit --jobmanager`` takes."""
        return f"127.0.0.1:{self.rest_port}"


def flink_home() -> Path:
    """The Flink distribution inside the installed PyFlink."""
    try:
        import pyflink
    except ImportError as exc:
        msg = "a Flink cluster needs PyFlink: pip install 'shopstream[flink]'"
        raise FlinkNotInstalledError(msg) from exc
    return Path(pyflink.__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _java_opts(home: Path) -> str:
    # The distribution's --add-opens list (JDK 17), read from its config.yaml.
    for line in (home / "conf" / "config.yaml").read_text().splitlines():
        if line.strip().startswith("all:"):
            return line.split(":", 1)[1].strip()
    return ""


def _write_conf(config: ClusterConfig, root: Path, rest_port: int, rpc_port: int) -> None:
    home = flink_home()
    conf = root / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for name in ("log4j-console.properties", "logback-console.xml"):
        (conf / name).write_bytes((home / "conf" / name).read_bytes())
    checkpoints = Path(config.checkpoint_dir or root / "checkpoints").resolve()
    settings: dict[str, Any] = {
        "env.java.opts.all": _java_opts(home),
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.bind-host": "127.0.0.1",
        "jobmanager.rpc.port": rpc_port,
        "jobmanager.memory.process.size": config.jobmanager_memory,
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": rest_port,
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.host": "127.0.0.1",
        "taskmanager.numberOfTaskSlots": config.slots,
        "taskmanager.memory.process.size": config.taskmanager_memory,
        "parallelism.default": 1,
        "state.backend.type": "hashmap",
        "execution.checkpointing.dir": checkpoints.as_uri(),
        "execution.checkpointing.savepoint-dir": (root / "savepoints").resolve().as_uri(),
        # A lost TaskManager is noticed within seconds, not the default 50 s.
        "heartbeat.timeout": 10_000,
        "heartbeat.interval": 2_000,
    }
    (conf / "config.yaml").write_text(
        "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items()))
    lib = root / "lib"
    lib.mkdir(exist_ok=True)
    jars = [*sorted((home / "lib").glob("*.jar")),
            *sorted((home / "opt").glob("flink-python*.jar")),
            *(Path(j).resolve() for j in config.jars)]
    for jar in jars:
        link = lib / jar.name
        if not link.exists():
            link.symlink_to(jar)


def _environment(root: Path) -> dict[str, str]:
    from shopstream.runners.flink.runner import interpreter_path

    env = dict(os.environ)
    env.update(FLINK_CONF_DIR=str(root / "conf"), FLINK_LIB_DIR=str(root / "lib"),
               FLINK_LOG_DIR=str(root / "log"), FLINK_PID_DIR=str(root / "run"),
               PYTHONPATH=interpreter_path())
    return env


def _spawn(root: Path, script: str) -> int:
    (root / "log").mkdir(exist_ok=True)
    (root / "run").mkdir(exist_ok=True)
    home = flink_home()
    # start-foreground execs the JVM, so the pid is the JVM's; a new session keeps it
    # alive after this command returns and out of the terminal's signals.
    proc = subprocess.Popen(
        ["bash", str(home / "bin" / script), "start-foreground"], env=_environment(root),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, cwd=root)
    # Kept so that the Popen is not collected (and warns) while its JVM runs on.
    _CHILDREN.append(proc)
    return proc.pid


def rest_get(jobmanager: str, path: str, timeout_s: float = 5.0) -> Any:
    """GET ``path`` of the cluster's REST API at ``jobmanager`` (``HOST:PORT``), as JSON."""
    with urllib.request.urlopen(f"http://{jobmanager}{path}",
                                timeout=timeout_s) as response:
        return json.loads(response.read())


def rest_post(jobmanager: str, path: str, body: dict[str, Any] | None = None,
              method: str = "POST", timeout_s: float = 10.0) -> Any:
    """POST (or PATCH) JSON ``body`` to ``path`` of the cluster's REST API; the answer."""
    request = urllib.request.Request(
        f"http://{jobmanager}{path}", data=json.dumps(body or {}).encode(), method=method,
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        text = response.read()
        return json.loads(text) if text else {}


def savepoint(jobmanager: str, job_id: str, directory: str | None = None,
              stop: bool = False, timeout_s: float = 300.0) -> str:
    """Take a savepoint of ``job_id`` (``stop``: then stop the job); return its location."""
    body: dict[str, Any] = {}
    if directory is not None:
        body["targetDirectory" if stop else "target-directory"] = \
            Path(directory).resolve().as_uri()
    if stop:
        body["drain"] = False
    else:
        body["cancel-job"] = False
    try:
        trigger = rest_post(jobmanager, f"/jobs/{job_id}/{'stop' if stop else 'savepoints'}",
                            body)["request-id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = rest_get(jobmanager, f"/jobs/{job_id}/savepoints/{trigger}")
            if answer["status"]["id"] == "COMPLETED":
                operation = answer.get("operation", {})
                if "location" in operation:
                    return str(operation["location"])
                cause = operation.get("failure-cause", {}).get("stack-trace", "")
                msg = (f"savepoint of job {job_id} failed: "
                       f"{cause.strip().splitlines()[0] if cause else operation}")
                raise FlinkClusterError(msg)
            time.sleep(0.5)
    except (OSError, KeyError, ValueError) as exc:
        msg = f"savepoint of job {job_id} at {jobmanager} failed: {exc}"
        raise FlinkClusterError(msg) from exc
    msg = f"savepoint of job {job_id} did not complete within {timeout_s:.0f} s"
    raise FlinkClusterError(msg)


def _wait_ready(info: ClusterInfo, taskmanagers: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            overview = rest_get(info.jobmanager, "/overview", 2.0)
            if overview.get("taskmanagers", 0) >= taskmanagers:
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        if not _alive(info.jobmanager_pid):
            break
        time.sleep(0.5)
    msg = (f"the Flink cluster in {info.directory} did not get ready within {timeout_s:.0f} s "
           f"(logs in {info.directory}/log)")
    raise FlinkClusterError(msg)


def _save(info: ClusterInfo) -> None:
    (Path(info.directory) / _STATE).write_text(json.dumps(asdict(info)))


def read_cluster(directory: str | Path) -> ClusterInfo:
    """The cluster ``start_cluster`` recorded in ``directory``."""
    path = Path(directory) / _STATE
    if not path.is_file():
        msg = f"no Flink cluster recorded in {str(directory)!r} ({_STATE} is missing)"
        raise FlinkClusterError(msg)
    data = json.loads(path.read_text())
    return ClusterInfo(data["directory"], data["rest_port"], data["rpc_port"],
                       data["jobmanager_pid"], tuple(data["taskmanager_pids"]))


def start_cluster(config: ClusterConfig, timeout_s: float = 180.0) -> ClusterInfo:
    """Start a JobManager and the TaskManagers; return once all TaskManagers registered."""
    root = Path(config.directory).resolve()
    if (root / _STATE).exists():
        old = read_cluster(root)
        if _alive(old.jobmanager_pid):
            msg = (f"a Flink cluster already runs from {str(root)!r} at {old.jobmanager}: "
                   "stop it first")
            raise FlinkClusterError(msg)
    root.mkdir(parents=True, exist_ok=True)
    rest_port, rpc_port = _free_port(), _free_port()
    _write_conf(config, root, rest_port, rpc_port)
    info = ClusterInfo(str(root), rest_port, rpc_port, _spawn(root, "jobmanager.sh"))
    _save(info)
    pids = tuple(_spawn(root, "taskmanager.sh") for _ in range(config.taskmanagers))
    info = ClusterInfo(str(root), rest_port, rpc_port, info.jobmanager_pid, pids)
    _save(info)
    try:
        _wait_ready(info, config.taskmanagers, timeout_s)
    except FlinkClusterError:
        stop_cluster(root)
        raise
    return info


def start_taskmanager(directory: str | Path, timeout_s: float = 180.0) -> ClusterInfo:
    """Add a TaskManager to the running cluster in ``directory`` (after one was lost)."""
    info = read_cluster(directory)
    live = tuple(p for p in info.taskmanager_pids if _alive(p))
    pid = _spawn(Path(info.directory), "taskmanager.sh")
    info = ClusterInfo(info.directory, info.rest_port, info.rpc_port, info.jobmanager_pid,
                       (*live, pid))
    _save(info)
    _wait_ready(info, len(info.taskmanager_pids), timeout_s)
    return info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process counts as gone.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def _started_here(pid: int, directory: str) -> bool:
    # A recorded pid may have been reused since: end it only if its command line names
    # this cluster's directory (the JVM's -Dlog.file).
    try:
        return directory in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def stop_cluster(directory: str | Path, timeout_s: float = 20.0) -> list[int]:
    """End the processes the cluster in ``directory`` recorded (TERM, then KILL after
    ``timeout_s``); return the pids that were still running."""
    info = read_cluster(directory)
    pids = [p for p in (*info.taskmanager_pids, info.jobmanager_pid)
            if _alive(p) and _started_here(p, info.directory)]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    (Path(info.directory) / _STATE).unlink(missing_ok=True)
    return pids
