"""The policy stage inside plan and sync: findings of one planned app, Deny refusing it.

Runs after the pre-flight (``engine.validate``) on the objects the plan would
apply (after compose), with the live objects the plan observed as
``oldObject``. A Deny raises PolicyDenied before any apply (the CLI's exit 2,
as for every refused operation); Warn and Audit findings ride on the
``AppState`` for the front ends to print or record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.apps import AppSpec
from gitwave.engine.apps.loader import checkout_for
from gitwave.engine.errors import GitwaveError
from gitwave.engine.kube_versions import schema_versions
from gitwave.engine.model import Live, Manifest, ResourceKey
from gitwave.engine.policy.check import (
    CheckInput,
    LiveLister,
    LiveLookup,
    check,
    load_policy_dirs,
)
from gitwave.engine.policy.model import Action, Finding, PolicyDenied, PolicyOptions
from gitwave.engine.provider import ObjectLister, ServerVersion
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source import safe_join


def lookups(
    targets: ProviderRouter,
    known: dict[ResourceKey, Manifest | None],
    api_versions: Mapping[tuple[str, str], str] | None = None,
    *,
    observed: Mapping[ResourceKey, Live | None] | None = None,
) -> tuple[LiveLookup, LiveLister]:
    """(live, list_live) over ``targets``; an unreachable target reads as absent.
    ``api_versions`` maps (group, kind) to the apiVersion objects are written in.
    ``observed`` holds what a plan observed already, read only when a policy
    asks (reading a stored object's manifest decodes it)."""
    api_versions = api_versions or {}
    observed = observed or {}

    def live(key: ResourceKey) -> Manifest | None:
        if key in known:
            return known[key]
        if key in observed:
            seen = observed[key]
            known[key] = seen.manifest if seen is not None else None
            return known[key]
        try:
            # Objects of the plan were observed already; what is left is a Namespace
            # (namespaceObject) or, for `validate`, an object of a served kind.
            api_version = api_versions.get((key.group, key.kind)) or (
                "v1" if key.group == "" else f"{key.group}/v1"
            )
            seen = targets.for_kind(api_version, key.kind).observe(key)
        except GitwaveError:
            seen = None
        known[key] = seen.manifest if seen is not None else None
        return known[key]

    def list_live(api_version: str, kind: str, namespace: str | None) -> list[Manifest]:
        try:
            provider = targets.for_kind(api_version, kind)
            if not isinstance(provider, ObjectLister):
                return []
            return [
                item.manifest
                for item in provider.list(kind=kind, namespace=namespace)
                if item.manifest.get("apiVersion") == api_version
            ]
        except GitwaveError:
            return []

    return live, list_live


def target_version(targets: ProviderRouter, asked: str | None) -> str | None:
    """The release to check built-in kinds against: ``asked`` (``--kubernetes-version``),
    else what the Kubernetes target says it runs, else None (the default)."""
    if asked:
        return asked
    try:
        provider = targets.for_kind("v1", "Namespace")
        if targets.offers(provider, ServerVersion):  # asked once per provider
            version = cast(ServerVersion, provider).kubernetes_version()
            return version if version in schema_versions() else None
    except (GitwaveError, ValueError, AttributeError):
        return None  # an unreachable target: the plan reports that itself
    return None


def app_policy_dirs(app: AppSpec) -> tuple[str, ...]:
    """The app's ``gitwave.dev/policy`` directories as paths in its checkout
    (PathEscapeError for one that leaves the repository)."""
    if not app.policy_dirs:
        return ()
    root = checkout_for(app).root
    return tuple(str(safe_join(root, d)) for d in app.policy_dirs)


def gate(
    state: AppState, options: PolicyOptions, *, targets: ProviderRouter
) -> tuple[Finding, ...]:
    """The findings of ``state``'s objects; PolicyDenied when any is a Deny."""
    live, list_live = lookups(targets, {}, observed=state.live)
    rendered = state.rendered
    given = CheckInput(
        objects=[state.graph.resources[k] for k in state.graph.order if k in state.graph.resources],
        rendered=state.resources,
        encrypted=rendered.encrypted if rendered is not None else frozenset(),
        where=lambda r: str(r.source or r.key.display),
    )
    dirs = (*options.dirs, *app_policy_dirs(state.app))
    findings = check(
        given, load_policy_dirs(dirs), strict=options.strict, live=live, list_live=list_live
    )
    denied = [f for f in findings if f.action is Action.DENY]
    if denied:
        raise PolicyDenied(state.app.name, denied)
    return tuple(findings)


__all__ = ["app_policy_dirs", "gate", "lookups", "target_version"]
