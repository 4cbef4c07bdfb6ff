"""Secrets hidden wherever they are shown (issue 18): the one redaction of text, the
shown PostgreSQL DSN, PostgreSQL's reasons, which may quote a piece of the DSN, and a
webhook's URL (host alone) in the run summary and the webhook's error lines."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from shopstream.cli import main
from shopstream.connectors import postgres_cdc
from shopstream.connectors.webhook import WebhookConfig, WebhookTap
from shopstream.errors import ConfigError
from shopstream.events.records import Output
from shopstream.jobs.errors import JobError
from shopstream.lake.errors import LakeError
from shopstream.lake.object_store import parse_s3_url
from shopstream.redaction import redact, secrets_of
from shopstream.runners.embedded.summary import RunSummary
from shopstream.shopdb import connection
from shopstream.shopdb.connection import connection_reason, describe, psycopg2, safe_dsn
from shopstream.stores.open import redact_url


def test_every_place_uses_one_redaction() -> None:
    assert redact_url is redact and connection.redact is redact
    assert postgres_cdc.safe_dsn is safe_dsn and postgres_cdc.connection_reason is (
        connection_reason) and postgres_cdc.connection_error is describe


@pytest.mark.parametrize(("text", "shown", "secrets"), [
    ("postgresql://user:pa%20ss@host/db", "postgresql://user:***@host/db", ["pa%20ss"]),
    ("redis://:pass@host", "redis://:***@host", ["pass"]),
    ("rediss://user:pass@host:6380/0", "rediss://user:***@host:6380/0", ["pass"]),
    ("redis://shop:p@ss@cache:6379/0", "redis://shop:***@cache:6379/0", ["p@ss", "ss@"]),
    ("redis://shop:p:a:ss@cache", "redis://shop:***@cache", ["p:a:ss"]),
    ("postgresql://shop:a@b:c@db:5432/x?sslmode=require",
     "postgresql://shop:***@db:5432/x?sslmode=require", ["a@b", "b:c"]),
    ("host=db user=shop password='s3cret zag' dbname=shop",
     "host=db user=shop password=*** dbname=shop", ["s3cret", "zag"]),
    (r"host=db password='it\'s here' port=1", "host=db password=*** port=1", ["it", "here"]),
    ("host=db password = 'x y' port=1", "host=db password = *** port=1", ["x y"]),
    (r"host=db password=a\ b port=1", "host=db password=*** port=1", ["a\\", " b"]),
    ("PASSWORD=Up sslpassword=key1", "PASSWORD=*** sslpassword=***", ["Up", "key1"]),
    ("cannot read 'redis://h:1?password=pw&db=2': refused",
     "cannot read 'redis://h:1?password=***&db=2': refused", ["pw"]),
    ("redis://h:6379/0 and /data/features.db", "redis://h:6379/0 and /data/features.db", []),
])
def test_passwords_are_hidden_in_every_form(text: str, shown: str, secrets: list[str]) -> None:
    hidden = redact(text)
    assert hidden == shown
    assert not [secret for secret in secrets if secret in hidden]


# The names the stores and the shop database used before there was one implementation:
# each left a piece of some of these passwords in the text.
@pytest.mark.parametrize("hide", [redact_url, connection.redact, safe_dsn],
                         ids=["redact_url", "shopdb.redact", "safe_dsn"])
@pytest.mark.parametrize("text", ["redis://shop:p@ss@cache:6379/0",
                                  "host=db password='s3cret zag' dbname=shop",
                                  "rediss://:p@ss@cache"])
def test_the_old_names_hide_the_same(hide: Callable[[str], str], text: str) -> None:
    assert hide(text) == redact(text)
    assert "ss@" not in hide(text) and "zag" not in hide(text)


def test_a_dsn_libpq_cannot_parse_shows_no_word_of_its_password() -> None:
    # Unquoted password with a blank: libpq takes "zag" for the next key.
    assert safe_dsn("host=db password=s3cret zag port=1") == "host=db password=*** *** ***"


_CONNECT = [
    # libpq quotes the word it could not parse.
    ("host=127.0.0.1 port=1 password=s3cret zag",
     'invalid dsn: missing "=" after "***" in connection info string', ["s3cret", "zag"]),
    # libpq ends the password at the first "@": the rest becomes the host name it shows.
    ("postgresql://u:p@ss@127.0.0.1:1/db?connect_timeout=2",
     'could not translate host name "***" to address: ', ["ss@"]),
    ("postgresql://u:pa%zz@127.0.0.1:1/db",
     'invalid dsn: invalid percent-encoded token: "***"', ["pa%zz"]),
    ("host=127.0.0.1 port=1 user=shop password='s3cret zag' connect_timeout=2",
     "Connection refused", ["s3cret", "zag"]),
]


@pytest.mark.parametrize(("dsn", "reason", "secrets"), _CONNECT)
def test_a_failed_connection_is_one_line_without_the_password(
        dsn: str, reason: str, secrets: list[str]) -> None:
    pg = psycopg2()
    with pytest.raises(pg.Error) as caught:
        pg.connect(dsn)
    line = describe(caught.value, dsn, "cannot connect")
    assert line.startswith(f"PostgreSQL at {safe_dsn(dsn)}: cannot connect: {reason}")
    assert "\n" not in line and not [secret for secret in secrets if secret in line], line


# A webhook URL's path and query may be its token (Slack-style hooks, ?token=).
_HOOK = "http://127.0.0.1:9/services/T0/B0/s3cretPATH?token=s3cretQUERY"


@pytest.mark.parametrize("json_out", [False, True])
def test_the_run_summary_shows_the_webhook_host_alone(
        json_out: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"  # no fraud alert: nothing is sent
    src.write_text('{"eventType": "PAGE_VIEW", "timestamp": 1, "sessionId": "s"}\n')
    argv = ["run", "--input", str(src), "--output-dir", str(tmp_path / "o"), "--no-progress",
            "--webhook-url", _HOOK]
    assert main(argv + ["--json"] * json_out) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out, out
    if json_out:
        assert list(json.loads(out)["webhooks"]) == ["http://127.0.0.1:9/..."]
    else:
        assert "webhook http://127.0.0.1:9/...: 0 delivered, 0 failed" in out, out


def test_the_webhook_error_lines_show_the_host_alone(caplog: pytest.LogCaptureFixture) -> None:
    # A blank in the path: http.client refuses the request and quotes the path.
    tap = WebhookTap(WebhookConfig(_HOOK.replace("PATH", "PA TH"), max_attempts=1))
    with caplog.at_level(logging.INFO, logger="shopstream.connectors.webhook"):
        tap.write(Output("fraud-alerts", "u1", {"userId": "u1"}))
        tap.close()
    assert tap.stats().failed == 1
    lines = [r.getMessage() for r in caplog.records]
    assert any("InvalidURL" in line for line in lines), lines
    assert "webhook http://127.0.0.1:9/...: 0 delivered, 1 failed, 0 dropped" in lines
    assert not any("s3cret" in line for line in lines), lines
    with pytest.raises(ConfigError, match=r"got 'ftp://host/\.\.\.'$"):
        WebhookConfig("ftp://host/s3cret")


def test_a_webhook_config_repr_hides_its_url() -> None:
    from shopstream.connectors.webhook import WebhookConfig

    shown = repr(WebhookConfig("https://hooks.example.com/T00/B00/s3cretPATH?token=s3cretQ"))
    assert "s3cret" not in shown
    assert "WebhookConfig(" in shown


# A user information holding "/" (AWS secret keys do): hidden whole; a path holding "@"
# without user information is left as it is.
@pytest.mark.parametrize(("text", "shown"), [
    ("s3://AKIA:ab/cd@bucket/p", "s3://AKIA:***@bucket/p"),
    ("s3://AKIA:s3cret@bucket/p", "s3://AKIA:***@bucket/p"),
    ("s3://AKIA:12/cd@bucket/p", "s3://AKIA:***@bucket/p"),  # "AKIA:12": no port in s3
    ("redis://u:p/w@h:6379", "redis://u:***@h:6379"),
    ("rediss://to/ken@cache/0", "rediss://***@cache/0"),
    ("s3://AKIA:a?b#c/d@bucket/p?region=x", "s3://AKIA:***@bucket/p?region=x"),
    ("cannot read 's3://AKIA:ab/cd@bucket/p': no", "cannot read 's3://AKIA:***@bucket/p': no"),
    ("https://u:pw9@host/a@b", "https://u:***@host/a@b"),
    ("a redis://h/0,redis://u:pw/9@h2 b", "a redis://h/0,redis://u:***@h2 b"),
    ("https://host/a@b", "https://host/a@b"),
    ("https://host:443/a@b?c=d@e", "https://host:443/a@b?c=d@e"),
    ("s3://bucket/a@b/key", "s3://bucket/a@b/key"),
    ("postgresql://shop/x@db", "postgresql://shop/x@db"),
])
def test_a_user_information_holding_a_slash_is_hidden_whole(text: str, shown: str) -> None:
    assert redact(text) == shown
    if ":***@" in shown:  # secrets_of: the passwords
        assert [s for s in secrets_of(text) if s in text] and not [
            s for s in secrets_of(text) if s in shown], secrets_of(text)


_LAKE = "s3://AKIA:ab/cd@bucket/p"  # "ab/cd": a secret key before a bucket


@pytest.mark.parametrize("url", [_LAKE, "s3://AKIA:ab/cd@Bucket_/p",
                                 "s3://AKIA:ab/cd@bucket/p?nope=1"])
def test_the_lake_url_errors_hide_the_secret_key(url: str) -> None:
    with pytest.raises(LakeError) as caught:
        parse_s3_url(url)
    assert "ab/cd" not in str(caught.value) and "AKIA:***@" in str(caught.value), caught.value


@pytest.mark.parametrize("json_out", [False, True])
def test_the_run_summary_hides_the_lake_secret_key(
        json_out: bool, capsys: pytest.CaptureFixture[str]) -> None:
    from shopstream.cli.run import _print_summary

    args = argparse.Namespace(lake=_LAKE, json=json_out)
    lake = SimpleNamespace(rows={"events": 3}, files=1)
    _print_summary(args, RunSummary(3, 3, 0, 0, 1, {}, 1.0, "out"), [], None, lake)
    out = capsys.readouterr().out
    assert "ab/cd" not in out and "s3://AKIA:***@bucket/p" in out, out


@pytest.mark.parametrize(("source", "status"), [("shop", 404), ("events", 500)])
def test_the_reports_routes_hide_the_lake_secret_key(source: str, status: int) -> None:
    import fastapi

    from shopstream.api.reports_routes import _run

    with pytest.raises(fastapi.HTTPException) as caught:
        _run(_LAKE, "revenue", source, 10)
    assert caught.value.status_code == status
    assert "ab/cd" not in str(caught.value.detail), caught.value.detail


def test_the_jobs_error_lines_hide_the_lake_secret_key() -> None:
    from shopstream.jobs.history import read_history
    from shopstream.jobs.new_shoppers import _lake_last_seen

    for read in (lambda: read_history(_LAKE, None, 7),
                 lambda: _lake_last_seen(_LAKE, set(), 0, 10)):
        with pytest.raises(JobError) as caught:
            read()
        assert "ab/cd" not in str(caught.value) and "AKIA:***@" in str(caught.value)
