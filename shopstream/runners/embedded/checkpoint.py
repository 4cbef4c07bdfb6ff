"""Checkpoint files: written to a temporary name, fsynced, then renamed into place.

A reader therefore sees either the previous complete checkpoint or the new complete one,
whatever moment a crash happens at.

Examples
--------
>>> import tempfile
>>> store = CheckpointStore(tempfile.mkdtemp())
>>> store.load() is None
True
>>> store.save({"offset": 42})
>>> store.load()
{'offset': 42}
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from shopstream.durable import publish
from shopstream.errors import CheckpointError

__all__ = ["CheckpointStore"]

# 2: one cart model in the basket and abandonment state, the recommender's state keyed by
# shopper with published lists; a checkpoint of format 1 is refused, not misread.
_FORMAT = 2


class CheckpointStore:
    """The latest checkpoint of one run, kept in ``directory/checkpoint.pkl``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "checkpoint.pkl"

    def save(self, snapshot: dict[str, Any]) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "wb") as handle:
                pickle.dump({"format": _FORMAT, "snapshot": snapshot}, handle,
                            protocol=pickle.HIGHEST_PROTOCOL)
            publish(tmp, self.path)
        except OSError as exc:
            msg = f"cannot write checkpoint in {str(self.directory)!r}: {exc.strerror}"
            raise CheckpointError(msg) from None

    def load(self) -> dict[str, Any] | None:
        """The saved snapshot, or ``None`` when there is none yet."""
        if not self.path.exists():
            return None
        try:
            with open(self.path, "rb") as handle:
                saved = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
            msg = f"checkpoint {str(self.path)!r} cannot be read: {exc}"
            raise CheckpointError(msg) from None
        if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
            found = saved.get("format") if isinstance(saved, dict) else None
            msg = (f"checkpoint {str(self.path)!r} has format {found!r}, this version reads "
                   f"{_FORMAT}: start without --resume (or with a new --checkpoint-dir)")
            raise CheckpointError(msg)
        snapshot: dict[str, Any] = saved["snapshot"]
        return snapshot
