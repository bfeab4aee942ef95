"""Graph facts: what one desired object's annotations and pod spec say for a sync.

The graph stage reads every object once, here, into a
:class:`~gitwave.engine.model.NodeFacts`: its hook phases
(``argocd.argoproj.io/hook``), sync wave (``argocd.argoproj.io/sync-wave`` or
``gitwave.dev/sync-wave``), hook delete policies, sync options, and the
ConfigMaps, Secrets, PVCs and ServiceAccounts its pods use. ``graph.py``
orders the objects with these facts; the plan and the sync read them from
the graph (``ResourceGraph.facts``), never the annotations. The parsers are
public for the one place that must read a live object's annotations: the
plan stage's prune candidates, which are not in the graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from gitwave.engine.errors import ValidationError
from gitwave.engine.model import (
    ANNOTATION_HOOK_ARGO,
    ANNOTATION_HOOK_DELETE_POLICY_ARGO,
    ANNOTATION_SYNC_OPTIONS_ARGO,
    ANNOTATION_SYNC_WAVE,
    ANNOTATION_SYNC_WAVE_ARGO,
    DEFAULT_HOOK_DELETE_POLICIES,
    HookDeletePolicy,
    HookPhase,
    NodeFacts,
    Resource,
    ResourceKey,
)

__all__ = [
    "crd_kind",
    "node_facts",
    "parse_sync_options",
    "parse_sync_wave",
    "pod_references",
    "split_annotation",
]

_INTEGER = re.compile(r"[+-]?[0-9]+")
_HOOK_NAMES = ", ".join(p.value for p in HookPhase)
_POLICY_NAMES = ", ".join(p.value for p in HookDeletePolicy)

# Where the pod template sits in each workload kind.
_POD_SPEC_PATHS: Mapping[tuple[str, str], tuple[str, ...]] = MappingProxyType(
    {
        ("", "Pod"): ("spec",),
        ("", "ReplicationController"): ("spec", "template", "spec"),
        ("apps", "Deployment"): ("spec", "template", "spec"),
        ("apps", "StatefulSet"): ("spec", "template", "spec"),
        ("apps", "DaemonSet"): ("spec", "template", "spec"),
        ("apps", "ReplicaSet"): ("spec", "template", "spec"),
        ("extensions", "Deployment"): ("spec", "template", "spec"),
        ("extensions", "DaemonSet"): ("spec", "template", "spec"),
        ("extensions", "ReplicaSet"): ("spec", "template", "spec"),
        ("batch", "Job"): ("spec", "template", "spec"),
        ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
    }
)

# The facts of every object without a wave, hook or sync-options annotation
# that is no workload (most objects): shared, not made 10,000 times.
_ORDINARY = NodeFacts((HookPhase.SYNC,), 0, is_hook=False, delete_policies=frozenset())


def parse_sync_wave(annotations: Mapping[str, Any], *, subject: str) -> int:
    """The sync wave an object's annotations ask for (0 when none).

    Raises ValidationError naming ``subject`` for a wave that is not an integer
    or for two wave annotations that disagree.
    """
    waves: dict[str, int] = {}
    for name in (ANNOTATION_SYNC_WAVE_ARGO, ANNOTATION_SYNC_WAVE):
        if name not in annotations:
            continue
        raw = annotations[name]
        text = raw.strip() if isinstance(raw, str) else raw
        if isinstance(text, int) and not isinstance(text, bool):
            waves[name] = text
        elif isinstance(text, str) and _INTEGER.fullmatch(text):
            waves[name] = int(text)
        else:
            raise ValidationError(
                subject,
                f"annotation {name} is {raw!r}, not an integer",
                hint='a sync wave is a whole number such as "-1", "0" or "5"',
            )
    if len(set(waves.values())) > 1:
        found = ", ".join(f"{name}={value}" for name, value in waves.items())
        raise ValidationError(
            subject, f"sync wave annotations disagree: {found}", hint="keep one of them"
        )
    return next(iter(waves.values()), 0)


def parse_sync_options(annotations: Mapping[str, Any]) -> frozenset[str]:
    """The ``argocd.argoproj.io/sync-options`` entries as written (``Prune=false``,
    ``PruneLast=true``); empty when there are none or the value is no string."""
    raw = annotations.get(ANNOTATION_SYNC_OPTIONS_ARGO)
    if not isinstance(raw, str):
        return frozenset()
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def node_facts(resource: Resource) -> NodeFacts | None:
    """What ``resource``'s annotations and pod spec say; None for a ``Skip`` hook
    (never applied)."""
    annotations = resource.annotations
    references = _references(resource)
    if not annotations:  # most objects: no wave, no hook
        if not references:
            return _ORDINARY
        return NodeFacts(
            (HookPhase.SYNC,), 0, is_hook=False, delete_policies=frozenset(), references=references
        )
    wave = parse_sync_wave(annotations, subject=resource.where)
    phases = _hook_phases(resource)
    policies = _delete_policies(resource)
    if ANNOTATION_HOOK_ARGO not in annotations and HELM_HOOK in annotations:
        # Argo CD maps a chart's Helm hooks onto its own; an Argo hook annotation wins.
        helm = helm_hook_facts(resource)
        if helm is None:
            return None  # a Helm hook with no sync phase (test, delete, rollback): never applied
        phases, helm_wave, helm_policies = helm
        wave = wave if _has_wave(annotations) else helm_wave
        if ANNOTATION_HOOK_DELETE_POLICY_ARGO not in annotations:
            policies = helm_policies
    elif HELM_HOOK_WEIGHT in annotations and not _has_wave(annotations):
        wave = _helm_weight(resource)
    if HookPhase.SKIP in phases:
        return None
    options = parse_sync_options(annotations)
    if annotations.get(HELM_RESOURCE_POLICY) == "keep":
        options = options | {"Delete=false"}  # as Argo CD reads helm.sh/resource-policy: keep
    if not phases:
        return NodeFacts(
            (HookPhase.SYNC,),
            wave,
            is_hook=False,
            delete_policies=frozenset(),
            sync_options=options,
            references=references,
        )
    return NodeFacts(
        phases,
        wave,
        is_hook=True,
        delete_policies=policies,
        sync_options=options,
        references=references,
    )


def _references(resource: Resource) -> tuple[ResourceKey, ...]:
    """The keys of what a workload's pods use (NodeFacts.references); () for other kinds."""
    key = resource.key
    path = _POD_SPEC_PATHS.get((key.group, key.kind))
    if path is None:
        return ()
    pod = _walk_mapping(resource.manifest, path)
    return tuple(
        ResourceKey("", kind, key.namespace, name)
        for kind, name in sorted(set(pod_references(pod)))
    )


