"""What a Flink checkpoint or savepoint holds, read before a job restores from it (no
PyFlink).

Flink restores an operator's state by the operator's id, which for an operator with a
``uid`` is the 128-bit MurmurHash3 (x64, seed 0) of the uid's UTF-8 bytes
(:func:`operator_id`); a checkpoint's ``_metadata`` file names every operator of the job
that wrote it by that id. Trending runs in one phase (stage ``trending``: one tracker, state
``trend``, on the global key) or in two (``trending-partials``: a tracker per key group,
then the merge, stage ``trending`` again, state ``pending``): the merge keeps the uid, so
Flink would restore a one-phase savepoint into a two-phase job (or the reverse) without a
word and drop the open trending window. :func:`check_restore` refuses that in one line
before the job is built; the embedded runner converts such a checkpoint instead
(:mod:`shopstream.runners.embedded.trending_checkpoint`).

Examples
--------
>>> operator_id("trending").hex()
'464f845a806d9694aed2b6739af353f7'
>>> import tempfile
>>> from pathlib import Path
>>> from shopstream.pipeline import PipelineConfig, default_topology
>>> one_phase_savepoint = Path(tempfile.mkdtemp())
>>> _ = (one_phase_savepoint / "_metadata").write_bytes(
...     b"..." + operator_id("baskets") + operator_id("trending") + b"...")
>>> check_restore(default_topology(), str(one_phase_savepoint))
>>> check_restore(default_topology(PipelineConfig(two_phase_trending=True)),
...               str(one_phase_savepoint))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shopstream.runners.flink.errors.FlinkRestoreError: .../_metadata was written by a job with \
one-phase trending (operator uid 'trending', state 'trend') and this job runs it in two \
phases (uids 'trending-partials' and 'trending', state 'pending'): Flink would drop the \
trending window; restore it with two_phase_trending=False, or start without it
"""

from __future__ import annotations

import struct
from pathlib import Path
from urllib.parse import unquote, urlparse

from shopstream.operators.trending import TrendingOperator
from shopstream.operators.trending_partials import TrendingMergeOperator, TrendingPartialOperator
from shopstream.runners.flink.errors import FlinkRestoreError
from shopstream.runners.flink.support import fuse
from shopstream.topology import Topology

__all__ = ["check_restore", "metadata_file", "operator_id"]

_MASK = (1 << 64) - 1
_C1, _C2 = 0x87C37B91114253D5, 0x4CF5AD432745937F


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _MASK
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _MASK
    return k ^ (k >> 33)


def _mix1(k1: int) -> int:
    return (_rotl((k1 * _C1) & _MASK, 31) * _C2) & _MASK


def _mix2(k2: int) -> int:
    return (_rotl((k2 * _C2) & _MASK, 33) * _C1) & _MASK


def operator_id(uid: str) -> bytes:
    """The 16 bytes of the id Flink gives an operator whose uid is ``uid`` (Guava's
    ``murmur3_128(0)`` of its UTF-8 bytes, as Flink's ``StreamGraphHasherV2`` computes it),
    in the order ``_metadata`` writes them."""
    data = uid.encode()
    h1 = h2 = 0
    blocks = len(data) // 16
    for i in range(blocks):
        k1, k2 = struct.unpack_from("<QQ", data, 16 * i)
        h1 = ((_rotl(h1 ^ _mix1(k1), 27) + h2) * 5 + 0x52DCE729) & _MASK
        h2 = ((_rotl(h2 ^ _mix2(k2), 31) + h1) * 5 + 0x38495AB5) & _MASK
    tail = data[16 * blocks:]
    if len(tail) > 8:
        h2 ^= _mix2(int.from_bytes(tail[8:], "little"))
    if tail:
        h1 ^= _mix1(int.from_bytes(tail[:8], "little"))
    h1 ^= len(data)
    h2 ^= len(data)
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    return struct.pack("<QQ", h1, h2)


def metadata_file(location: str) -> Path | None:
    """The ``_metadata`` file of a checkpoint or savepoint ``location`` (a directory, the
    file itself, or a ``file:`` URI), or ``None`` when it is elsewhere (``s3://``) or
    missing: Flink then says what is wrong itself."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        location = unquote(parsed.path)
    elif parsed.scheme and len(parsed.scheme) > 1:  # s3://, hdfs://; not a drive letter
        return None
    path = Path(location)
    if path.is_dir():
        path = path / "_metadata"
    return path if path.is_file() else None


def _trending_form(topology: Topology) -> tuple[str, str] | None:
    """``("one", uid)`` or ``("two", partial uid)`` for the job's trending; ``None``
    without trending. The uid is the Flink operator's: its fused group's first stage's."""
    stages = topology.stages
    for group in fuse(topology):
        for index in group:
            operator = stages[index].operator
            if isinstance(operator, TrendingPartialOperator):
                return "two", stages[group[0]].uid
            if isinstance(operator, TrendingOperator):
                return "one", stages[group[0]].uid
    return None


def check_restore(topology: Topology, location: str) -> None:
    """Raise :class:`FlinkRestoreError` (one line naming the file, the operator uids and
    state names) when the checkpoint or savepoint at ``location`` was written by a job
    whose trending ran in the other form than ``topology``'s (one phase or two). Reads
    the ``_metadata`` file once; does nothing when it cannot be read here."""
    form = _trending_form(topology)
    meta = metadata_file(location)
    if form is None or meta is None:
        return
    data = meta.read_bytes()
    kind, uid = form
    merge = TrendingMergeOperator.name
    partials = uid if kind == "two" else TrendingPartialOperator.name
    two_phase = (f"two phases (uids {partials!r} and {merge!r}, state "
                 f"{TrendingMergeOperator.state_descriptors[0].name!r})")
    one_phase = (f"one-phase trending (operator uid {TrendingOperator.name!r}, state "
                 f"{TrendingOperator.state_descriptors[0].name!r})")
    if kind == "two" and operator_id(merge) in data and operator_id(partials) not in data:
        msg = (f"{meta} was written by a job with {one_phase} and this job runs it in "
               f"{two_phase}: Flink would drop the trending window; restore it with "
               "two_phase_trending=False, or start without it")
        raise FlinkRestoreError(msg)
    if kind == "one" and operator_id(partials) in data:
        msg = (f"{meta} was written by a job with trending in {two_phase} and this job "
               f"runs {one_phase}: Flink would drop the trending window; restore it with "
               "two_phase_trending=True, or start without it")
        raise FlinkRestoreError(msg)
