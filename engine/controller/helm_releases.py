"""Flux HelmReleases read from the cluster, reconciled as apps, with their status.

As helm-controller: a ``HelmRelease`` (helm.toolkit.fluxcd.io/v2) becomes an
app whose render is that object alone (``AppSpec.inline``), which the
Git-side ``apps.helmrelease`` replaces by what ``helm template`` makes of its
chart; the chart's source (``HelmRepository``, ``OCIRepository``,
``GitRepository``, ``HelmChart``) is the object of that name read from the
cluster, never from Git (``SourceBook`` over those objects). Every reconcile
is automated, as Flux's; the fields only a release of its own has
(``suspend``, ``interval``, ``timeout``, ``disableWait``,
``serviceAccountName``, ``kubeConfig``, ``maxHistory``, and the install and
upgrade ``remediation``/``strategy``, run after a failure by
``retry_reconcile`` with ``remediation``) are honoured here,
the rest by the render (``apps.helmrelease_spec``, which refuses what
gitwave does not honour). The status written back: ``Ready`` and ``Released``
conditions with helm-controller's reasons (``InstallSucceeded``,
``UpgradeSucceeded``, ``InstallFailed``, ``UpgradeFailed``),
``lastAttemptedRevision`` (the chart version), ``lastAttemptedGeneration``,
``lastAttemptedReleaseAction``, ``observedGeneration`` and ``history`` (one
snapshot per release revision: chart, version, config digest, newest first).
Pure but for nothing: the caller lists the sources and writes the status.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.helmrelease import SourceBook
from gitwave.engine.apps.model import AppKind, AppSource, AppSpec, KubeConfigRef, SyncPolicy
from gitwave.engine.controller.dependencies import waiting_for
from gitwave.engine.controller.objects import HELM_KIND, AppObject
from gitwave.engine.controller.remediation import installed, read_remediation
from gitwave.engine.controller.requests import force_requested
from gitwave.engine.controller.status import flux_condition, timestamp
from gitwave.engine.health.policy import HealthPolicy, HealthRule
from gitwave.engine.model import HealthCode, SourceRef
from gitwave.engine.render import RenderOptions
from gitwave.engine.render.directory import Doc
from gitwave.engine.render.resources import to_resources
from gitwave.engine.sync import SyncResult

HELM_API_VERSION = "helm.toolkit.fluxcd.io/v2"
HISTORY_LIMIT = 5


@runtime_checkable
class HelmSourceApi(Protocol):
    """The Flux source objects a HelmRelease may name, from the management cluster."""

    def list_helm_sources(self) -> list[Mapping[str, Any]]:
        """Every HelmRepository, OCIRepository, HelmChart and GitRepository."""
        ...


def _resource_of(doc: Mapping[str, Any]) -> Any:
    meta = doc.get("metadata") or {}
    where = f"{doc.get('kind')}/{meta.get('namespace', '')}/{meta.get('name', '')}"
    # What the object says, not what the API server adds (status, managedFields).
    plain = {
        "apiVersion": doc.get("apiVersion"),
        "kind": doc.get("kind"),
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        "spec": doc.get("spec") or {},
    }
    [resource] = to_resources([Doc(plain, SourceRef(where, 0))], RenderOptions())
    return resource


# What a HelmRelease in the cluster is, as an app of its own, and the render
# (``apps.helmrelease_spec``) refuses read from Git: they are taken off the
# release before it renders.
_APP_FIELDS = ("dependsOn", "suspend", "serviceAccountName", "kubeConfig")
_ACTION_APP_FIELDS = ("disableWait", "timeout", "remediation", "strategy")


def release_app(obj: AppObject, sources: Sequence[Mapping[str, Any]]) -> AppSpec:
    """The app of the HelmRelease ``obj``: its render is the release itself, its
    chart sources the cluster's. Raises ValidationError naming the object for a
    malformed one (the chart's own fields are checked when it renders).

    Honoured here, as helm-controller: ``suspend`` (no sync, see
    ``requests.is_suspended``), ``interval``, ``timeout`` and the next
    action's (``install`` before the first release, else ``upgrade``)
    ``timeout`` and ``disableWait`` (no health wait), ``serviceAccountName``
    (impersonated) and ``kubeConfig`` (the cluster applied to)."""
    where = obj.app_id
    reader = Reader(where)
    spec = reader.mapping(obj.body, "spec", required=True)
    interval = reader.duration(spec, "spec.interval", None)
    action = "upgrade" if installed(obj.body) else "install"
    for name in ("install", "upgrade"):
        read_remediation(reader, spec, name)  # honoured after a failure (remediation.py)
    block = reader.mapping(spec, f"spec.{action}")
    timeout = reader.duration(block, f"spec.{action}.timeout", None)
    if timeout is None:
        timeout = reader.duration(spec, "spec.timeout", None)
    identity = f"cluster:{obj.app_id}"
    # dependsOn names other HelmReleases, each an app of its own here: the
    # loop waits for them to be Ready (``waiting_for``) before this one syncs.
    spec_alone: dict[str, Any] = {k: v for k, v in spec.items() if k not in _APP_FIELDS}
    for name in ("install", "upgrade"):
        if isinstance(spec.get(name), Mapping):
            spec_alone[name] = {k: v for k, v in spec[name].items() if k not in _ACTION_APP_FIELDS}
    release = _resource_of({**obj.body, "spec": spec_alone})
    return AppSpec(
        name=obj.name,
        kind=AppKind.FLUX,
        source=AppSource(
            repo_url=identity,
            revision="",
            path=obj.app_id,
            fetch_from=identity,
            # The same app on every replica: its identity names the object.
            repository=identity,
        ),
        destination_namespace=reader.string(spec, "spec.targetNamespace") or obj.namespace,
        kube_config=_kube_config(reader, spec, obj.namespace),
        policy=SyncPolicy(
            automated=not reader.boolean(spec, "spec.suspend"), prune=True, self_heal=True
        ),
        health=HealthPolicy(
            rule=HealthRule.KSTATUS,
            wait=not reader.boolean(block, f"spec.{action}.disableWait"),
        ),
        timeout_s=timeout if timeout is not None else 300.0,
        interval_s=interval,
        origin=SourceRef(where, 0),
        app_namespace=obj.namespace,
        service_account=reader.dns_name(
            reader.string(spec, "spec.serviceAccountName"), "spec.serviceAccountName", dots=True
        ),
        flux_sources=SourceBook([_resource_of(s) for s in sources]),
        inline=(release,),
    )


def _kube_config(reader: Reader, spec: Mapping[str, Any], namespace: str) -> KubeConfigRef | None:
    """``spec.kubeConfig.secretRef``: the Secret in the release's namespace
    holding the kubeconfig of the cluster to apply to (as for a Kustomization)."""
    block = reader.mapping(spec, "spec.kubeConfig")
    unknown = sorted(set(block) - {"secretRef"})
    if unknown:
        reader.fail(f"spec.kubeConfig.{unknown[0]}: not supported; use spec.kubeConfig.secretRef")
    ref = reader.mapping(block, "spec.kubeConfig.secretRef")
    if not ref:
        if block:
            reader.fail("spec.kubeConfig.secretRef is required")
        return None
    return KubeConfigRef(
        namespace=namespace,
        name=reader.dns_name(
            reader.string(ref, "spec.kubeConfig.secretRef.name", required=True),
            "spec.kubeConfig.secretRef.name",
            dots=True,
        ),
        key=reader.string(ref, "spec.kubeConfig.secretRef.key"),
    )


def _history(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(h) for h in (body.get("status") or {}).get("history") or [] if h]


def dependency_status(obj: AppObject, waiting: Sequence[str], now: datetime) -> dict[str, Any]:
    """``Ready=False``, ``DependencyNotReady``, naming the releases waited for."""
    message = f"dependencies do not meet ready condition: {', '.join(waiting)}"
    previous = [
        c
        for c in (obj.body.get("status") or {}).get("conditions") or []
        if isinstance(c, Mapping) and c.get("type") == "Ready"
    ]
    if previous and previous[0].get("message") == message:
        return {}  # already said
    return {
        "observedGeneration": obj.generation,
        "conditions": [
            flux_condition("Ready", False, "DependencyNotReady", message, obj.generation, now)
        ],
    }


def config_digest(body: Mapping[str, Any]) -> str:
    """A digest of the release's values (as helm-controller's ``configDigest``)."""
    spec = body.get("spec") or {}
    config = {"values": spec.get("values"), "valuesFrom": spec.get("valuesFrom")}
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def release_status(
    obj: AppObject,
    *,
    result: SyncResult | None,
    error: str | None,
    chart: tuple[str, str],
    release: tuple[str, str],
    now: datetime,
) -> dict[str, Any]:
    """The HelmRelease's ``status`` after one reconcile: ``chart`` is (name,
    version) ("" when it was never fetched), ``release`` (name, namespace) of
    the Helm release; ``error`` when it stopped before syncing."""
    action = "upgrade" if installed(obj.body) else "install"
    verb = action.capitalize()
    generation = obj.generation
    name, version = chart
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "lastAttemptedGeneration": generation,
        "lastAttemptedReleaseAction": action,
        "lastAttemptedConfigDigest": config_digest(obj.body),
    }
    if version:
        status["lastAttemptedRevision"] = version
    if error is not None or result is None:
        message = error or "failed"
        reason = "ArtifactFailed" if not version else f"{verb}Failed"
        status["conditions"] = [flux_condition("Ready", False, reason, message, generation, now)]
        return status
    subject = f"{release[1]}/{release[0]}"
    if not result.ok:
        message = f"Helm {action} failed for release {subject}: {result.message}"
        # As helm: the attempt is a revision of its own, "failed"; the one
        # deployed before stays deployed (shown by helm history, rolled back to).
        status["history"] = failed_history(obj.body, chart, release, now)
        status["conditions"] = [
            flux_condition("Ready", False, f"{verb}Failed", message, generation, now),
            flux_condition("Released", False, f"{verb}Failed", message, generation, now),
        ]
        return status
    history = release_history(obj.body, chart, release, now, forced=bool(force_requested(obj)))
    done = (
        f"Helm {action} succeeded for release {subject}.v{history[0]['version']} "
        f"with chart {name}@{version}"
    )
    healthy = result.health.code in (HealthCode.HEALTHY, HealthCode.SUSPENDED)
    status["history"] = history
    status["conditions"] = [
        flux_condition(
            "Ready",
            healthy,
            f"{verb}Succeeded" if healthy else "Progressing",
            done if healthy else (result.health.message or f"health {result.health.code.value}"),
            generation,
            now,
        ),
        flux_condition("Released", True, f"{verb}Succeeded", done, generation, now),
    ]
    return status


def release_history(
    body: Mapping[str, Any],
    chart: tuple[str, str],
    release: tuple[str, str],
    now: datetime,
    *,
    forced: bool = False,
) -> list[dict[str, Any]]:
    """``status.history`` after a successful release: a new snapshot (the next
    release version) when the chart version or the values changed, or the
    release was ``forced`` (``reconcile.fluxcd.io/forceAt``: an upgrade, so a
    revision, as ``helm upgrade`` makes one with nothing changed), else the
    newest one with a new ``lastDeployed``; the last ``spec.maxHistory``
    (``HISTORY_LIMIT`` by default, as Flux's; 0: all)."""
    previous = _history(body)
    digest = config_digest(body)
    stamp = timestamp(now)
    newest = previous[0] if previous else None
    if (
        not forced
        and newest is not None
        and newest.get("status") == "deployed"  # not failed, not uninstalled: the same one
        and newest.get("chartVersion") == chart[1]
        and newest.get("chartName") == chart[0]
        and newest.get("configDigest") == digest
    ):
        newest["lastDeployed"] = stamp
        return _kept(body, [newest, *previous[1:]])
    entry = _snapshot(body, chart, release, stamp, version=_next_version(previous))
    return _kept(body, [entry, *_superseded(previous)])


def failed_history(
    body: Mapping[str, Any], chart: tuple[str, str], release: tuple[str, str], now: datetime
) -> list[dict[str, Any]]:
    """``status.history`` after a failed install or upgrade: a snapshot of the
    attempt, the next version, ``failed``; the others as they were."""
    previous = _history(body)
    entry = _snapshot(body, chart, release, timestamp(now), version=_next_version(previous))
    entry["status"] = "failed"
    return _kept(body, [entry, *previous])


def rolled_back_history(
    body: Mapping[str, Any], history: Sequence[Mapping[str, Any]], now: datetime
) -> tuple[list[dict[str, Any]], int] | None:
    """``history`` (newest first) after a rollback to its last release that
    worked: as ``helm rollback``, a new version, ``deployed``, of that
    release's chart and values, the one rolled back to ``superseded``; with
    the version rolled back to. None when no release worked."""
    previous = [dict(h) for h in history]
    good = next((h for h in previous if h.get("status") in ("deployed", "superseded")), None)
    if good is None:
        return None
    stamp = timestamp(now)
    entry = {
        **good,
        "version": _next_version(previous),
        "status": "deployed",
        "firstDeployed": stamp,
        "lastDeployed": stamp,
    }
    return _kept(body, [entry, *_superseded(previous)]), int(good.get("version") or 0)


def _next_version(history: Sequence[Mapping[str, Any]]) -> int:
    versions = [h.get("version") for h in history]
    return max([v for v in versions if isinstance(v, int)] or [0]) + 1


def _superseded(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for entry in history:
        if entry.get("status") == "deployed":
            entry["status"] = "superseded"
    return history


def _snapshot(
    body: Mapping[str, Any],
    chart: tuple[str, str],
    release: tuple[str, str],
    stamp: str,
    *,
    version: int,
) -> dict[str, Any]:
    return {
        "name": release[0],
        "namespace": release[1],
        "version": version,
        "status": "deployed",
        "chartName": chart[0],
        "chartVersion": chart[1],
        "configDigest": config_digest(body),
        "firstDeployed": stamp,
        "lastDeployed": stamp,
    }


def _kept(body: Mapping[str, Any], history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest ``spec.maxHistory`` snapshots (``HISTORY_LIMIT`` by default, as
    Flux's; 0: all), and the newest that worked even when older: failed attempts
    in a row never push out the release a rollback goes back to (as Helm keeps
    the deployed revision when it prunes)."""
    limit = (body.get("spec") or {}).get("maxHistory")
    keep = HISTORY_LIMIT if not isinstance(limit, int) or isinstance(limit, bool) else limit
    if not keep or len(history) <= keep:
        return history
    good = next((h for h in history if h.get("status") in ("deployed", "superseded")), None)
    kept = history[:keep]
    if good is not None and good not in kept:
        kept = [*history[: keep - 1], good]
    return kept


__all__ = [
    "HELM_API_VERSION",
    "HELM_KIND",
    "HelmSourceApi",
    "config_digest",
    "dependency_status",
    "failed_history",
    "release_app",
    "release_history",
    "release_status",
    "rolled_back_history",
    "waiting_for",
]
