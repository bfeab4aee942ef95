"""Composite resources: XRDs, Compositions and CEL-referenced resource graphs.

The Compose stage of the pipeline::

    Source → Render → Compose → Graph → Plan → Sync
                         │
      XRD + Composition ─┤  validate the XR (schema + defaults), pick its Composition,
      kro RGD ───────────┘  run patch-and-transform or the function pipeline, then turn
                            ${…} references into graph edges (late-bound at sync)

Public API: :func:`compose` → :class:`Composed`; :func:`resolve`,
:func:`unresolved` and :class:`PendingReference` for the sync stage;
:class:`FunctionRegistry` and the function request/response types.
"""

from typing import TYPE_CHECKING, Any

# ``compose`` and ``references`` name both a submodule and a function: they are
# bound here, or importing the submodule would leave the package attribute the
# module. Both are light: compose imports the composition engine only for a
# render that holds a definition.
from gitwave.compositions.compose import compose, is_composed
from gitwave.compositions.references import (
    ANNOTATION_REFERENCES,
    PendingReference,
    references,
    resolve,
    unresolved,
)
from gitwave.engine.api import lazy_exports

# The names below are imported on first use (PEP 562), not with the package:
# ``compose`` of a render with no XRD, Composition or RGD (most apps) needs
# neither Crossplane's nor kro's engine, nor the function pipeline.
if TYPE_CHECKING:
    from gitwave.compositions.connection import ConnectionDetails
    from gitwave.compositions.functions import (
        CompositionFunction,
        FunctionError,
        FunctionRequest,
        FunctionResponse,
        FunctionResult,
        Ready,
        Severity,
    )
    from gitwave.compositions.model import (
        ANNOTATION_COMPOSITE,
        Composed,
        ComposedReadiness,
        CompositeNode,
        CompositeStatus,
        Condition,
        ConditionStatus,
    )
    from gitwave.compositions.registry import ENTRY_POINT_GROUP, FunctionRegistry

_WHERE = {
    "ConnectionDetails": "connection",
    "CompositionFunction": "functions",
    "FunctionError": "functions",
    "FunctionRequest": "functions",
    "FunctionResponse": "functions",
    "FunctionResult": "functions",
    "Ready": "functions",
    "Severity": "functions",
    "ANNOTATION_COMPOSITE": "model",
    "Composed": "model",
    "ComposedReadiness": "model",
    "CompositeNode": "model",
    "CompositeStatus": "model",
    "Condition": "model",
    "ConditionStatus": "model",
    "ENTRY_POINT_GROUP": "registry",
    "FunctionRegistry": "registry",
}


_lazy = lazy_exports(__name__, _WHERE)


def __getattr__(name: str) -> Any:
    return _lazy(name)


__all__ = [
    "ANNOTATION_COMPOSITE",
    "ANNOTATION_REFERENCES",
    "ENTRY_POINT_GROUP",
    "Composed",
    "ComposedReadiness",
    "CompositeNode",
    "CompositeStatus",
    "CompositionFunction",
    "Condition",
    "ConditionStatus",
    "ConnectionDetails",
    "FunctionError",
    "FunctionRegistry",
    "FunctionRequest",
    "FunctionResponse",
    "FunctionResult",
    "PendingReference",
    "Ready",
    "Severity",
    "compose",
    "is_composed",
    "references",
    "resolve",
    "unresolved",
]
