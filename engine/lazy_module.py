"""A module imported on first use of one of its names.

GitPython takes 0.1-0.5 s to import and a command reading a local work tree
at its HEAD does not need it (``source.open_source`` asks the ``git`` command
itself): the modules that use it for remote sources, revisions and pushes
name it through a ``LazyModule`` so that only those pay for it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["LazyModule"]


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