def split_annotation(resource: Resource, name: str) -> list[str]:
    raw = resource.annotations.get(name)
    if raw is None:
        return []
    if not isinstance(raw, str):
        raise ValidationError(resource.where, f"annotation {name} is {raw!r}, not a string")
    return [part.strip() for part in raw.split(",") if part.strip()]


def _hook_phases(resource: Resource) -> tuple[HookPhase, ...]:
    phases: set[HookPhase] = set()
    for name in split_annotation(resource, ANNOTATION_HOOK_ARGO):
        try:
            phases.add(HookPhase(name))
        except ValueError:
            raise ValidationError(
                resource.where,
                f"unknown hook {name!r} in annotation {ANNOTATION_HOOK_ARGO}",
                hint=f"use one or more of {_HOOK_NAMES}, comma separated",
            ) from None
    return tuple(sorted(phases, key=lambda p: p.order))


# --- Helm hooks, as Argo CD maps them ------------------------------------------

HELM_HOOK = "helm.sh/hook"
HELM_HOOK_WEIGHT = "helm.sh/hook-weight"
HELM_HOOK_DELETE_POLICY = "helm.sh/hook-delete-policy"
HELM_RESOURCE_POLICY = "helm.sh/resource-policy"
# Argo CD cannot tell an install from an upgrade: both run on every sync.
_HELM_PHASES: Mapping[str, HookPhase] = MappingProxyType(
    {
        "pre-install": HookPhase.PRE_SYNC,
        "pre-upgrade": HookPhase.PRE_SYNC,
        "post-install": HookPhase.POST_SYNC,
        "post-upgrade": HookPhase.POST_SYNC,
    }
)
_HELM_POLICIES: Mapping[str, HookDeletePolicy] = MappingProxyType(
    {
        "before-hook-creation": HookDeletePolicy.BEFORE_HOOK_CREATION,
        "hook-succeeded": HookDeletePolicy.HOOK_SUCCEEDED,
        "hook-failed": HookDeletePolicy.HOOK_FAILED,
    }
)


