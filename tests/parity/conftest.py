"""The ``runner`` fixture: every parity test runs on the embedded runner and on Flink.

One conformance suite, two engines (bytewax re-runs its tests on one and two workers;
we re-run ours on each runner, and Flink on one and two slots). A Flink job costs seconds
of start-up, so each (runner, input) pair runs once per session and the tests read its
output files. Flink cases carry the ``flink`` marker (``pytest -m flink`` selects them,
``-m "not flink"`` skips them) and are skipped, with the reason, only when PyFlink is not
installed (``pip install 'shopstream[flink]'``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from parity_kit import RUNNERS, ParityRunner


def _flink_missing() -> str | None:
    from shopstream.runners.flink import pyflink_available

    if not pyflink_available():
        return "PyFlink is not installed: pip install 'shopstream[flink]'"
    if shutil.which("java") is None:
        return "the Flink runner needs Java 17 on PATH"
    return None


@pytest.fixture(scope="session")
def _parity_runners(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ParityRunner]:
    base = tmp_path_factory.mktemp("parity")
    return {name: ParityRunner(name, base) for name in RUNNERS}


@pytest.fixture(params=[pytest.param(name, marks=[pytest.mark.flink, pytest.mark.slow]
                                     if name.startswith("flink") else [])
                        for name in RUNNERS])
def runner(request: pytest.FixtureRequest,
           _parity_runners: dict[str, ParityRunner]) -> Iterator[ParityRunner]:
    name: str = request.param
    if name.startswith("flink"):
        reason = _flink_missing()
        if reason:
            pytest.skip(reason)
    yield _parity_runners[name]
