"""What every simulated controller shares: the rollout phases, the registry
of controllers by kind, and helpers that read an object and build the
conditions, owner references and pods a controller writes."""

from __future__ import annotations

import enum
import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitwave.engine.api import clone
from gitwave.engine.model import Manifest

FAIL_ANNOTATION = "sandbox.gitwave.dev/fail"
NODE_NAME = "sandbox-node"
HOST_IP = "172.18.0.2"

# Kubernetes' alphabet for generated name suffixes (no vowels, no look-alikes).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class Rollout(enum.Enum):
    """Where a controller is with the latest spec."""

    STARTED = "started"  # spec seen, pods starting
    SETTLED = "settled"  # rollout_seconds later: done (or failed, for a failing object)


@dataclass(frozen=True, slots=True)
class StatusContext:
    phase: Rollout
    now: str  # RFC 3339, for condition timestamps
    previous: Mapping[str, Any]  # the status before this write


StatusFn = Callable[[Manifest, StatusContext], Manifest]
ChildrenFn = Callable[[Manifest, Sequence[Manifest]], list[Manifest]]
# A controller that walks steps over time (a Rollout): (object, moment) ->
# (status, when it next has something to do). The moment's type is the
# controller's own (``rollouts.Moment``).
AdvanceFn = Callable[[Manifest, Any], tuple[dict[str, Any], float | None]]


@dataclass(frozen=True, slots=True)
class Controller:
    status: StatusFn
    # Whether the object needs time (rollout_seconds) to settle; False: the
    # settled status is written at once.
    settles: Callable[[Manifest], bool]
    # The children this object should own given the ones it owns now; None
    # for kinds that own nothing.
    children: ChildrenFn | None = None
    # Set for a controller that steps (its status comes from ``advance``, called
    # on every change and again when it said it would next act).
    advance: AdvanceFn | None = None


_CONTROLLERS: dict[tuple[str, str], Controller] = {}
# Kinds whose controller module is imported when an object of theirs is first
# met (``register_later``): a kind few apps hold needs not load with the sandbox.
_LATER: dict[tuple[str, str], str] = {}


def controller_for(group: str, kind: str) -> Controller | None:
    found = _CONTROLLERS.get((group, kind))
    if found is None and (group, kind) in _LATER:
        importlib.import_module(_LATER[(group, kind)])  # registers its controller
        found = _CONTROLLERS.get((group, kind))
    return found


def register_later(group: str, kind: str, module: str) -> None:
    """``module`` registers the controller of ``group``/``kind`` when imported;
    it is imported by the first ``controller_for`` of that kind."""
    _LATER[(group, kind)] = module


def register(
    group: str,
    kind: str,
    *,
    settles: Callable[[Manifest], bool] = lambda obj: True,
    children: ChildrenFn | None = None,
) -> Callable[[StatusFn], StatusFn]:
    def register(fn: StatusFn) -> StatusFn:
        _CONTROLLERS[(group, kind)] = Controller(fn, settles, children)
        return fn

    return register


def register_controller(group: str, kind: str, controller: Controller) -> None:
    _CONTROLLERS[(group, kind)] = controller


def never(obj: Manifest) -> bool:
    return False


def as_map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def spec_of(obj: Manifest) -> dict[str, Any]:
    return as_map(obj.get("spec"))


def meta_of(obj: Manifest) -> dict[str, Any]:
    return as_map(obj.get("metadata"))


def generation_of(obj: Manifest) -> int:
    return int(meta_of(obj).get("generation") or 1)


def replicas_of(obj: Manifest) -> int:
    value = spec_of(obj).get("replicas", 1)
    return int(value) if isinstance(value, int) else 1


def fails(template_or_pod: Mapping[str, Any]) -> bool:
    annotations = as_map(as_map(template_or_pod.get("metadata")).get("annotations"))
    return str(annotations.get(FAIL_ANNOTATION, "")).lower() == "true"


def template_of(obj: Manifest) -> dict[str, Any]:
    return as_map(spec_of(obj).get("template"))


def safe_hash(data: Any, length: int) -> str:
    """A stable name suffix from ``data`` (like the pod-template-hash)."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
    number = int.from_bytes(digest[:12], "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(SAFE_ALPHABET))
        chars.append(SAFE_ALPHABET[index])
    return "".join(chars)


def pod_template_hash(template: Mapping[str, Any]) -> str:
    return safe_hash(template, 10)


def status_condition(
    type_: str, status: bool, reason: str, message: str, now: str
) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
        "lastUpdateTime": now,
    }


def owner_reference(owner: Manifest) -> dict[str, Any]:
    meta = meta_of(owner)
    return {
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(
    owner: Manifest, template: Mapping[str, Any], name: str, extra_labels: Mapping[str, str]
) -> Manifest:
    template_meta = as_map(template.get("metadata"))
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": meta_of(owner).get("namespace", ""),
        "labels": {**as_map(template_meta.get("labels")), **extra_labels},
        "ownerReferences": [owner_reference(owner)],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(as_map(template_meta.get("annotations")))
    spec = json.loads(json.dumps(as_map(template.get("spec"))))
    spec["nodeName"] = NODE_NAME
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def replica_pods(owner: Manifest, count: int, extra_labels: Mapping[str, str]) -> list[Manifest]:
    name = str(meta_of(owner).get("name"))
    template = template_of(owner)
    return [
        pod_from_template(owner, template, f"{name}-{safe_hash([name, i], 5)}", extra_labels)
        for i in range(count)
    ]


def rfc3339(seconds: float) -> str:
    """``seconds`` since the epoch as an API server writes a timestamp."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merged_child(old: Manifest, child: Manifest) -> Manifest:
    """``old`` (a copy) as the controller that owns it would write ``child``
    over it: labels, annotations and owner references as ``child`` has them,
    identity and status kept, all the rest (a Pod's spec, a Secret's data) the
    controller's."""
    obj: Manifest = clone(old)
    meta = obj.setdefault("metadata", {})
    for field in ("labels", "annotations", "ownerReferences"):
        value = child["metadata"].get(field)
        if value:
            meta[field] = value
        else:
            meta.pop(field, None)
    for field in set(obj) - {"apiVersion", "kind", "metadata", "status"}:
        if field not in child:
            del obj[field]
    obj.update((k, v) for k, v in child.items() if k not in ("metadata", "status"))
    return obj
