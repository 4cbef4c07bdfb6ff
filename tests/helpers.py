"""Small builders shared by tests (not a test module): events, and a ``shopstream``
command run as its own HTTP server."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest

from shopstream.events import EventType, ShopperEvent

_ENC = msgspec.json.Encoder()


def ev(kind: str, ts: int, session: str = "s1", **fields: Any) -> ShopperEvent:
    """A canonical event with an id derived from its position, for readable tests."""
    fields.setdefault("event_id", f"{session}-{ts}-{kind}")
    return ShopperEvent(EventType(kind), ts, session, **fields)


def jsonl(events: list[ShopperEvent]) -> bytes:
    return b"".join(_ENC.encode(e) + b"\n" for e in events)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, nor on the next port.

    ``shopstream serve`` puts its read workers on ``--port + 1`` unless told otherwise, so a
    port whose neighbour another test (or another pytest worker) holds would fail its start
    with "already in use". Both ports are held while they are checked.
    """
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as neighbour:
                try:
                    neighbour.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    msg = "no free pair of neighbouring TCP ports on 127.0.0.1 after 100 tries"
    raise RuntimeError(msg)


@dataclass
class CliServer:
    """A ``shopstream`` command serving HTTP in its own process (see :func:`cli_server`)."""

    process: subprocess.Popen[str]
    port: int
    client: httpx.Client
    #: What the command wrote to stderr, once it has stopped.
    stderr: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def cli_server(args: Sequence[str], timeout_s: float = 60.0,
               client_timeout_s: float = 30.0) -> Iterator[CliServer]:
    """Run ``shopstream ARGS --port P`` (a free port) until its ``/health`` answers below
    500; yield it with an ``httpx`` client on its address; terminate it at the end (its
    stderr is then in ``.stderr``). Fails the test if the command exits or does not
    answer within ``timeout_s``."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli", *args, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = CliServer(process, port, httpx.Client(base_url=f"http://127.0.0.1:{port}",
                                                   timeout=client_timeout_s))
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if server.client.get("/health").status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                out, err = process.communicate(timeout=10)
                pytest.fail(f"shopstream {args[0]} did not start: {out}\n{err}")
            time.sleep(0.1)
        yield server
    finally:
        server.client.close()
        if process.poll() is None:
            process.terminate()
        try:
            _, server.stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, server.stderr = process.communicate()


def new_s3_bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket on the S3-compatible server at ``endpoint``, with the AWS settings the
    commands read put in the environment; its name."""
    import uuid

    from shopstream.lake.object_store import ObjectStore, parse_s3_url

    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_ENDPOINT_URL", endpoint), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    ObjectStore(parse_s3_url(f"s3://{bucket}")).client.create_bucket(Bucket=bucket)
    return bucket
