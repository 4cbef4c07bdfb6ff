"""The lake on S3-compatible object storage: the URL, and the few calls the lake makes.

A lake URL is ``s3://BUCKET/PREFIX``; its objects are the keys under ``PREFIX/``, laid
out as a local lake's files are (``stream=NAME/date=YYYY-MM-DD/part-<run>-<seq>.parquet``)
plus the commit log (``_commits/``, :mod:`shopstream.lake.commits`) and the writer's lock
(``_lock.json``, :mod:`shopstream.lake.lease`).

Endpoint, region and credentials come from the standard AWS settings, as the AWS CLI
reads them: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_PROFILE`` (and ``~/.aws``), ``AWS_REGION`` or ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (an S3-compatible server: MinIO, Ceph,
Garage...). The URL may override the endpoint and region with pyarrow's query options:
``s3://lake/shop?endpoint_override=http://127.0.0.1:9000&region=eu-west-1``.

:class:`ObjectStore` makes the calls with boto3 (the conditional PUTs of the lock need
``If-None-Match`` and ``If-Match``, which pyarrow's S3 filesystem does not send) and
hands pyarrow an :class:`pyarrow.fs.S3FileSystem` with the same settings for reading.
Every failure is a :class:`~shopstream.lake.errors.LakeError` of one line naming the
URL, the call and the key.

Examples
--------
>>> url = parse_s3_url("s3://shop-lake/prod/events?region=eu-west-1")
>>> url.bucket, url.prefix, url.region, url.endpoint
('shop-lake', 'prod/events', 'eu-west-1', None)
>>> url.key("_lock.json")
'prod/events/_lock.json'
>>> is_s3_url("s3://shop-lake"), is_s3_url("lake")
(True, False)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from shopstream.lake.errors import LakeError
from shopstream.redaction import redact

__all__ = ["ObjectStore", "S3Url", "is_s3_url", "parse_s3_url"]

_T = TypeVar("_T")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_OPTIONS = ("endpoint_override", "region")
#: Calls that may run at once (uploads of a flush's files, reads of commits).
PARALLEL_CALLS = 8


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")


def is_s3_url(text: object) -> bool:
    """Whether ``text`` names a lake by URL rather than a directory (``s3://...``; any
    other ``scheme:/`` too, which :func:`parse_s3_url` refuses with one line).

    >>> is_s3_url("s3:/lake"), is_s3_url("gs://lake"), is_s3_url("./s3-lake")
    (True, True, False)
    """
    return isinstance(text, str) and bool(_SCHEME.match(text))


@dataclass(frozen=True)
class S3Url:
    """A parsed lake URL: bucket, key prefix (no slashes at its ends, may be empty) and
    the endpoint and region it overrides (``None``: from the AWS settings)."""

    bucket: str
    prefix: str
    endpoint: str | None = None
    region: str | None = None

    @property
    def url(self) -> str:
        """The URL without its options (how errors and summaries name the lake)."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def key(self, relative: str) -> str:
        """The object key of ``relative`` (a path inside the lake)."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def relative(self, key: str) -> str:
        """The inverse of :meth:`key`."""
        return key[len(self.prefix) + 1:] if self.prefix else key


def parse_s3_url(text: str) -> S3Url:
    """Parse ``s3://BUCKET[/PREFIX][?endpoint_override=URL&region=NAME]``.

    >>> parse_s3_url("s3://lake-1/").prefix
    ''
    >>> try:
    ...     parse_s3_url("s3:/lake")
    ... except LakeError as exc:
    ...     print(exc)
    lake URL 's3:/lake' is not s3://BUCKET/PREFIX
    >>> try:
    ...     parse_s3_url("s3://lake-1/p?endpoint=x")
    ... except LakeError as exc:
    ...     print(str(exc).split(": ", 1)[1])
    unknown option 'endpoint' (known: endpoint_override, region)
    """
    parts = urlsplit(text)
    if parts.scheme != "s3" or not text.startswith("s3://") or not parts.netloc:
        msg = f"lake URL {redact(text)!r} is not s3://BUCKET/PREFIX"
        raise LakeError(msg)
    if not _BUCKET.match(parts.netloc):
        shown = redact(text)  # a key and secret before the bucket are no bucket name
        msg = (f"lake URL {shown!r}: {urlsplit(shown).netloc!r} is not a bucket name (3 to "
               "63 lower-case letters, digits, dots and hyphens)")
        raise LakeError(msg)
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name in options:
        if name not in _OPTIONS:
            msg = (f"lake URL {redact(text)!r}: unknown option {name!r} "
                   f"(known: {', '.join(_OPTIONS)})")
            raise LakeError(msg)
    endpoint = options.get("endpoint_override") or None
    if endpoint is not None and "://" not in endpoint:
        endpoint = f"https://{endpoint}"
    return S3Url(parts.netloc, parts.path.strip("/"), endpoint, options.get("region") or None)


class ObjectStore:
    """The lake's calls on the bucket of ``url``; see the module's docstring."""

    def __init__(self, url: S3Url, connect_timeout_s: float = 5.0) -> None:
        self.location = url
        try:
            import boto3  # type: ignore[import-untyped]
            from botocore.config import Config  # type: ignore[import-untyped]
        except ImportError as exc:
            msg = f"a lake on S3 needs {exc.name}: pip install 'shopstream[s3]'"
            raise LakeError(msg) from None
        self._session = boto3.session.Session()
        self.region: str = (url.region or self._session.region_name
                            or os.environ.get("AWS_REGION") or "us-east-1")
        config = Config(connect_timeout=connect_timeout_s, read_timeout=60,
                        retries={"max_attempts": 3, "mode": "standard"},
                        s3={"addressing_style": "path"} if url.endpoint else None)
        self.client: Any = self._session.client("s3", region_name=self.region,
                                                endpoint_url=url.endpoint, config=config)
        #: The endpoint the calls go to (from the URL, the environment or AWS's own).
        self.endpoint: str = self.client.meta.endpoint_url

    def _call(self, action: str, relative: str, call: Callable[[], _T]) -> _T:
        """Run ``call``; turn its failure into one line naming the lake, action and key."""
        from botocore.exceptions import (  # type: ignore[import-untyped]
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        where = f"lake {self.location.url}: cannot {action} {relative!r}"
        try:
            return call()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in ("NoSuchBucket", "404") and action == "reach the bucket":
                why = f"bucket {self.location.bucket!r} does not exist at {redact(self.endpoint)}"
            elif code in ("AccessDenied", "403", "InvalidAccessKeyId",
                          "SignatureDoesNotMatch"):
                why = (f"access denied ({code}): check AWS_ACCESS_KEY_ID, "
                       "AWS_SECRET_ACCESS_KEY or AWS_PROFILE")
            else:
                why = f"{code}: {error.get('Message', exc)}"
            msg = f"{where}: {why}"
        except EndpointConnectionError:
            msg = (f"{where}: cannot reach the endpoint {redact(self.endpoint)} (set it with "
                   "AWS_ENDPOINT_URL or ?endpoint_override=)")
        except NoCredentialsError:
            msg = (f"{where}: no AWS credentials: set AWS_ACCESS_KEY_ID and "
                   "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")
        except BotoCoreError as exc:
            msg = f"{where}: {type(exc).__name__}: {exc}"
        raise LakeError(msg)

    def _failed(self, exc: Exception, code: str) -> bool:
        from botocore.exceptions import ClientError

        return isinstance(exc, ClientError) and str(
            exc.response.get("Error", {}).get("Code", "")) == code

    def check_bucket(self) -> None:
        """Fail with one line when the bucket cannot be reached or does not exist."""
        self._call("reach the bucket", "", lambda: self.client.head_bucket(
            Bucket=self.location.bucket))

    def put(self, relative: str, body: bytes) -> str:
        """Write ``body`` under ``relative``; return its ETag."""
        answer = self._call("write", relative, lambda: self.client.put_object(
            Bucket=self.location.bucket, Key=self.location.key(relative), Body=body))
        return str(answer["ETag"])

    def put_file(self, relative: str, path: Path) -> None:
        """Upload the file at ``path`` under ``relative`` in one PUT (up to 5 GB; a flush's
        file is far smaller): the object appears under its key only complete."""
        with path.open("rb") as body:
            self._call("upload", relative, lambda: self.client.put_object(
                Bucket=self.location.bucket, Key=self.location.key(relative), Body=body))

    def put_files(self, files: dict[str, Path]) -> None:
        """Upload ``files`` (key -> local path) a few at a time."""
        with ThreadPoolExecutor(PARALLEL_CALLS) as pool:
            list(pool.map(lambda item: self.put_file(*item), files.items()))

    def put_if(self, relative: str, body: bytes, etag: str | None) -> str | None:
        """Write ``body`` under ``relative`` only if no object is there (``etag`` None:
        ``If-None-Match: *``) or the object there has ``etag`` (``If-Match``); return the
        new ETag, or ``None`` when the condition failed."""
        condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
        try:
            answer = self.client.put_object(Bucket=self.location.bucket,
                                            Key=self.location.key(relative), Body=body,
                                            **condition)
        except Exception as exc:
            if any(self._failed(exc, c) for c in ("PreconditionFailed",
                                                  "ConditionalRequestConflict", "412")):
                return None
            if self._failed(exc, "NoSuchKey") and etag is not None:
                return None
            self._call("write", relative, _raise(exc))
            return None
        return str(answer["ETag"])

    def get(self, relative: str) -> tuple[bytes, str] | None:
        """The object under ``relative`` and its ETag, or ``None`` when there is none."""
        try:
            answer = self.client.get_object(Bucket=self.location.bucket,
                                            Key=self.location.key(relative))
        except Exception as exc:
            if self._failed(exc, "NoSuchKey"):
                return None
            self._call("read", relative, _raise(exc))
            return None
        body: bytes = answer["Body"].read()
        return body, str(answer["ETag"])

    def get_many(self, relatives: list[str]) -> list[bytes | None]:
        """:meth:`get` of each of ``relatives`` (bodies only), a few at a time."""
        with ThreadPoolExecutor(PARALLEL_CALLS) as pool:
            return [None if got is None else got[0]
                    for got in pool.map(self.get, relatives)]

    def keys(self, relative_prefix: str = "") -> Iterator[str]:
        """The keys (relative) under ``relative_prefix``, in key order."""
        paginator = self.client.get_paginator("list_objects_v2")
        prefix = self.location.key(relative_prefix)
        pages = self._call("list", relative_prefix, lambda: list(paginator.paginate(
            Bucket=self.location.bucket, Prefix=prefix)))
        for page in pages:
            for item in page.get("Contents", ()):
                yield self.location.relative(str(item["Key"]))

    def listing(self, relative_prefix: str = "") -> dict[str, str]:
        """The keys (relative) under ``relative_prefix`` and their ETags, in key order."""
        paginator = self.client.get_paginator("list_objects_v2")
        prefix = self.location.key(relative_prefix)
        pages = self._call("list", relative_prefix, lambda: list(paginator.paginate(
            Bucket=self.location.bucket, Prefix=prefix)))
        return {self.location.relative(str(item["Key"])): str(item.get("ETag", ""))
                for page in pages for item in page.get("Contents", ())}

    def delete(self, relatives: list[str]) -> None:
        """Delete the objects under ``relatives`` (missing ones are no error)."""
        for start in range(0, len(relatives), 1000):
            chunk = relatives[start:start + 1000]
            self._call("delete", chunk[0], lambda chunk=chunk: self.client.delete_objects(  # type: ignore[misc]
                Bucket=self.location.bucket,
                Delete={"Objects": [{"Key": self.location.key(r)} for r in chunk],
                        "Quiet": True}))

    def delete_if(self, relative: str, etag: str) -> bool:
        """Delete the object under ``relative`` if it still has ``etag``."""
        try:
            self.client.delete_object(Bucket=self.location.bucket,
                                      Key=self.location.key(relative), IfMatch=etag)
        except Exception as exc:
            if any(self._failed(exc, c) for c in ("PreconditionFailed", "412", "NoSuchKey")):
                return False
            self._call("delete", relative, _raise(exc))
        return True

    def arrow_filesystem(self) -> Any:
        """A :class:`pyarrow.fs.S3FileSystem` with this store's endpoint, region and
        credentials (paths on it are ``BUCKET/KEY``)."""
        from pyarrow import fs

        frozen = self._call("read the credentials of", "", self._credentials)
        options: dict[str, Any] = {"region": self.region}
        if frozen is None:
            options["anonymous"] = True
        else:
            options.update(access_key=frozen.access_key, secret_key=frozen.secret_key,
                           session_token=frozen.token)
        if self.location.endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or \
                os.environ.get("AWS_ENDPOINT_URL"):
            scheme, _, host = self.endpoint.partition("://")
            options.update(endpoint_override=host, scheme=scheme)
        return fs.S3FileSystem(**options)

    def _credentials(self) -> Any:
        credentials = self._session.get_credentials()
        return None if credentials is None else credentials.get_frozen_credentials()

    def path(self, relative: str) -> str:
        """``relative``'s path on :meth:`arrow_filesystem`."""
        return f"{self.location.bucket}/{self.location.key(relative)}"


def _raise(exc: Exception) -> Callable[[], Any]:
    """A call that raises ``exc`` (so :meth:`ObjectStore._call` words it)."""
    def again() -> Any:
        raise exc
    return again
