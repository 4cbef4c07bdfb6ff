"""The one exception hierarchy of shopstream.

Every error the package raises on purpose derives from :class:`ShopstreamError`, so a
caller (the CLI, the API) can tell our errors from bugs and show them without a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["CheckpointError", "ConfigError", "DatasetError", "DecodeError",
           "MissingDependencyError", "ShopstreamError", "SourceError", "require",
           "require_positive"]


class ShopstreamError(Exception):
    """Base class of every error shopstream raises on purpose."""


class ConfigError(ShopstreamError, ValueError):
    """A configuration value is out of range or of the wrong kind."""


def require_positive(config: object, *names: str, allow_zero: bool = False) -> None:
    """Raise a :class:`ConfigError` naming the config, the field and the value when one of
    ``names`` is not above 0 (or below 0 with ``allow_zero``).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class ToyConfig:
    ...     size: int = 0
    >>> require_positive(ToyConfig(), "size")
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: ToyConfig.size must be > 0, got 0
    >>> require_positive(ToyConfig(size=float("nan")), "size")
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: ToyConfig.size must be > 0, got nan
    """
    for name in names:
        value = getattr(config, name)
        # Written as "not (in range)" so that NaN, which compares false, is refused too.
        if not (value >= 0 if allow_zero else value > 0):
            bound = ">= 0" if allow_zero else "> 0"
            msg = f"{type(config).__name__}.{name} must be {bound}, got {value!r}"
            raise ConfigError(msg)


class DecodeError(ShopstreamError, ValueError):
    """An input record could not be turned into a canonical event.

    ``stage`` says where it failed: ``decode`` (not JSON, wrong types, missing fields) or
    ``validate`` (well-formed but not a usable event).
    """

    def __init__(self, message: str, stage: str = "decode") -> None:
        super().__init__(message)
        self.stage = stage


class CheckpointError(ShopstreamError):
    """A checkpoint could not be written, read or applied."""


class SourceError(ShopstreamError):
    """An input could not be opened or read."""


class DatasetError(ShopstreamError):
    """A real dataset could not be fetched or converted."""


class MissingDependencyError(ShopstreamError, ImportError):
    """An optional dependency is not installed; ``extra`` is the shopstream extra that
    brings it (``serve``, ``kafka``...) and the message says what to install."""

    def __init__(self, message: str, module: str = "", extra: str = "") -> None:
        super().__init__(message)
        self.module = module
        self.extra = extra


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to
    install: ``extra`` is its name (``"serve"``) or the requirement
    (``"shopstream[serve]"``); another requirement (``"redis[hiredis]"``) is named as is.

    Examples
    --------
    >>> require("json", "serve").__name__
    'json'
    >>> require("no_such_module", "serve")
    Traceback (most recent call last):
    ...
    shopstream.errors.MissingDependencyError: no_such_module is not installed; it comes \
with the 'serve' extra: pip install 'shopstream[serve]'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        pass
    if "[" in extra and not extra.startswith("shopstream["):  # a requirement of its own
        msg = f"{module} is not installed: pip install '{extra}'"
        raise MissingDependencyError(msg, module)
    name = extra.removeprefix("shopstream[").removesuffix("]")
    msg = (f"{module} is not installed; it comes with the {name!r} extra: "
           f"pip install 'shopstream[{name}]'")
    raise MissingDependencyError(msg, module, name)
