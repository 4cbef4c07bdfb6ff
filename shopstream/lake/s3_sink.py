"""The lake sink on S3-compatible object storage: ``run --lake s3://BUCKET/PREFIX``.

The same sink as a local lake's (:class:`~shopstream.lake.sink.LakeSink`: the same
columns, partitions, file names, flushes at the runner's checkpoints), writing each
flush's Parquet files into a local staging directory; its commit then

1. checks the writer still holds the lake's lock (:mod:`shopstream.lake.lease`),
2. PUTs each finished file under its final key (``stream=.../date=.../part-<run>-<seq>``),
3. PUTs the flush's commit object listing them (:mod:`shopstream.lake.commits`), and
   every ``fold_every`` commits folds the log (:mod:`shopstream.lake.commit_log`),

before the runner saves the checkpoint that names the flush. Readers read only committed
objects, so a run killed anywhere leaves nothing half-visible: objects uploaded without
their commit are never read, and its resume deletes its commits (and objects) after the
checkpoint's flush and writes those rows again. A fresh run of an input file the lake
already holds drops the earlier run's objects with one commit, as a local lake's run
replaces them (:mod:`shopstream.lake.runs`).

One writer at a time: the sink takes the lake's lock when it starts and gives it back
when it closes; a second writer is refused with one line naming the holder.

The staging directory is ``<checkpoint_dir>/lake-staging/<run>`` when the run has a
checkpoint directory (cleared when the sink opens, so a killed run's staged files go at its
resume or next run), else a new directory in the system's temporary directory; either is
removed when the sink closes.

Bound: a flush's files in the staging directory until they are uploaded.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shopstream.errors import ConfigError
from shopstream.lake.commit_log import FOLD_EVERY, LakeLog, flush_of, fold_log, part_of, read_log
from shopstream.lake.commits import COMMITS, Commit, flush_commit_name, write_commit
from shopstream.lake.errors import LakeError
from shopstream.lake.lease import LeaseLock
from shopstream.lake.object_store import ObjectStore, parse_s3_url
from shopstream.lake.runs import run_of_file
from shopstream.lake.sink import LakeSink
from shopstream.lake.writer import FlushWriter

__all__ = ["S3LakeSink"]


class S3LakeSink(LakeSink):
    """Writes the lake to the object storage at ``url`` (``s3://BUCKET/PREFIX``); the
    other arguments are :class:`~shopstream.lake.sink.LakeSink`'s, and ``lease_s`` the
    lease of the writer's lock (renewed every third of it while the run lives),
    ``fold_every`` the commits between two folds of the commit log."""

    def __init__(self, url: str, streams: Iterable[str] | None = None,
                 flush_rows: int = 500_000, compression: str = "zstd",
                 source: str | None = None, batch_rows: int = 4_096,
                 lease_s: float = 60.0, fold_every: int = FOLD_EVERY) -> None:
        if isinstance(fold_every, bool) or not isinstance(fold_every, int) or fold_every < 1:
            msg = f"S3LakeSink.fold_every must be an int >= 1, got {fold_every!r}"
            raise ConfigError(msg)
        self.fold_every = fold_every
        self._unfolded = 0
        self.url = parse_s3_url(url)
        self.store = ObjectStore(self.url)
        # Fail before the runner opens its outputs when the bucket is missing or another
        # writer holds the lake (start takes the lock; this only reads it).
        self.store.check_bucket()
        LeaseLock(self.store, "").refuse_if_held()
        # Created when the sink opens (under the checkpoint directory when there is one).
        self._staging = Path(tempfile.gettempdir()) / f"shopstream-lake-{uuid.uuid4().hex}"
        self._checkpoint_dir: Path | None = None
        super().__init__(self._staging, streams, flush_rows, compression, source, batch_rows)
        self.lease_s = lease_s
        self._lease: LeaseLock | None = None

    @property
    def location(self) -> str:
        return self.url.url

    def start(self, state: dict[str, Any] | None, resume: bool,
              checkpoint_dir: str | Path | None) -> None:
        self._checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        super().start(state, resume, checkpoint_dir)

    def _stage_under_checkpoints(self) -> None:
        """Stage under the checkpoint directory, cleared of a killed run's files."""
        if self._checkpoint_dir is None or self._writer is not None:
            return
        root = self._checkpoint_dir / "lake-staging"
        shutil.rmtree(root, ignore_errors=True)
        self._staging = self.directory = root / self.run

    def _open_lake(self, resume: bool, started: float) -> None:
        self.store.check_bucket()
        if self._lease is None or self._lease.run != self.run:
            if self._lease is not None:
                self._lease.release()
                self._lease = None
            lease = LeaseLock(self.store, self.run, self.lease_s)
            lease.acquire()
            self._lease = lease
        log = read_log(self.store)
        self._unfolded = len(log.commits)
        if resume and self.run in log.dead_runs:
            msg = (f"run {self.run} of the lake {self.location} was replaced by a later run "
                   "of the same input; run again without --resume")
            raise LakeError(msg)
        if resume:
            self._forget_remote_after(self.seq, log, self._lease)
        elif self.source is not None:
            self._replace_runs_of_source(log)
        self._stage_under_checkpoints()
        self._staging.mkdir(parents=True, exist_ok=True)
        if self._writer is None:
            self._writer = FlushWriter(self._staging, self.compression, durable=False)

    def _forget_remote_after(self, seq: int, log: LakeLog, lease: LeaseLock) -> None:
        """Delete this run's commits after flush ``seq`` (and fold the log without those
        flushes when a fold holds them), then its objects of those flushes (committed or
        not): the resume writes their rows again. Refused when a compaction, an erasure
        or a retention sweep dropped any of those flushes' objects (its commit would
        keep or have removed their rows, written again by the resume)."""
        last = log.merged.get(self.run, 0)
        if last > seq:
            msg = (f"run {self.run} of the lake {self.location} was compacted after the "
                   f"checkpoint (flush {seq}; files of its flushes up to {last} merged or "
                   "dropped): its resume would write those rows twice; run again without "
                   "--resume")
            raise LakeError(msg)
        self.store.delete(sorted({*(c.name for c in log.commits
                                    if c.run == self.run and c.seq > seq),
                                  *(n for n in log.listed if (f := flush_of(n)) is not None
                                    and f[0] == self.run and f[1] > seq)}))
        if any((p := part_of(k)) is not None and p[0] == self.run and p[1] > seq
               for k in read_log(self.store).live):  # a fold holds later flushes
            fold_log(self.store, lease, forget=(self.run, seq))
            self._unfolded = 0
        self.store.delete([key for key in self.store.keys("stream=")
                           if (p := part_of(key)) is not None and p[0] == self.run
                           and p[1] > seq])

    def _replace_runs_of_source(self, log: LakeLog) -> None:
        """Drop the objects of earlier runs of this sink's input (one commit), then
        delete them and their commits."""
        older = sorted(run for run, source in log.sources.items()
                       if run != self.run and source == self.source)
        if not older:
            return
        write_commit(self.store, Commit(f"{COMMITS}replace-{self.run}.json", run=self.run,
                                        drop_runs=tuple(older)))
        self._unfolded += 1
        gone = set(older)
        self.store.delete([k for k in self.store.keys("stream=")
                           if run_of_file(k.rsplit("/", 1)[-1]) in gone])
        self.store.delete(sorted({*(c.name for c in log.commits
                                    if c.run in gone and c.seq > 0),
                                  *(n for n in log.listed if (f := flush_of(n)) is not None
                                    and f[0] in gone)}))

    def _published(self, paths: list[Path], seq: int) -> None:
        if not paths:
            return
        lease = self._lease
        if lease is None:
            msg = "S3LakeSink.start must be called before rows are written"
            raise LakeError(msg)
        lease.check()
        files = {p.relative_to(self._staging).as_posix(): p for p in paths}
        self.store.put_files(files)
        lease.check()
        write_commit(self.store, Commit(flush_commit_name(self.run, seq), self.run, seq,
                                        self.source, tuple(sorted(files))),
                     exclusive=True)
        for path in paths:
            path.unlink()
        self._unfolded += 1
        if self._unfolded >= self.fold_every:
            fold_log(self.store, lease)
            self._unfolded = 0

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._lease is not None:
                self._lease.release()
                self._lease = None
            shutil.rmtree(self._staging, ignore_errors=True)
            if self._checkpoint_dir is not None:
                with contextlib.suppress(OSError):  # gone, or another run's files
                    (self._checkpoint_dir / "lake-staging").rmdir()
