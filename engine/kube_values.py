"""Values the API server refuses that the OpenAPI schema takes: counts and
durations that must not be negative (``replicas: -3`` is an integer, so it fits
the schema; apps/v1's validation refuses it).

Each rule is Kubernetes' ``ValidateNonnegativeField`` (apimachinery), worded
as it words it: ``spec.replicas: Invalid value: -3: must be greater than or
equal to 0``. ``kube_rules.object_errors`` adds these to the schema's errors,
so ``gitwave plan`` (``engine.validate``) and the sandbox refuse the same
objects. A value of the wrong type is the schema's to refuse, not these rules'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitwave.engine.kube_schema import FieldError, FieldReason

NON_NEGATIVE = "must be greater than or equal to 0"
# Part of the pre-flight memo's context (``validate``): an object an older rule
# set vouched for (``replicas: -3`` before these rules) is checked again.
RULES_VERSION = "values-1"

# (group, kind) -> the fields under ``spec`` apps/v1 and batch/v1 validation
# refuse below 0 (pkg/apis/apps/validation, pkg/apis/batch/validation).
_NON_NEGATIVE: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "Deployment"): (
        "replicas",
        "minReadySeconds",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
    ),
    ("apps", "StatefulSet"): ("replicas", "minReadySeconds", "revisionHistoryLimit"),
    ("apps", "ReplicaSet"): ("replicas", "minReadySeconds"),
    ("apps", "DaemonSet"): ("minReadySeconds", "revisionHistoryLimit"),
    ("", "ReplicationController"): ("replicas", "minReadySeconds"),
    ("batch", "Job"): ("parallelism", "completions", "backoffLimit"),
}


def value_errors(group: str, kind: str, manifest: Mapping[str, Any]) -> list[FieldError]:
    """The fields of ``manifest`` (of ``group``/``kind``) its kind's validation
    refuses for their value; empty for most kinds (one dict lookup)."""
    fields = _NON_NEGATIVE.get((group, kind))
    if fields is None:
        return []
    spec = manifest.get("spec")
    if not isinstance(spec, Mapping):
        return []
    found = []
    for name in fields:
        value = spec.get(name)
        # bool is an int in Python; the schema refuses it (and any non-integer).
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            found.append(FieldError(f"spec.{name}", FieldReason.INVALID, value, NON_NEGATIVE))
    if kind == "Deployment" and not found:
        found += _deadline_errors(spec)
    return found


def _deadline_errors(spec: Mapping[str, Any]) -> list[FieldError]:
    """A Deployment's progressDeadlineSeconds must exceed its minReadySeconds."""
    deadline, ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (deadline, ready)):
        return []
    if deadline > ready:  # type: ignore[operator]
        return []
    return [
        FieldError(
            "spec.progressDeadlineSeconds",
            FieldReason.INVALID,
            deadline,
            "must be greater than minReadySeconds",
        )
    ]
