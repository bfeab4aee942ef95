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

from gitwave.compositions.compose import compose, is_composed
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
from gitwave.compositions.references import (
    ANNOTATION_REFERENCES,
    PendingReference,
    references,
    resolve,
    unresolved,
)
from gitwave.compositions.registry import ENTRY_POINT_GROUP, FunctionRegistry

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
