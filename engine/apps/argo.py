"""Argo CD ``Application`` (argoproj.io/v1alpha1) → ``AppSpec``.

Only what gitwave can honour is accepted: an unsupported field (multiple
sources, Helm repository charts, plugins, jsonnet, kustomize name prefixes…)
is a ValidationError naming ``file:line`` and the field, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitwave.engine.apps.fields import (
    Reader,
    clean_path,
    read_policy_dirs,
    read_prune_limit,
    read_wave,
)
from gitwave.engine.apps.model import (
    DEFAULT_ARGO_SERVER,
    RESOURCES_FINALIZER,
    AppKind,
    AppSource,
    AppSpec,
    RepoResolver,
    RetrySpec,
    SyncPolicy,
)
from gitwave.engine.apps.projects import DEFAULT_PROJECT
from gitwave.engine.diff import IgnoreDifference
from gitwave.engine.model import Propagation, SourceRef
from gitwave.engine.names import HELM_RELEASE_MAX, SUBDOMAIN_MAX
from gitwave.engine.render import HelmOptions, RenderOptions
from gitwave.engine.yamlio import dump

_BOOL_OPTIONS = {
    "CreateNamespace",
    "PruneLast",
    "ApplyOutOfSyncOnly",
    "ServerSideApply",
    "Validate",
    "RespectIgnoreDifferences",
    "FailOnSharedResource",
    "Force",
    "SkipDryRunOnMissingResource",
    "Replace",
    "Prune",
    "PruneProtectedKinds",
}
_KNOWN_OPTIONS = (*sorted(_BOOL_OPTIONS), "PrunePropagationPolicy")


def parse_argo(doc: Mapping[str, Any], origin: SourceRef, resolve: RepoResolver) -> AppSpec:
    """The app an Application document at ``origin`` defines; ValidationError naming the field."""
    where = str(origin)
    reader = Reader(where)
    meta = reader.mapping(doc, "metadata", required=True)
    name = reader.dns_name(
        reader.string(meta, "metadata.name", required=True),
        "metadata.name",
        max_len=SUBDOMAIN_MAX,
        dots=True,
    )
    where = f"{origin} (Application/{name})"
    reader = Reader(where)
    spec = reader.mapping(doc, "spec", required=True)
    if "sources" in spec and "source" not in spec:
        reader.fail("spec.sources (multiple sources) is not supported; use spec.source")
    source = reader.mapping(spec, "spec.source", required=True)
    for unsupported, why in (
        ("chart", "Helm repository charts are not supported; point spec.source.path at a chart"),
        ("plugin", "config management plugins are not supported"),
    ):
        if source.get(unsupported):
            reader.fail(f"spec.source.{unsupported}: {why}")
    repo_url = reader.string(source, "spec.source.repoURL", required=True)
    revision = reader.string(source, "spec.source.targetRevision") or "HEAD"
    path = clean_path(
        reader.string(source, "spec.source.path", required=True), f"{where}: spec.source.path"
    )
    destination = reader.mapping(spec, "spec.destination")
    namespace = reader.dns_name(
        reader.string(destination, "spec.destination.namespace"), "spec.destination.namespace"
    )
    server = reader.string(destination, "spec.destination.server")
    cluster_name = reader.string(destination, "spec.destination.name")
    if server and cluster_name:
        reader.fail("spec.destination: set either server or name, not both")
    options = RenderOptions(
        kustomize_images=_argo_images(reader, source),
        helm=_argo_helm(reader, source, name, namespace),
        directory_recurse=reader.boolean(
            reader.mapping(source, "spec.source.directory"), "spec.source.directory.recurse"
        ),
        directory_include=reader.string(
            reader.mapping(source, "spec.source.directory"), "spec.source.directory.include"
        ),
        directory_exclude=reader.string(
            reader.mapping(source, "spec.source.directory"), "spec.source.directory.exclude"
        ),
        default_namespace=namespace,
    )
    if reader.mapping(source, "spec.source.directory").get("jsonnet"):
        reader.fail("spec.source.directory.jsonnet is not supported")
    fetch_from, fetch_revision = resolve(repo_url, revision, where, "spec.source.repoURL")
    return AppSpec(
        name=name,
        kind=AppKind.ARGO,
        source=AppSource(
            repo_url=repo_url,
            revision=revision,
            path=path,
            render=options,
            fetch_from=fetch_from,
            fetch_revision=fetch_revision,
        ),
        destination_namespace=namespace,
        destination_server=server or ("" if cluster_name else DEFAULT_ARGO_SERVER),
        destination_name=cluster_name,
        policy=_argo_policy(reader, reader.mapping(spec, "spec.syncPolicy")),
        ignore_differences=_argo_ignores(reader, spec),
        origin=origin,
        wave=read_wave(reader, meta),
        cascade=_has_resources_finalizer(meta),
        project=reader.string(spec, "spec.project") or DEFAULT_PROJECT,
        app_namespace=reader.string(meta, "metadata.namespace"),
        policy_dirs=read_policy_dirs(reader, meta),
        prune_limit=read_prune_limit(reader, meta),
    )


def _has_resources_finalizer(meta: Mapping[str, Any]) -> bool:
    """Argo CD's ``resources-finalizer.argocd.argoproj.io`` (or its ``/background``
    and ``/foreground`` forms): deleting the app deletes its objects."""
    finalizers = meta.get("finalizers")
    if not isinstance(finalizers, list):
        return False
    return any(
        isinstance(f, str) and f.partition("/")[0] == RESOURCES_FINALIZER for f in finalizers
    )


def _argo_images(reader: Reader, source: Mapping[str, Any]) -> tuple[str, ...]:
    kustomize = reader.mapping(source, "spec.source.kustomize")
    for unsupported in ("namePrefix", "nameSuffix", "namespace", "commonLabels", "patches"):
        if kustomize.get(unsupported):
            reader.fail(f"spec.source.kustomize.{unsupported} is not supported yet")
    return tuple(reader.strings(kustomize, "spec.source.kustomize.images"))


def _argo_helm(
    reader: Reader, source: Mapping[str, Any], app_name: str, namespace: str
) -> HelmOptions | None:
    helm = reader.mapping(source, "spec.source.helm")
    if not helm:
        return HelmOptions(release_name=app_name, namespace=namespace)
    values = reader.string(helm, "spec.source.helm.values")
    values_object = reader.mapping(helm, "spec.source.helm.valuesObject")
    if values_object:
        values = dump(dict(values_object))  # valuesObject wins over values, as in Argo CD
    parameters: list[str] = []
    string_parameters: list[str] = []
    for i, parameter in enumerate(reader.mappings(helm, "spec.source.helm.parameters")):
        field_name = f"spec.source.helm.parameters[{i}]"
        pname = reader.string(parameter, f"{field_name}.name", required=True)
        value = parameter.get("value", "")
        if not isinstance(value, str | int | float | bool):
            reader.fail(f"{field_name}.value must be a string")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        target = (
            string_parameters
            if reader.boolean(parameter, f"{field_name}.forceString")
            else parameters
        )
        target.append(f"{pname}={text}")
    return HelmOptions(
        release_name=reader.dns_name(
            reader.string(helm, "spec.source.helm.releaseName"),
            "spec.source.helm.releaseName",
            max_len=HELM_RELEASE_MAX,
            dots=True,
        )
        or app_name,
        namespace=namespace,
        values_files=tuple(reader.strings(helm, "spec.source.helm.valueFiles")),
        values=values,
        parameters=tuple(parameters),
        string_parameters=tuple(string_parameters),
        skip_crds=reader.boolean(helm, "spec.source.helm.skipCrds"),
    )


def _argo_policy(reader: Reader, policy: Mapping[str, Any]) -> SyncPolicy:
    automated_value = policy.get("automated")
    automated = reader.mapping(policy, "spec.syncPolicy.automated")
    enabled = "automated" in policy and (
        automated_value is None
        or automated.get("enabled") is None
        or reader.boolean(automated, "spec.syncPolicy.automated.enabled")
    )
    options = reader.strings(policy, "spec.syncPolicy.syncOptions")
    parsed: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in _KNOWN_OPTIONS:
            reader.fail(
                f"spec.syncPolicy.syncOptions: unknown option {option!r} "
                f"(known: {', '.join(o + '=' for o in _KNOWN_OPTIONS)})"
            )
        if key in _BOOL_OPTIONS and value not in ("true", "false"):
            reader.fail(f"spec.syncPolicy.syncOptions: {key} must be true or false, not {value!r}")
        parsed[key] = value
    propagation = Propagation.FOREGROUND
    if "PrunePropagationPolicy" in parsed:
        try:
            propagation = Propagation(parsed["PrunePropagationPolicy"])
        except ValueError:
            reader.fail(
                "spec.syncPolicy.syncOptions: PrunePropagationPolicy must be foreground, "
                f"background or orphan, not {parsed['PrunePropagationPolicy']!r}"
            )
    return SyncPolicy(
        automated=enabled,
        prune=reader.boolean(automated, "spec.syncPolicy.automated.prune"),
        self_heal=reader.boolean(automated, "spec.syncPolicy.automated.selfHeal"),
        allow_empty=reader.boolean(automated, "spec.syncPolicy.automated.allowEmpty"),
        create_namespace=parsed.get("CreateNamespace") == "true",
        prune_last=parsed.get("PruneLast") == "true",
        prune_propagation=propagation,
        apply_out_of_sync_only=parsed.get("ApplyOutOfSyncOnly") == "true",
        prune_protected_kinds=parsed.get("PruneProtectedKinds") == "true",
        retry=_argo_retry(reader, policy),
        sync_options=tuple(options),
    )


def _argo_retry(reader: Reader, policy: Mapping[str, Any]) -> RetrySpec | None:
    if "retry" not in policy:
        return None
    retry = reader.mapping(policy, "spec.syncPolicy.retry")
    limit = retry.get("limit", 0)
    if not isinstance(limit, int) or isinstance(limit, bool):
        reader.fail("spec.syncPolicy.retry.limit must be an integer")
    backoff = reader.mapping(retry, "spec.syncPolicy.retry.backoff")
    factor = backoff.get("factor", 2)
    if not isinstance(factor, int | float) or isinstance(factor, bool) or factor < 1:
        reader.fail("spec.syncPolicy.retry.backoff.factor must be a number >= 1")
    return RetrySpec(
        limit=limit,
        duration_s=reader.duration(
            backoff, "spec.syncPolicy.retry.backoff.duration", "5s", argo=True
        ),
        factor=float(factor),
        max_duration_s=reader.duration(
            backoff, "spec.syncPolicy.retry.backoff.maxDuration", "3m", argo=True
        ),
    )


def _argo_ignores(reader: Reader, spec: Mapping[str, Any]) -> tuple[IgnoreDifference, ...]:
    rules: list[IgnoreDifference] = []
    for i, entry in enumerate(reader.mappings(spec, "spec.ignoreDifferences")):
        field_name = f"spec.ignoreDifferences[{i}]"
        for unsupported in ("jqPathExpressions", "managedFieldsManagers"):
            if entry.get(unsupported):
                reader.fail(f"{field_name}.{unsupported} is not supported; use jsonPointers")
        pointers = reader.strings(entry, f"{field_name}.jsonPointers")
        for pointer in pointers:
            if not pointer.startswith("/"):
                reader.fail(f"{field_name}.jsonPointers: {pointer!r} must start with '/'")
        rules.append(
            IgnoreDifference(
                group=reader.string(entry, f"{field_name}.group"),
                kind=reader.string(entry, f"{field_name}.kind", required=True),
                name=reader.string(entry, f"{field_name}.name") or None,
                namespace=reader.string(entry, f"{field_name}.namespace") or None,
                json_pointers=tuple(pointers),
            )
        )
    return tuple(rules)
