"""The dependency rule of the house, checked on every module's imports.

``events`` <- ``state`` <- ``mining``, ``recommend``, ``profiles`` <- ``operators`` <-
``pipeline`` <- runners, connectors, stores, lake, jobs, privacy, api, cli: nothing
points the other way, and only ``runners/flink`` imports PyFlink.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shopstream"

# What each inner layer may import from shopstream (beyond itself).
_BASE = {"errors", "lazy"}
ALLOWED: dict[str, set[str]] = {
    "events": _BASE,
    "state": _BASE | {"events"},
    "mining": _BASE | {"events", "state"},
    "recommend": _BASE | {"events", "state", "mining"},
    "profiles": _BASE | {"events", "state"},
    "operators": _BASE | {"events", "state", "mining", "recommend", "profiles"},
    "topology": _BASE | {"events", "state", "operators"},
    "pipeline": _BASE | {"events", "state", "mining", "recommend", "profiles", "operators",
                         "topology"},
}
# Outer packages that must not import the ones named.
FORBIDDEN: dict[str, set[str]] = {
    "connectors": {"api", "cli"},
    "stores": {"api", "cli"},
    "lake": {"api", "cli"},
    "runners": {"api", "cli"},
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _layer(path: Path) -> str:
    part = path.relative_to(PACKAGE).parts[0]
    return part.removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _shopstream_layers(names: set[str]) -> set[str]:
    return {n.split(".")[1] for n in names if n.startswith("shopstream.") and n.count(".")}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_what_its_layer_may(path: Path) -> None:
    layer = _layer(path)
    names = _imports(path)
    used = _shopstream_layers(names) - {layer}
    if layer in ALLOWED:
        assert used <= ALLOWED[layer], (
            f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(used - ALLOWED[layer])}")
    if layer in FORBIDDEN:
        assert not used & FORBIDDEN[layer], (
            f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(used & FORBIDDEN[layer])}")
    flink = path.relative_to(PACKAGE).parts[:2] == ("runners", "flink")
    if not flink:
        assert not {n for n in names if n.split(".")[0] == "pyflink"}, (
            f"{path.relative_to(PACKAGE)} imports PyFlink (only runners/flink may)")


def _packages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.rglob("__init__.py")
                  if "__pycache__" not in p.parts)


@pytest.mark.parametrize("package", _packages(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_every_package_has_an_errors_module_under_shopstream_error(package: Path) -> None:
    from shopstream.errors import ShopstreamError

    assert (package / "errors.py").is_file(), (
        f"{package.relative_to(PACKAGE.parent)} has no errors.py")
    name = ".".join(package.relative_to(PACKAGE.parent).parts) + ".errors"
    module = importlib.import_module(name)
    exported = [getattr(module, n) for n in module.__all__]
    classes = [c for c in exported if isinstance(c, type) and issubclass(c, BaseException)]
    assert classes, f"{name} exports no exception class"
    strays = [c.__name__ for c in vars(module).values()
              if isinstance(c, type) and issubclass(c, BaseException)
              and not issubclass(c, ShopstreamError)]
    assert not strays, f"{name}: {strays} do not derive from ShopstreamError"


# Modules outside stores/ that still import require / MissingDependencyError through
# stores.base (its re-export for old callers); their owner moves them to shopstream.errors.
_PENDING_REQUIRE: set[str] = set()


def _require_modules() -> list[Path]:
    return [p for p in _modules() if _layer(p) != "stores"
            and str(p.relative_to(PACKAGE)) not in _PENDING_REQUIRE]


@pytest.mark.parametrize("path", _require_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_require_comes_from_shopstream_errors(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    through_stores = sorted(
        alias.name for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "shopstream.stores.base"
        for alias in node.names if alias.name in {"require", "MissingDependencyError"})
    assert not through_stores, (
        f"{path.relative_to(PACKAGE)} imports {through_stores} from shopstream.stores.base, "
        "not shopstream.errors")
