"""A module imported on first use of one of its names.

GitPython takes 0.1-0.5 s to import and a command reading a local work tree
at its HEAD does not need it (``source.open_source`` asks the ``git`` command
itself): the modules that use it for remote sources, revisions and pushes
name it through a ``LazyModule`` so that only those pay for it.

``lazy_exports`` is the other way round: a module's own names that live in
modules it does not import until one is asked for (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["LazyModule", "lazy_exports"]


class LazyModule:
    """Stands for the module ``name``: the first attribute read imports it
    (``importlib`` serialises concurrent first imports)."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)


def lazy_exports(
    module: str, where: Mapping[str, str], *, package: str | None = None
) -> Callable[[str], Any]:
    """The body of module ``module``'s ``__getattr__`` (PEP 562): name ``N``
    listed in ``where`` is ``N`` of module ``PACKAGE.where[N]`` (``package``
    defaults to ``module``), imported on the first look-up and then bound in
    ``module`` so later look-ups skip the hook. Any other name raises
    AttributeError, as a missing attribute does.

    Used as ``def __getattr__(name: str) -> Any: return _lazy(name)``: a
    ``def`` is what type checkers read a module's ``__getattr__`` from."""
    namespace = sys.modules[module].__dict__
    base = module if package is None else package

    def lookup(name: str) -> Any:
        submodule = where.get(name)
        if submodule is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{base}.{submodule}"), name)
        namespace[name] = value  # later look-ups skip the hook
        return value

    return lookup
