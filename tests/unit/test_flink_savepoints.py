"""A Flink checkpoint or savepoint of one-phase trending is refused by a two-phase job,
and the reverse, in one line, before the job is built (issue #14): Flink itself would
restore the merge's uid ``trending`` and drop the trending window without a word.

A ``_metadata`` file names each operator by the 16 bytes of its id; the ids here are
checked against Flink's own (shaded Guava ``murmur3_128(0)`` through PyFlink's JVM,
``OperatorID.toHexString``, 2026-12-07), and the function found the default pipeline's
uids in a real savepoint's ``_metadata`` (tests/integration/test_flink_cluster_kill.py's).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.flink.errors import FlinkRestoreError
from shopstream.runners.flink.runner import FlinkConfig, FlinkRunner
from shopstream.runners.flink.savepoints import check_restore, metadata_file, operator_id
from shopstream.topology import Topology

ONE_PHASE = default_topology()
TWO_PHASE = default_topology(PipelineConfig(two_phase_trending=True))


@pytest.mark.parametrize(("uid", "flink_id"), [
    ("trending", "464f845a806d9694aed2b6739af353f7"),
    ("trending-partials", "fe771e9c16acd4f3e953ef63fdddf3d9"),
    ("baskets", "887e793494bb3f605aeb4a1ffac1ce2f"),
    ("recommendations-demux", "8f701e77f4dfe2bf7e71ef237e2510f8"),
    ("a-uid-longer-than-thirty-two-bytes-x", "dbd06171a9014db14415ce190b6c1826"),
])
def test_operator_ids_are_flinks(uid: str, flink_id: str) -> None:
    assert operator_id(uid).hex() == flink_id


def _savepoint(tmp_path: Path, topology_uids: list[str]) -> Path:
    """A savepoint directory whose ``_metadata`` names these operators (Flink writes each
    id as its 16 bytes among the rest of the metadata)."""
    path = tmp_path / "savepoint-1a2b3c"
    path.mkdir()
    (path / "_metadata").write_bytes(
        b"\x00\x00\x00\x04" + b"\x01".join(operator_id(u) for u in topology_uids) + b"\xff")
    return path


def _uids(topology: Topology) -> list[str]:
    return ["decode", "event-time", *(stage.uid for stage in topology.stages)]


def test_a_one_phase_savepoint_is_refused_by_a_two_phase_job(tmp_path: Path) -> None:
    saved = _savepoint(tmp_path, _uids(ONE_PHASE))
    with pytest.raises(FlinkRestoreError, match=(
            r"savepoint-1a2b3c/_metadata was written by a job with one-phase trending "
            r"\(operator uid 'trending', state 'trend'\) and this job runs it in two phases "
            r"\(uids 'trending-partials' and 'trending', state 'pending'\)")) as raised:
        FlinkRunner(TWO_PHASE, tmp_path / "out", FlinkConfig(restore_from=str(saved)))
    assert "\n" not in str(raised.value)
    check_restore(ONE_PHASE, str(saved))  # the same form restores


def test_a_two_phase_savepoint_is_refused_by_a_one_phase_job(tmp_path: Path) -> None:
    saved = _savepoint(tmp_path, _uids(TWO_PHASE))
    with pytest.raises(FlinkRestoreError, match=r"with trending in two phases .* runs "
                       r"one-phase trending .*two_phase_trending=True"):
        FlinkRunner(ONE_PHASE, tmp_path / "out",
                    FlinkConfig(restore_from=saved.as_uri()))  # file: URI, as Flink names them
    check_restore(TWO_PHASE, str(saved / "_metadata"))


def test_without_trending_or_a_readable_metadata_nothing_is_checked(tmp_path: Path) -> None:
    saved = _savepoint(tmp_path, _uids(TWO_PHASE))
    check_restore(default_topology(PipelineConfig(recommendations=None)), str(saved))
    assert metadata_file("s3://bucket/savepoints/savepoint-1") is None
    assert metadata_file(str(tmp_path / "missing")) is None
    check_restore(TWO_PHASE, str(tmp_path / "missing"))  # Flink says what is wrong
