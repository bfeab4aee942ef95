"""Flux's ``spec.healthCheckExprs``: CEL expressions that say when an object of
one apiVersion and kind is current, in progress or failed.

Each entry names an ``apiVersion`` and ``kind`` and holds ``current``
(required), ``inProgress`` and ``failed``. The object's top-level fields are
the expression's variables (``status.conditions.filter(c, c.type ==
'Ready').all(c, c.status == 'True')``); ``metadata``, ``spec`` and ``status``
are always defined, empty when the object has none. As in Flux, kstatus's
generic checks come first (being deleted, a generation not yet observed), then
``inProgress``, ``failed``, ``current`` in that order; when none is true, or an
expression cannot be evaluated yet (a field not there), the object is in
progress and the wait's timeout ends it.

Expressions are compiled once, when the Kustomization is read, by the CEL
library the compositions use (``cel``, common-expression-language).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.health.kstatus import KStatus, KStatusResult
from gitwave.engine.health.status import as_int, as_mapping, status_of
from gitwave.engine.model import Manifest

__all__ = ["HealthExpr", "compile_health_expr"]

# Flux's order: in progress wins over failed, failed over current.
_ORDER = (
    ("inProgress", KStatus.IN_PROGRESS),
    ("failed", KStatus.FAILED),
    ("current", KStatus.CURRENT),
)


@dataclass(frozen=True, slots=True)
class HealthExpr:
    """One ``healthCheckExprs`` entry, compiled."""

    api_version: str
    kind: str
    sources: tuple[tuple[str, str], ...]  # (field, expression) in Flux's order
    programs: tuple[Any, ...] = field(repr=False, compare=False, default=())

    def matches(self, manifest: Manifest) -> bool:
        return (
            str(manifest.get("apiVersion") or "") == self.api_version
            and str(manifest.get("kind") or "") == self.kind
        )

    def evaluate(self, manifest: Manifest) -> KStatusResult:
        """The object's status by these expressions (see the module docstring)."""
        meta = as_mapping(manifest.get("metadata"))
        if meta.get("deletionTimestamp"):
            return KStatusResult(KStatus.TERMINATING, "Resource scheduled for deletion")
        status = status_of(manifest)
        if (
            "generation" in meta
            and "observedGeneration" in status
            and as_int(meta["generation"]) != as_int(status["observedGeneration"])
        ):
            return KStatusResult(KStatus.IN_PROGRESS, "latest generation not observed yet")
        variables: dict[str, Any] = {"metadata": {}, "spec": {}, "status": {}}
        variables.update(_plain(manifest))
        for (name, source), program in zip(self.sources, self.programs, strict=True):
            try:
                value = program.execute(variables)
            except Exception as exc:  # the Rust core raises RuntimeError/TypeError/ValueError
                return KStatusResult(
                    KStatus.IN_PROGRESS, f"healthCheckExprs {name} cannot be evaluated yet: {exc}"
                )
            if value is True:
                status_value = dict(_ORDER)[name]
                return KStatusResult(status_value, f"healthCheckExprs {name} is true: {source}")
            if value is not False:
                return KStatusResult(
                    KStatus.UNKNOWN,
                    f"healthCheckExprs {name} gave {value!r}, not true or false: {source}",
                )
        return KStatusResult(KStatus.IN_PROGRESS, "no healthCheckExprs expression is true yet")


def compile_health_expr(api_version: str, kind: str, fields: Mapping[str, str]) -> HealthExpr:
    """Compile one entry's expressions (``current`` required). Raises ValueError
    naming the field whose expression does not compile."""
    if not fields.get("current"):
        raise ValueError("current is required")
    import cel  # on first use: importing it costs 0.1 s (it pulls in prompt_toolkit)

    sources: list[tuple[str, str]] = []
    programs: list[Any] = []
    for name, _ in _ORDER:
        source = fields.get(name)
        if not source:
            continue
        try:
            programs.append(cel.compile(source))
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"{name}: {first}") from None
        sources.append((name, source))
    return HealthExpr(api_version, kind, tuple(sources), tuple(programs))


def _plain(value: Any) -> Any:
    """The manifest as plain dicts and lists (the CEL core takes no Mapping views)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
