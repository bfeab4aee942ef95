"""Where composition functions come from: installed entry points or an explicit map.

A pipeline step's ``functionRef.name`` is looked up here. Built in:
``function-patch-and-transform`` (also under the name Upbound's marketplace
installs it as, ``crossplane-contrib-function-patch-and-transform``). Other
functions are Python packages installed next to gitwave that declare an entry
point in the group ``gitwave.composition_functions``::

    [project.entry-points."gitwave.composition_functions"]
    function-auto-ready = "my_package.functions:auto_ready"

Code from the repository being synced is never loaded.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import metadata
from types import MappingProxyType

from gitwave.compositions.functions import CompositionFunction
from gitwave.compositions.patch_and_transform import patch_and_transform
from gitwave.engine.errors import GitwaveError

__all__ = ["BUILTIN_FUNCTIONS", "ENTRY_POINT_GROUP", "FunctionRegistry"]

ENTRY_POINT_GROUP = "gitwave.composition_functions"

BUILTIN_FUNCTIONS: Mapping[str, CompositionFunction] = MappingProxyType(
    {
        "function-patch-and-transform": patch_and_transform,
        "crossplane-contrib-function-patch-and-transform": patch_and_transform,
    }
)


class FunctionRegistry:
    """Composition functions by name.

    ``FunctionRegistry({"fn": callable})`` holds the built-ins plus ``fn``
    (tests pass lambdas this way); ``FunctionRegistry.installed()`` holds the
    built-ins plus every installed entry point.
    """

    def __init__(
        self,
        functions: Mapping[str, CompositionFunction] | None = None,
        *,
        builtins: bool = True,
    ) -> None:
        merged: dict[str, CompositionFunction] = dict(BUILTIN_FUNCTIONS) if builtins else {}
        merged.update(functions or {})
        self._functions = merged
        self._entry_points: dict[str, metadata.EntryPoint] = {}
        self._builtin = frozenset(n for n, f in merged.items() if BUILTIN_FUNCTIONS.get(n) is f)

    @classmethod
    def installed(cls) -> FunctionRegistry:
        """The built-ins and every function installed under ENTRY_POINT_GROUP
        (entry points are loaded on first use)."""
        registry = cls()
        for entry_point in _entry_points():
            if entry_point.name not in registry._functions:
                registry._entry_points[entry_point.name] = entry_point
        return registry

    @property
    def names(self) -> tuple[str, ...]:
        """Every registered function name, sorted."""
        return tuple(sorted({*self._functions, *self._entry_points}))

    def get(self, name: str) -> CompositionFunction | None:
        """The function called ``name``; None when none is registered.

        Raises GitwaveError when an installed entry point fails to load.
        """
        if name in self._functions:
            return self._functions[name]
        entry_point = self._entry_points.get(name)
        if entry_point is None:
            return None
        try:
            loaded = entry_point.load()
        except Exception as err:
            raise GitwaveError(
                f"composition function {name!r} ({entry_point.value}) failed to load: {err}",
                hint="reinstall the package that provides it",
            ) from None
        if not callable(loaded):
            raise GitwaveError(
                f"composition function {name!r} ({entry_point.value}) is not callable"
            )
        self._functions[name] = loaded
        return self._functions[name]

    def is_builtin(self, name: str) -> bool:
        """True for gitwave's own functions (they never change their request)."""
        return name in self._builtin


@functools.cache
def _entry_points() -> tuple[metadata.EntryPoint, ...]:
    return tuple(sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name))


@functools.cache
def default_registry() -> FunctionRegistry:
    """The registry compose() uses when none is given (built once per process)."""
    return FunctionRegistry.installed()
