"""Server defaults and admission checks, one function per kind.

A real API server fills in fields nobody wrote (a Deployment's strategy, a
Service's clusterIP, a container's imagePullPolicy). The sandbox does the
same, so a diff that reports them as drift is caught by tests long before it
meets a real cluster. Each defaulter changes the object it is given: the
caller passes a private copy. Defaulting is idempotent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import SERVER_METADATA_FIELDS, Manifest, Resource, ResourceKey

from .fields import without_nulls


class Allocator(Protocol):
    """Hands out cluster IPs and node ports (pools ``cluster-ip``, ``node-port``).

    Returns a free value chosen from ``seed``, or reserves ``requested``; raises
    ProviderError when ``requested`` belongs to another object."""

    def __call__(self, pool: str, *, seed: str, requested: str | None = None) -> str: ...


def candidate_values(pool: str, seed: str, *, count: int = 64) -> list[str]:
    """Deterministic probe sequence for ``seed``: the same Service gets the same
    clusterIP in every fresh sandbox, whatever order objects are applied in."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    values = []
    for i in range(count):
        n = (digest + i * 7919) & 0xFFFFFFFF
        if pool == "cluster-ip":
            # 10.96.0.0/16 minus .0/.255 hosts and 10.96.0.1 (the kubernetes Service).
            third, fourth = (n >> 8) % 256, n % 254 + 1
            if third == 0 and fourth == 1:
                fourth = 2
            values.append(f"10.96.{third}.{fourth}")
        else:
            values.append(str(30000 + n % 2768))
    return values


@dataclass(frozen=True, slots=True)
class DefaultContext:
    key: ResourceKey
    allocate: Allocator


Defaulter = Callable[[Manifest, DefaultContext], None]

_DEFAULTERS: dict[tuple[str, str], Defaulter] = {}


def defaulter(group: str, kind: str) -> Callable[[Defaulter], Defaulter]:
    def register(fn: Defaulter) -> Defaulter:
        _DEFAULTERS[(group, kind)] = fn
        return fn

    return register


def apply_defaults(obj: Manifest, context: DefaultContext) -> None:
    """Fill in server defaults of ``obj`` in place and run admission checks.

    Raises ProviderError, naming the object and field, for what the API server
    would reject."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        _check_string_map(context.key, meta, "labels")
        _check_string_map(context.key, meta, "annotations")
    fn = _DEFAULTERS.get((context.key.group, context.key.kind))
    if fn is not None:
        fn(obj, context)


def _check_string_map(key: ResourceKey, holder: dict[str, Any], field: str) -> None:
    values = holder.get(field)
    if values is None:
        return
    if not isinstance(values, dict):
        raise ProviderError(key, f"{field} must be a map of strings")
    for name, value in values.items():
        if not isinstance(value, str):
            raise ProviderError(
                key,
                f"{field}.{name} must be a string, not {type(value).__name__} "
                "(quote the value in YAML)",
            )


def _dict(parent: dict[str, Any], field: str) -> dict[str, Any]:
    value = parent.get(field)
    if not isinstance(value, dict):
        value = {}
        parent[field] = value
    return value


def _list_of_dicts(parent: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = parent.get(field)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


# ---------------------------------------------------------------- pods


def image_pull_policy(image: Any) -> str:
    """Kubernetes' rule: ``Always`` for ``:latest`` or no tag, else ``IfNotPresent``."""
    text = str(image or "")
    if "@" in text:
        return "IfNotPresent"
    last = text.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for field in ("initContainers", "containers"):
        for container in _list_of_dicts(spec, field):
            container.setdefault("imagePullPolicy", image_pull_policy(container.get("image")))
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
            for port in _list_of_dicts(container, "ports"):
                port.setdefault("protocol", "TCP")


def _default_template(spec: dict[str, Any]) -> None:
    template = _dict(spec, "template")
    default_pod_spec(_dict(template, "spec"))


@defaulter("", "Pod")
def _pod(obj: Manifest, context: DefaultContext) -> None:
    spec = _dict(obj, "spec")
    default_pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)


# ---------------------------------------------------------------- workloads


