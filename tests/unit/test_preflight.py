"""Start-up checks of long-running commands: one line, no secret (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopstream.cli import main

# Port 1 on the loopback refuses at once. libpq's own reason repeats the host and port and
# adds a hint line; the second DSN is one libpq cannot parse (an unquoted password with a
# blank), and its reason quotes the password's second word.
_DSNS = [
    ("host=127.0.0.1 port=1 user=shop password='s3cret zag' dbname=shop connect_timeout=2",
     "PostgreSQL at host=127.0.0.1 port=1 user=shop password=*** dbname=shop "
     "connect_timeout=2 is unreachable: Connection refused"),
    ("host=127.0.0.1 port=1 password=s3cret zag",
     "PostgreSQL at host=127.0.0.1 port=1 password=*** *** is unreachable: invalid dsn: "
     'missing "=" after "***" in connection info string'),
    ("postgresql://shop:s3cret%20zag@127.0.0.1:1/shop?connect_timeout=2",
     "PostgreSQL at postgresql://shop:***@127.0.0.1:1/shop?connect_timeout=2 is "
     "unreachable: Connection refused"),
]


@pytest.mark.parametrize(("dsn", "line"), _DSNS)
def test_run_postgres_unreachable_is_one_line_without_the_password(
        dsn: str, line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--postgres", dsn, "--output-dir", str(tmp_path / "out")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"shopstream run: error: {line}\n"
    assert "s3cret" not in err and "zag" not in err
