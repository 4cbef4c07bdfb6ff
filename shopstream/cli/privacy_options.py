"""Privacy options shared by ``run``, ``serve`` and ``erase``.

``--pseudonymise-key-file FILE`` (or the ``SHOPSTREAM_PSEUDONYM_KEY`` environment
variable) turns on pseudonymised user ids at ingest. The key is handed on through the
environment of this process, which is where every event decoder reads it (and which
``serve``'s worker processes inherit), so every door of the command pseudonymises.

Examples
--------
>>> import argparse, pathlib, tempfile
>>> parser = argparse.ArgumentParser()
>>> add_privacy_arguments(parser, erasure_log=True)
>>> key = pathlib.Path(tempfile.mkdtemp()) / "key"
>>> _ = key.write_text("k-0123456789abcdef\\n")
>>> args = parser.parse_args(["--pseudonymise-key-file", str(key)])
>>> environ = {}
>>> apply_privacy_options(args, environ)
Pseudonymiser(<key hidden>)
>>> environ["SHOPSTREAM_PSEUDONYM_KEY"]
'k-0123456789abcdef'
>>> apply_privacy_options(parser.parse_args([]), {}) is None
True
"""

from __future__ import annotations

import argparse
import os
from collections.abc import MutableMapping

from shopstream.errors import ConfigError
from shopstream.events.pseudonym import KEY_ENV, Pseudonymiser, load_key
from shopstream.privacy.erasure import ERASURE_LOG_ENV

__all__ = ["add_privacy_arguments", "apply_privacy_options"]


def add_privacy_arguments(parser: argparse.ArgumentParser, erasure_log: bool = False) -> None:
    """``--pseudonymise-key-file`` (and ``--erasure-log`` when ``erasure_log``)."""
    group = parser.add_argument_group(
        "privacy", f"With a key (a file, or the {KEY_ENV} environment variable; at least "
                   "16 bytes), user ids are replaced at ingest by keyed HMAC-SHA256 "
                   "pseudonyms: the raw id is written nowhere (dead letters keep the line "
                   "with its userId pseudonymised). See docs/privacy.md.")
    group.add_argument("--pseudonymise-key-file", metavar="FILE",
                       help="file holding the pseudonymisation key")
    if erasure_log:
        group.add_argument("--erasure-log", metavar="FILE",
                           help="JSON-lines record of every erasure (DELETE /users/ID, "
                                f"shopstream erase); default {ERASURE_LOG_ENV}, else beside "
                                "a SQLite store (features.erasures.jsonl for features.db), "
                                "else erasures.jsonl")


def apply_privacy_options(args: argparse.Namespace,
                          environ: MutableMapping[str, str] | None = None,
                          ) -> Pseudonymiser | None:
    """Check the key and put it (and ``--erasure-log``) in ``environ`` (default
    ``os.environ``) for the decoders; return the pseudonymiser, or ``None``."""
    env = os.environ if environ is None else environ
    key = load_key(getattr(args, "pseudonymise_key_file", None), env)
    log = getattr(args, "erasure_log", None)
    if log:
        env[ERASURE_LOG_ENV] = str(log)
    if key is None:
        return None
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        msg = "--pseudonymise-key-file: the key must be UTF-8 text"
        raise ConfigError(msg) from None
    pseudonymiser = Pseudonymiser(key)
    env[KEY_ENV] = text
    return pseudonymiser
