"""Write this directory's checkpoint with the code of 14d3f7b (one-phase revenue and top
products): ``git worktree add /tmp/base-migrate 14d3f7b`` then, from this directory,
``PYTHONPATH=/tmp/base-migrate /work/main/.venv/bin/python make_fixture.py``.

The run drains and checkpoints after every line and is killed after ``CRASH_AT`` lines, so
``ckpt/checkpoint.pkl`` holds open windows of both statistics (and their timers) and
``out/`` the outputs up to that checkpoint; ``expected/`` keeps the revenue and top
products records of an uninterrupted run of the same code.
tests/unit/test_one_phase_resume.py resumes it with the current code.
"""

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from shopstream.connectors.files import JsonlSource
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig

HERE = Path(__file__).parent
KEPT = ("revenue-stats", "top-products")
CRASH_AT = 8
# An idle tick (None, as an unbounded source yields) after each line drains the engine and,
# with checkpoint_every_seconds this small, checkpoints there.
CONFIG = RunnerConfig(checkpoint_every_events=1, checkpoint_every_seconds=1e-9)


def crash_after(path: Path, lines: int) -> Iterator[tuple[bytes, int] | None]:
    for n, item in enumerate(JsonlSource(path), start=1):
        if n > lines:
            raise KeyboardInterrupt
        yield item
        yield None


if __name__ == "__main__":
    for sub in ("ckpt", "out", "expected"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    runner = EmbeddedRunner(default_topology(), HERE / "out", CONFIG, HERE / "ckpt")
    with contextlib.suppress(KeyboardInterrupt):
        runner.run(HERE / "input.jsonl", source=crash_after(HERE / "input.jsonl", CRASH_AT))
    EmbeddedRunner(default_topology(), HERE / "whole", CONFIG).run(HERE / "input.jsonl")
    (HERE / "expected").mkdir()
    for stream in KEPT:
        (HERE / "whole" / f"{stream}.jsonl").rename(HERE / "expected" / f"{stream}.jsonl")
    shutil.rmtree(HERE / "whole")