@defaulter("apps", "Deployment")
def _deployment(obj: Manifest, context: DefaultContext) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = _dict(spec, "strategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    _default_template(spec)


@defaulter("apps", "StatefulSet")
def _stateful_set(obj: Manifest, context: DefaultContext) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = _dict(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _dict(strategy, "rollingUpdate").setdefault("partition", 0)
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    _default_template(spec)


@defaulter("apps", "DaemonSet")
def _daemon_set(obj: Manifest, context: DefaultContext) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = _dict(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        rolling.setdefault("maxSurge", 0)
        rolling.setdefault("maxUnavailable", 1)
    _default_template(spec)


@defaulter("apps", "ReplicaSet")
def _replica_set(obj: Manifest, context: DefaultContext) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    _default_template(spec)


def _default_job_spec(spec: dict[str, Any], key: ResourceKey, where: str) -> None:
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    pod_spec = _dict(_dict(spec, "template"), "spec")
    policy = pod_spec.get("restartPolicy")
    if policy not in ("Never", "OnFailure"):
        raise ProviderError(
            key,
            f"{where}.template.spec.restartPolicy: must be Never or OnFailure "
            f"(got {policy or 'nothing, which means Always'})",
        )
    default_pod_spec(pod_spec)


@defaulter("batch", "Job")
def _job(obj: Manifest, context: DefaultContext) -> None:
    _default_job_spec(_dict(obj, "spec"), context.key, "spec")


@defaulter("batch", "CronJob")
def _cron_job(obj: Manifest, context: DefaultContext) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = _dict(_dict(spec, "jobTemplate"), "spec")
    _default_job_spec(job_spec, context.key, "spec.jobTemplate.spec")


# ---------------------------------------------------------------- services and config


@defaulter("", "Service")
def _service(obj: Manifest, context: DefaultContext) -> None:
    spec = _dict(obj, "spec")
    service_type = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in _list_of_dicts(spec, "ports"):
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
        if service_type in ("NodePort", "LoadBalancer"):
            seed = f"{context.key}/{port.get('port')}/{port.get('protocol')}"
            requested = port.get("nodePort")
            port["nodePort"] = int(
                context.allocate(
                    "node-port", seed=seed, requested=str(requested) if requested else None
                )
            )
    if service_type == "ExternalName":
        return
    requested_ip = spec.get("clusterIP")
    if requested_ip != "None":
        spec["clusterIP"] = context.allocate(
            "cluster-ip", seed=str(context.key), requested=requested_ip or None
        )
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if service_type in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if service_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


@defaulter("", "Namespace")
def _namespace(obj: Manifest, context: DefaultContext) -> None:
    meta = _dict(obj, "metadata")
    # The API server labels every namespace with its own name (since 1.21).
    _dict(meta, "labels")["kubernetes.io/metadata.name"] = context.key.name
    _dict(obj, "spec").setdefault("finalizers", ["kubernetes"])
    _dict(obj, "status").setdefault("phase", "Active")


@defaulter("", "ConfigMap")
def _config_map(obj: Manifest, context: DefaultContext) -> None:
    for name, value in (obj.get("data") or {}).items():
        if not isinstance(value, str):
            raise ProviderError(
                context.key,
                f"data.{name} must be a string, not {type(value).__name__} "
                "(quote the value in YAML)",
            )


@defaulter("", "Secret")
def _secret(obj: Manifest, context: DefaultContext) -> None:
    obj.setdefault("type", "Opaque")
    fold_string_data(obj, context.key)


def fold_string_data(obj: Manifest, key: ResourceKey) -> None:
    """Move a Secret's ``stringData`` into ``data`` (base64), as the API server
    does: ``stringData`` is write-only and never stored. Checks that ``data``
    holds base64. Error messages name the entry, never its value."""
    string_data = obj.pop("stringData", None)
    data = obj.get("data")
    if data is not None and not isinstance(data, dict):
        raise ProviderError(key, "data must be a map")
    data = dict(data or {})
    for name, value in data.items():
        if not isinstance(value, str):
            raise ProviderError(key, f"data.{name} must be a base64 string")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ProviderError(key, f"data.{name}: illegal base64 data") from None
    if isinstance(string_data, dict):
        for name, value in string_data.items():
            data[name] = base64.b64encode(str(value).encode()).decode()
    elif string_data is not None:
        raise ProviderError(key, "stringData must be a map")
    if data:
        obj["data"] = data


@defaulter("", "PersistentVolumeClaim")
def _pvc(obj: Manifest, context: DefaultContext) -> None:
    _dict(obj, "spec").setdefault("volumeMode", "Filesystem")


@defaulter("apiextensions.k8s.io", "CustomResourceDefinition")
def _crd(obj: Manifest, context: DefaultContext) -> None:
    spec = _dict(obj, "spec")
    names = _dict(spec, "names")
    kind = names.get("kind")
    if isinstance(kind, str):
        names.setdefault("singular", kind.lower())
        names.setdefault("listKind", f"{kind}List")
    _dict(spec, "conversion").setdefault("strategy", "None")


def desired_manifest(resource: Resource) -> Manifest:
    """The manifest as apply sees it: a private copy without nulls, status or
    server metadata, with identity taken from the key."""
    key = resource.key
    if str(resource.api_version).rpartition("/")[0] != key.group:
        raise ProviderError(
            key, f"apiVersion {resource.api_version!r} is not in API group {key.group!r}"
        )
    desired: Manifest = without_nulls(dict(resource.manifest))
    meta = desired.get("metadata")
    if not isinstance(meta, dict):
        raise ProviderError(key, "metadata must be a map")
    for field in SERVER_METADATA_FIELDS:
        meta.pop(field, None)
    meta["name"] = key.name
    if key.namespace:
        meta["namespace"] = key.namespace
    else:
        meta.pop("namespace", None)
    desired.pop("status", None)
    desired["apiVersion"] = resource.api_version
    desired["kind"] = key.kind
    if key.group == "" and key.kind == "Secret":
        fold_string_data(desired, key)
    return desired
