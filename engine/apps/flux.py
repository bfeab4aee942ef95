"""Flux ``Kustomization`` (kustomize.toolkit.fluxcd.io/v1) and the ``GitRepository`` it
names → ``AppSpec``: source and ref, images, SOPS decryption, health checks, dependsOn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    AppKind,
    AppSource,
    AppSpec,
    KubeConfigRef,
    RepoResolver,
    SyncPolicy,
)
from gitwave.engine.apps.semver import pick_semver
from gitwave.engine.health.exprs import HealthExpr, compile_health_expr
from gitwave.engine.health.policy import HealthCheckRef, HealthPolicy, HealthRule
from gitwave.engine.model import ResourceKey, SourceRef
from gitwave.engine.names import SUBDOMAIN_MAX
from gitwave.engine.render import Decryption, DecryptionProvider, RenderOptions
from gitwave.engine.render.postbuild import VAR_NAME, PostBuild, SubstituteRef
from gitwave.engine.source import list_tags


@dataclass(frozen=True)
class FluxSource:
    """A GitRepository: its name and namespace, URL and resolved revision, and ``file:line``."""

    namespace: str
    name: str
    url: str
    revision: str
    where: str
    # "ExternalArtifact" for one an ArtifactGenerator built (engine/artifact_generator.py),
    # "Bucket" for a fetched Bucket (engine/apps/bucket.py): ``url`` is then a directory.
    kind: str = "GitRepository"


def parse_git_repository(doc: Mapping[str, Any], where: str, resolve: RepoResolver) -> FluxSource:
    """The GitRepository at ``where``; a ``spec.ref.semver`` is resolved to a tag now."""
    reader = Reader(where)
    meta = reader.mapping(doc, "metadata", required=True)
    name = reader.string(meta, "metadata.name", required=True)
    reader = Reader(f"{where} (GitRepository/{name})")
    spec = reader.mapping(doc, "spec", required=True)
    url = reader.string(spec, "spec.url", required=True)
    reader.duration(spec, "spec.interval", None)
    ref = reader.mapping(spec, "spec.ref")
    revision = "HEAD"
    # Flux's precedence: commit, name, semver, tag, branch.
    for key in ("commit", "name", "semver", "tag", "branch"):
        value = reader.string(ref, f"spec.ref.{key}")
        if value:
            revision = _resolve_semver(value, url, resolve, reader) if key == "semver" else value
            break
    return FluxSource(
        namespace=reader.string(meta, "metadata.namespace"),
        name=name,
        url=url,
        revision=revision,
        where=reader.where,
    )


def parse_flux(
    doc: Mapping[str, Any],
    origin: SourceRef,
    resolve: RepoResolver,
    sources: Sequence[FluxSource],
) -> AppSpec:
    """The app a Kustomization at ``origin`` defines; its sourceRef names one of ``sources``."""
    reader = Reader(str(origin))
    meta = reader.mapping(doc, "metadata", required=True)
    name = reader.dns_name(
        reader.string(meta, "metadata.name", required=True),
        "metadata.name",
        max_len=SUBDOMAIN_MAX,
        dots=True,
    )
    own_namespace = reader.dns_name(reader.string(meta, "metadata.namespace"), "metadata.namespace")
    where = f"{origin} (Kustomization/{name})"
    reader = Reader(where)
    spec = reader.mapping(doc, "spec", required=True)
    source_ref = reader.mapping(spec, "spec.sourceRef", required=True)
    ref_kind = reader.string(source_ref, "spec.sourceRef.kind", required=True)
    if ref_kind not in ("GitRepository", "ExternalArtifact", "Bucket"):
        reader.fail(
            f"spec.sourceRef.kind: {ref_kind!r} is not supported "
            "(GitRepository, ExternalArtifact, Bucket)"
        )
    ref_name = reader.string(source_ref, "spec.sourceRef.name", required=True)
    ref_namespace = reader.string(source_ref, "spec.sourceRef.namespace") or own_namespace
    source = _find_source([s for s in sources if s.kind == ref_kind], ref_name, ref_namespace)
    if source is None:
        reader.fail(f"spec.sourceRef: {ref_kind} {ref_name!r} is not defined in this directory")
    if "prune" not in spec:
        reader.fail("spec.prune is required")
    interval = reader.duration(spec, "spec.interval", None)
    if interval is None:
        reader.fail("spec.interval is required")
    timeout = reader.duration(spec, "spec.timeout", None)
    path = clean_path(reader.string(spec, "spec.path") or ".", f"{where}: spec.path")
    target_namespace = reader.dns_name(
        reader.string(spec, "spec.targetNamespace"), "spec.targetNamespace"
    )
    fetch_from, fetch_revision = resolve(source.url, source.revision, source.where, "spec.url")
    health_checks = _flux_health_checks(reader, spec)
    kube_config = None
    kube_config_spec = reader.mapping(spec, "spec.kubeConfig")
    secret_ref = reader.mapping(kube_config_spec, "spec.kubeConfig.secretRef")
    if secret_ref:
        kube_config = KubeConfigRef(
            namespace=own_namespace,
            name=reader.string(secret_ref, "spec.kubeConfig.secretRef.name", required=True),
            key=reader.string(secret_ref, "spec.kubeConfig.secretRef.key"),
        )
    depends_on = [
        reader.string(dep, f"spec.dependsOn[{i}].name", required=True)
        for i, dep in enumerate(reader.mappings(spec, "spec.dependsOn"))
    ]
    return AppSpec(
        name=name,
        kind=AppKind.FLUX,
        source=AppSource(
            repo_url=source.url,
            revision=source.revision,
            path=path,
            render=RenderOptions(
                kustomize_images=_flux_images(reader, spec),
                target_namespace=target_namespace,
                decryption=_flux_decryption(reader, spec, name, own_namespace),
            ),
            fetch_from=fetch_from,
            fetch_revision=fetch_revision,
            # A built artifact's directory is named by its content; the app is the
            # same app whatever the artifact holds, so its identity names the object.
            repository=(
                f"{ref_kind.lower()}:{ref_namespace or 'default'}/{ref_name}"
                if ref_kind in ("ExternalArtifact", "Bucket")
                else ""
            ),
        ),
        destination_namespace=target_namespace,
        kube_config=kube_config,
        policy=SyncPolicy(
            automated=not reader.boolean(spec, "spec.suspend"),
            prune=reader.boolean(spec, "spec.prune"),
            self_heal=True,  # Flux re-applies on every interval, correcting drift
        ),
        depends_on=tuple(depends_on),
        health_checks=tuple(ref.key for ref in health_checks),
        health=HealthPolicy(
            rule=HealthRule.KSTATUS,
            wait=reader.boolean(spec, "spec.wait"),
            checks=health_checks,
            exprs=_flux_health_exprs(reader, spec),
        ),
        timeout_s=timeout if timeout is not None else interval,
        policy_dirs=read_policy_dirs(reader, meta),
        prune_limit=read_prune_limit(reader, meta),
        labels=read_labels(reader, meta),
        interval_s=interval,
        origin=origin,
        wave=read_wave(reader, meta),
        app_namespace=own_namespace,
        service_account=reader.dns_name(
            reader.string(spec, "spec.serviceAccountName"), "spec.serviceAccountName", dots=True
        ),
        post_build=_flux_post_build(reader, spec, name, own_namespace, origin),
    )


def _flux_post_build(
    reader: Reader, spec: Mapping[str, Any], name: str, namespace: str, origin: SourceRef
) -> PostBuild | None:
    """``spec.postBuild``: inline variables (strings only, as Flux's CRD demands)
    and the ConfigMaps/Secrets to read more from, in the Kustomization's namespace."""
    if spec.get("postBuild") is None:
        return None
    post_build = reader.mapping(spec, "spec.postBuild")
    substitute = reader.mapping(post_build, "spec.postBuild.substitute")
    pairs = []
    for key, value in substitute.items():
        if not isinstance(value, str):
            reader.fail(
                f"spec.postBuild.substitute.{key}: must be a string, not "
                f'{type(value).__name__} (quote it: {key}: "{value}")'
            )
        if not VAR_NAME.match(str(key)):
            reader.fail(
                f"spec.postBuild.substitute: variable name {key!r} is invalid, "
                "it must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$"
            )
        pairs.append((str(key), value))
    refs = []
    for i, entry in enumerate(reader.mappings(post_build, "spec.postBuild.substituteFrom")):
        field_name = f"spec.postBuild.substituteFrom[{i}]"
        kind = reader.string(entry, f"{field_name}.kind", required=True)
        if kind not in ("ConfigMap", "Secret"):
            reader.fail(f"{field_name}.kind: {kind!r} is not ConfigMap or Secret")
        refs.append(
            SubstituteRef(
                kind=kind,
                name=reader.dns_name(
                    reader.string(entry, f"{field_name}.name", required=True),
                    f"{field_name}.name",
                    max_len=SUBDOMAIN_MAX,
                    dots=True,
                ),
                optional=reader.boolean(entry, f"{field_name}.optional"),
            )
        )
    if not pairs and not refs:
        return None  # as in Flux: nothing to substitute from, no substitution at all
    namespace = namespace or "default"
    return PostBuild(
        substitute=tuple(pairs),
        substitute_from=tuple(refs),
        namespace=namespace,
        owner=f"Kustomization/{namespace}/{name} ({origin})",
    )


def _flux_health_checks(reader: Reader, spec: Mapping[str, Any]) -> tuple[HealthCheckRef, ...]:
    """``spec.healthChecks``: the objects a sync waits for, as written."""
    refs = []
    for i, check in enumerate(reader.mappings(spec, "spec.healthChecks")):
        field_name = f"spec.healthChecks[{i}]"
        api_version = reader.string(check, f"{field_name}.apiVersion", required=True)
        key = ResourceKey(
            api_version.rpartition("/")[0],
            reader.string(check, f"{field_name}.kind", required=True),
            reader.string(check, f"{field_name}.namespace"),
            reader.string(check, f"{field_name}.name", required=True),
        )
        refs.append(HealthCheckRef(api_version, key))
    return tuple(refs)


def _flux_health_exprs(reader: Reader, spec: Mapping[str, Any]) -> tuple[HealthExpr, ...]:
    """``spec.healthCheckExprs``, compiled now: an expression that does not
    compile is an error naming its field, before anything is applied."""
    exprs = []
    for i, entry in enumerate(reader.mappings(spec, "spec.healthCheckExprs")):
        field_name = f"spec.healthCheckExprs[{i}]"
        api_version = reader.string(entry, f"{field_name}.apiVersion", required=True)
        kind = reader.string(entry, f"{field_name}.kind", required=True)
        fields = {
            name: reader.string(entry, f"{field_name}.{name}")
            for name in ("current", "inProgress", "failed")
        }
        try:
            exprs.append(compile_health_expr(api_version, kind, fields))
        except ValueError as exc:
            reader.fail(f"{field_name}.{exc}")
    return tuple(exprs)


def _find_source(sources: Sequence[FluxSource], name: str, namespace: str) -> FluxSource | None:
    named = [s for s in sources if s.name == name]
    for source in named:
        if source.namespace == namespace:
            return source
    return named[0] if len(named) == 1 else None


def _flux_decryption(
    reader: Reader, spec: Mapping[str, Any], name: str, namespace: str
) -> Decryption | None:
    """Flux's ``spec.decryption``; the key Secret it names is read from the target,
    in the Kustomization's namespace, when the app is planned (``sops_keys``)."""
    if spec.get("decryption") is None:
        return None
    decryption = reader.mapping(spec, "spec.decryption")
    provider = DecryptionProvider.parse(
        reader.string(decryption, "spec.decryption.provider", required=True),
        where=reader.where,
        field_name="spec.decryption.provider",
    )
    secret_ref = reader.mapping(decryption, "spec.decryption.secretRef")
    return Decryption(
        provider=provider,
        secret_ref=reader.string(secret_ref, "spec.decryption.secretRef.name"),
        kustomization=name,
        namespace=namespace or "default",
    )


def _flux_images(reader: Reader, spec: Mapping[str, Any]) -> tuple[str, ...]:
    images: list[str] = []
    for i, image in enumerate(reader.mappings(spec, "spec.images")):
        field_name = f"spec.images[{i}]"
        old = reader.string(image, f"{field_name}.name", required=True)
        new = reader.string(image, f"{field_name}.newName")
        tag = reader.string(image, f"{field_name}.newTag")
        digest = reader.string(image, f"{field_name}.digest")
        text = f"{old}={new}" if new else old
        if tag:
            text += f":{tag}"
        if digest:
            text += f"@{digest}"
        images.append(text)
    return tuple(images)


def _resolve_semver(constraint: str, url: str, resolve: RepoResolver, reader: Reader) -> str:
    fetch_from, _ = resolve(url, "HEAD", reader.where, "spec.url")
    tags = list_tags(fetch_from)
    try:
        best = pick_semver(constraint, tags)
    except ValueError as err:
        reader.fail(f"spec.ref.semver: {err}")
    if best is None:
        reader.fail(
            f"spec.ref.semver: no tag matches {constraint!r} (tags: {', '.join(tags) or 'none'})"
        )
    return best