def helm_hook_facts(
    resource: Resource,
) -> tuple[tuple[HookPhase, ...], int, frozenset[HookDeletePolicy]] | None:
    """What ``helm.sh/hook*`` annotations mean in an Argo CD sync: (phases,
    wave, delete policies); ``((), weight, {})`` for ``crd-install``
    (an ordinary object: the CRD goes first by kind order); None for a hook
    with no sync phase (pre/post-delete, rollback and test hooks, which Argo CD
    runs only when the app is deleted or never), which a sync leaves out."""
    names = split_annotation(resource, HELM_HOOK)
    weight = _helm_weight(resource)
    if "crd-install" in names:
        return (), weight, frozenset()
    phases = sorted({_HELM_PHASES[n] for n in names if n in _HELM_PHASES}, key=lambda p: p.order)
    if not phases:
        return None
    policies = frozenset(
        _HELM_POLICIES[n]
        for n in split_annotation(resource, HELM_HOOK_DELETE_POLICY)
        if n in _HELM_POLICIES
    )
    return tuple(phases), weight, policies or DEFAULT_HOOK_DELETE_POLICIES


def _helm_weight(resource: Resource) -> int:
    raw = resource.annotations.get(HELM_HOOK_WEIGHT)
    if raw is None:
        return 0
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if isinstance(text, str) and _INTEGER.fullmatch(text):
        return int(text)
    raise ValidationError(
        resource.where,
        f"annotation {HELM_HOOK_WEIGHT} is {raw!r}, not an integer",
        hint='a hook weight is a whole number such as "-5" or "10"',
    )


def _has_wave(annotations: Mapping[str, Any]) -> bool:
    return ANNOTATION_SYNC_WAVE_ARGO in annotations or ANNOTATION_SYNC_WAVE in annotations


def _delete_policies(resource: Resource) -> frozenset[HookDeletePolicy]:
    policies: set[HookDeletePolicy] = set()
    for name in split_annotation(resource, ANNOTATION_HOOK_DELETE_POLICY_ARGO):
        try:
            policies.add(HookDeletePolicy(name))
        except ValueError:
            raise ValidationError(
                resource.where,
                f"unknown hook delete policy {name!r} in annotation "
                f"{ANNOTATION_HOOK_DELETE_POLICY_ARGO}",
                hint=f"use one or more of {_POLICY_NAMES}, comma separated",
            ) from None
    return frozenset(policies) or DEFAULT_HOOK_DELETE_POLICIES


# --- what pods use ------------------------------------------------------------


def pod_references(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, name) of every ConfigMap, Secret, PVC and ServiceAccount a pod spec uses."""
    for volume in _mappings(pod_spec.get("volumes")):
        yield from _named("ConfigMap", _mapping(volume.get("configMap")), "name")
        yield from _named("Secret", _mapping(volume.get("secret")), "secretName")
        yield from _named(
            "PersistentVolumeClaim", _mapping(volume.get("persistentVolumeClaim")), "claimName"
        )
        for source in _mappings(_mapping(volume.get("projected")).get("sources")):
            yield from _named("ConfigMap", _mapping(source.get("configMap")), "name")
            yield from _named("Secret", _mapping(source.get("secret")), "name")
    for field_name in ("containers", "initContainers", "ephemeralContainers"):
        for container in _mappings(pod_spec.get(field_name)):
            for env_from in _mappings(container.get("envFrom")):
                yield from _named("ConfigMap", _mapping(env_from.get("configMapRef")), "name")
                yield from _named("Secret", _mapping(env_from.get("secretRef")), "name")
            for env in _mappings(container.get("env")):
                value_from = _mapping(env.get("valueFrom"))
                yield from _named("ConfigMap", _mapping(value_from.get("configMapKeyRef")), "name")
                yield from _named("Secret", _mapping(value_from.get("secretKeyRef")), "name")
    account = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount")
    if isinstance(account, str) and account:
        yield ("ServiceAccount", account)
    for pull_secret in _mappings(pod_spec.get("imagePullSecrets")):
        yield from _named("Secret", pull_secret, "name")


def crd_kind(crd: Resource) -> tuple[str, str] | None:
    """(group, kind) of the custom resources a CustomResourceDefinition defines;
    None when its spec does not say."""
    spec = _mapping(crd.manifest.get("spec"))
    group, kind = spec.get("group"), _mapping(spec.get("names")).get("kind")
    if isinstance(group, str) and isinstance(kind, str):
        return (group, kind)
    return None


def _named(kind: str, ref: Mapping[str, Any], field_name: str) -> Iterator[tuple[str, str]]:
    name = ref.get(field_name)
    if isinstance(name, str) and name:
        yield (kind, name)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _mappings(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def _walk_mapping(manifest: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any]:
    node: Mapping[str, Any] = manifest
    for step in path:
        node = _mapping(node.get(step))
    return node
