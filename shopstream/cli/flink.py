"""``shopstream flink``: a standalone Flink cluster on this machine, and jobs sent to one.

* ``flink cluster start|stop``: a JobManager and TaskManagers from the installed PyFlink,
  bound to 127.0.0.1 on free ports (:mod:`shopstream.runners.flink.cluster`);
* ``flink submit --jobmanager HOST:PORT``: the default pipeline (without the recommender,
  which the Flink runner does not run yet) as a job on that cluster; options after ``--``
  are ``shopstream run``'s pipeline options;
* ``flink savepoint JOB_ID --jobmanager HOST:PORT [--stop]``: a savepoint, to restart
  from with ``submit --from-checkpoint``.

Examples
--------
>>> from shopstream.cli import build_parser
>>> args = build_parser(["flink"]).parse_args(
...     ["flink", "submit", "--jobmanager", "127.0.0.1:8081", "--input", "e.jsonl",
...      "--output-dir", "out", "--", "--fraud-by-device"])
>>> args.jobmanager, args.parallelism, args.pipeline
('127.0.0.1:8081', 1, ['--', '--fraud-by-device'])
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from shopstream.connectors.kafka_admin import DEFAULT_INPUT_TOPICS
from shopstream.errors import ConfigError

__all__ = ["register"]

_DEFAULT_DIR = Path.home() / ".cache" / "shopstream" / "flink-cluster"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "flink", help="a standalone Flink cluster on this machine, and jobs on it",
        description="Start or stop a standalone Flink cluster from the installed PyFlink "
                    "(pip install 'shopstream[flink]'; Java 17), submit the pipeline to a "
                    "cluster, take savepoints.")
    actions = parser.add_subparsers(dest="flink_command", metavar="ACTION", required=True)

    _add_cluster_parser(actions)
    _add_submit_parser(actions)
    _add_savepoint_parser(actions)


def _add_cluster_parser(actions: Any) -> None:
    """``flink cluster start|stop|status``."""
    cluster = actions.add_parser("cluster", help="start or stop a cluster on 127.0.0.1")
    cluster.add_argument("action", choices=("start", "stop", "status"))
    cluster.add_argument("--dir", default=str(_DEFAULT_DIR), metavar="DIR",
                         help=f"configuration, logs and pids (default {_DEFAULT_DIR})")
    cluster.add_argument("--taskmanagers", type=int, default=1, metavar="N")
    cluster.add_argument("--slots", type=int, default=2, metavar="N",
                         help="task slots per TaskManager (default 2)")
    cluster.add_argument("--taskmanager-memory", default="1536m", metavar="SIZE")
    cluster.add_argument("--jar", action="append", default=[], metavar="PATH",
                         help="a connector jar for the cluster's classpath (repeatable)")
    cluster.set_defaults(func=_cluster)


def _add_submit_parser(actions: Any) -> None:
    """``flink submit``: the pipeline as a job on a cluster."""
    submit = actions.add_parser("submit", help="run the pipeline as a job on a cluster")
    submit.add_argument("--jobmanager", required=True, metavar="HOST:PORT",
                        help="the cluster's REST address (flink cluster start prints it)")
    source = submit.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="FILE",
                        help="JSONL events (a path the TaskManagers can read)")
    source.add_argument("--kafka", metavar="BOOTSTRAP",
                        help="read --input-topics from this Kafka broker and write each "
                             "stream to its topic (needs --flink-connector-jar)")
    submit.add_argument("--input-topics", default=",".join(DEFAULT_INPUT_TOPICS),
                        metavar="T1,T2", help="topics of events with --kafka (default "
                                              f"{','.join(DEFAULT_INPUT_TOPICS)})")
    submit.add_argument("--flink-connector-jar", action="append", default=[], metavar="JAR",
                        help="a jar of the Flink Kafka connector (repeatable; default "
                             "$SHOPSTREAM_FLINK_CONNECTOR_JARS)")
    submit.add_argument("--output-dir", required=True, metavar="DIR",
                        help="output streams (written by the TaskManagers)")
    submit.add_argument("--parallelism", type=int, default=1, metavar="N")
    submit.add_argument("--checkpoint-dir", metavar="DIR",
                        help="checkpoint into DIR (hashmap state backend)")
    submit.add_argument("--checkpoint-seconds", type=float, default=10.0, metavar="S",
                        help="checkpoint interval (default 10)")
    submit.add_argument("--resume", action="store_true",
                        help="start from the newest complete checkpoint in --checkpoint-dir")
    submit.add_argument("--from-checkpoint", metavar="PATH",
                        help="start from this checkpoint (chk-N) or savepoint directory")
    submit.add_argument("--detach", action="store_true",
                        help="print the job id and return without waiting for the job")
    submit.add_argument("--json", action="store_true", help="print the summary as JSON")
    submit.add_argument("pipeline", nargs=argparse.REMAINDER, metavar="-- RUN_OPTIONS",
                        help="pipeline options of shopstream run (e.g. -- --fraud-by-device)")
    submit.set_defaults(func=_submit)


def _add_savepoint_parser(actions: Any) -> None:
    """``flink savepoint JOB_ID``."""
    save = actions.add_parser("savepoint", help="take a savepoint of a running job")
    save.add_argument("job_id", metavar="JOB_ID")
    save.add_argument("--jobmanager", required=True, metavar="HOST:PORT")
    save.add_argument("--dir", metavar="DIR",
                      help="where (default: the cluster's execution.checkpointing.savepoint-dir)")
    save.add_argument("--stop", action="store_true", help="stop the job after the savepoint")
    save.set_defaults(func=_savepoint)


def _cluster(args: argparse.Namespace) -> int:
    from shopstream.runners.flink.cluster import (
        ClusterConfig,
        read_cluster,
        start_cluster,
        stop_cluster,
    )

    if args.action == "start":
        info = start_cluster(ClusterConfig(args.dir, taskmanagers=args.taskmanagers,
                                           slots=args.slots,
                                           taskmanager_memory=args.taskmanager_memory,
                                           jars=tuple(args.jar)))
        print(f"jobmanager     {info.jobmanager}  (web UI http://{info.jobmanager})")
        print(f"taskmanagers   {len(info.taskmanager_pids)} x {args.slots} slots")
        print(f"directory      {info.directory}  (logs in log/)")
        print(f"stop with      shopstream flink cluster stop --dir {info.directory}")
        return 0
    if args.action == "status":
        info = read_cluster(args.dir)
        print(json.dumps({"jobmanager": info.jobmanager, "directory": info.directory,
                          "jobmanager_pid": info.jobmanager_pid,
                          "taskmanager_pids": list(info.taskmanager_pids)}))
        return 0
    stopped = stop_cluster(args.dir)
    print(f"stopped {len(stopped)} process(es) of the cluster in {args.dir}")
    return 0


def _submit(args: argparse.Namespace) -> int:
    from shopstream.cli import build_parser
    from shopstream.cli.input_limits import input_limits
    from shopstream.cli.run import pipeline_config
    from shopstream.pipeline import default_topology
    from shopstream.runners.flink.command import run_on_flink

    extra = [a for a in args.pipeline if a != "--"]
    owned = {"--input", "--kafka", "--output-dir", "--engine", "--parallelism",
             "--checkpoint-dir", "--input-topics", "--flink-connector-jar"}
    clash = sorted(owned & {a.split("=", 1)[0] for a in extra})
    if clash:
        msg = f"flink submit: give {', '.join(clash)} before '--', not as a pipeline option"
        raise ConfigError(msg)
    source = ["--kafka", args.kafka] if args.kafka else ["--input", args.input]
    run_args = build_parser(["run"]).parse_args(
        ["run", "--engine", "flink", *source,
         "--output-dir", args.output_dir, *extra])
    for name in ("jobmanager", "parallelism", "checkpoint_dir", "checkpoint_seconds",
                 "resume", "from_checkpoint", "detach", "json", "input_topics",
                 "flink_connector_jar"):
        setattr(run_args, name, getattr(args, name))
    topology = default_topology(pipeline_config(run_args))
    return run_on_flink(run_args, topology, input_limits(run_args))


def _savepoint(args: argparse.Namespace) -> int:
    from shopstream.runners.flink.cluster import savepoint
    from shopstream.runners.flink.settings import parse_jobmanager

    parse_jobmanager(args.jobmanager)
    location = savepoint(args.jobmanager, args.job_id, args.dir, stop=args.stop)
    print(location)
    return 0
