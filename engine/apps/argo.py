"""Argo CD ``Application`` (argoproj.io/v1alpha1) → ``AppSpec``.

Only what gitwave can honour is accepted: an unsupported field (several
rendering sources, plugins, jsonnet, kustomize name prefixes…)
is a ValidationError naming ``file:line`` and the field, never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gitwave.engine.apps.fields import (
    Reader,
    clean_path,
    read_labels,
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
from gitwave.engine.render import ChartSource, HelmOptions, MoreSource, RenderOptions, ValueRepo
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
    rendering, value_repos = _pick_sources(reader, spec, resolve, where)
    destination = reader.mapping(spec, "spec.destination")
    namespace = reader.dns_name(
        reader.string(destination, "spec.destination.namespace"), "spec.destination.namespace"
    )
    server = reader.string(destination, "spec.destination.server")
    cluster_name = reader.string(destination, "spec.destination.name")
    if server and cluster_name:
        reader.fail("spec.destination: set either server or name, not both")
    read = [
        _read_source(reader, source, prefix, name, namespace, value_repos, resolve)
        for source, prefix in rendering
    ]
    first = read[0]
    if len(read) > 1:
        # Argo CD renders every source and applies the union: the others ride
        # along in the first one's render options (``RenderOptions.more_sources``).
        more = tuple(
            MoreSource(
                repo_url=s.repo_url,
                fetch_from=s.fetch_from,
                fetch_revision=s.fetch_revision,
                path=s.path,
                options=s.render,
            )
            for s in read[1:]
        )
        first = replace(first, render=replace(first.render, more_sources=more))
    repo_url, revision, path = first.repo_url, first.revision, first.path
    options, fetch_from, fetch_revision = first.render, first.fetch_from, first.fetch_revision
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
        labels=read_labels(reader, meta),
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


def _read_source(
    reader: Reader,
    source: Mapping[str, Any],
    prefix: str,
    name: str,
    namespace: str,
    value_repos: tuple[ValueRepo, ...],
    resolve: RepoResolver,
) -> AppSource:
    """One rendering source (``spec.source`` or ``spec.sources[i]``, named ``prefix``)."""
    where = reader.where
    for unsupported, why in (("plugin", "config management plugins are not supported"),):
        if source.get(unsupported):
            reader.fail(f"{prefix}.{unsupported}: {why}")
    repo_url = reader.string(source, f"{prefix}.repoURL", required=True)
    revision = reader.string(source, f"{prefix}.targetRevision") or "HEAD"
    chart_name = reader.string(source, f"{prefix}.chart")
    chart = None
    if chart_name:
        chart = _chart_source(reader, prefix, repo_url, chart_name, revision)
        path = chart_name
    else:
        path = clean_path(
            reader.string(source, f"{prefix}.path", required=True), f"{where}: {prefix}.path"
        )
    directory = reader.mapping(source, f"{prefix}.directory")
    options = RenderOptions(
        kustomize_images=_argo_images(reader, source, prefix),
        helm=_argo_helm(reader, source, name, namespace, prefix),
        directory_recurse=reader.boolean(directory, f"{prefix}.directory.recurse"),
        directory_include=reader.string(directory, f"{prefix}.directory.include"),
        directory_exclude=reader.string(directory, f"{prefix}.directory.exclude"),
        default_namespace=namespace,
        chart=chart,
        value_repos=value_repos,
    )
    if directory.get("jsonnet"):
        reader.fail(f"{prefix}.directory.jsonnet is not supported")
    if chart is not None:
        # A Helm repository is fetched by the chart fetcher, not opened as Git.
        fetch_from, fetch_revision = repo_url, None
    else:
        fetch_from, fetch_revision = resolve(repo_url, revision, where, f"{prefix}.repoURL")
    return AppSource(
        repo_url=repo_url,
        revision=revision,
        path=path,
        render=options,
        fetch_from=fetch_from,
        fetch_revision=fetch_revision,
    )


def _pick_sources(
    reader: Reader, spec: Mapping[str, Any], resolve: RepoResolver, where: str
) -> tuple[list[tuple[Mapping[str, Any], str]], tuple[ValueRepo, ...]]:
    """The sources that render the app with their field names (``spec.source``
    or ``spec.sources[i]``) and, for ``spec.sources``, the ``ref`` sources
    ``$ref/path`` values files are read from."""
    if "sources" not in spec or "source" in spec:
        return [(reader.mapping(spec, "spec.source", required=True), "spec.source")], ()
    sources = reader.mappings(spec, "spec.sources")
    refs: list[ValueRepo] = []
    rendering: list[int] = []
    for i, entry in enumerate(sources):
        field_name = f"spec.sources[{i}]"
        ref = reader.string(entry, f"{field_name}.ref")
        if ref:
            if not _REF_NAME.match(ref):
                reader.fail(f"{field_name}.ref: {ref!r} must be letters, digits, - and _")
            if any(r.name == ref for r in refs):
                reader.fail(f"{field_name}.ref: {ref!r} is used twice")
            if reader.string(entry, f"{field_name}.chart"):
                reader.fail(f"{field_name}: a ref source cannot name a chart")
            url = reader.string(entry, f"{field_name}.repoURL", required=True)
            revision = reader.string(entry, f"{field_name}.targetRevision") or "HEAD"
            fetch_from, fetch_revision = resolve(url, revision, where, f"{field_name}.repoURL")
            refs.append(ValueRepo(ref, fetch_from, fetch_revision, repo_url=url))
        if reader.string(entry, f"{field_name}.chart") or reader.string(
            entry, f"{field_name}.path"
        ):
            rendering.append(i)
    if not rendering:
        reader.fail("spec.sources: no source renders manifests (a chart or a path)")
    return [(sources[i], f"spec.sources[{i}]") for i in rendering], tuple(refs)


def _chart_source(
    reader: Reader, prefix: str, repo_url: str, chart: str, revision: str
) -> ChartSource:
    """``chart`` + ``repoURL`` + ``targetRevision``: a chart from a Helm repository."""
    if not repo_url.startswith(("https://", "http://", "oci://")):
        reader.fail(
            f"{prefix}.chart: repoURL {repo_url!r} is not a Helm repository "
            "(an https:// index or an oci:// registry)"
        )
    if not _CHART_NAME.match(chart):
        reader.fail(f"{prefix}.chart: {chart!r} is not a chart name")
    return ChartSource(repo_url, chart, "" if revision == "HEAD" else revision)


_REF_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_CHART_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _argo_images(reader: Reader, source: Mapping[str, Any], prefix: str) -> tuple[str, ...]:
    kustomize = reader.mapping(source, f"{prefix}.kustomize")
    for unsupported in ("namePrefix", "nameSuffix", "namespace", "commonLabels", "patches"):
        if kustomize.get(unsupported):
            reader.fail(f"{prefix}.kustomize.{unsupported} is not supported yet")
    return tuple(reader.strings(kustomize, f"{prefix}.kustomize.images"))


def _argo_helm(
    reader: Reader, source: Mapping[str, Any], app_name: str, namespace: str, prefix: str
) -> HelmOptions | None:
    helm = reader.mapping(source, f"{prefix}.helm")
    if not helm:
        return HelmOptions(release_name=app_name, namespace=namespace)
    values = reader.string(helm, f"{prefix}.helm.values")
    values_object = reader.mapping(helm, f"{prefix}.helm.valuesObject")
    if values_object:
        values = dump(dict(values_object))  # valuesObject wins over values, as in Argo CD
    parameters: list[str] = []
    string_parameters: list[str] = []
    for i, parameter in enumerate(reader.mappings(helm, f"{prefix}.helm.parameters")):
        field_name = f"{prefix}.helm.parameters[{i}]"
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
            reader.string(helm, f"{prefix}.helm.releaseName"),
            f"{prefix}.helm.releaseName",
            max_len=HELM_RELEASE_MAX,
            dots=True,
        )
        or app_name,
        namespace=namespace,
        values_files=tuple(reader.strings(helm, f"{prefix}.helm.valueFiles")),
        values=values,
        parameters=tuple(parameters),
        string_parameters=tuple(string_parameters),
        skip_crds=reader.boolean(helm, f"{prefix}.helm.skipCrds"),
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
