"""A Flux ``HelmRelease`` spec (helm.toolkit.fluxcd.io/v2) read and checked.

Every field of Flux's v2 schema is either honoured or refused (here and in
``helmrelease_policy``) with an
error naming ``HelmRelease/namespace/name``, the field and what gitwave does
instead; a field Flux does not know (a typo) is refused as Flux's structural
schema would. Read from Git, a release is rendered with the app that holds it
(a Kustomization, a directory): what only a release of its own can mean
(``suspend``, ``serviceAccountName``, ``kubeConfig``, ``disableWait``) is
refused there. The controller, where each HelmRelease is an app of its own,
honours those itself (``controller.helm_releases``) and hands this module the
spec without them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.helmrelease_policy import (
    ACTION_KEYS,
    check_accepted,
    check_action,
    drift_rules,
    known,
    wants_tests,
)
from gitwave.engine.apps.helmrelease_post import DriftIgnore
from gitwave.engine.model import ApplyMode, Resource
from gitwave.engine.names import HELM_RELEASE_MAX

CRD_POLICIES = ("Skip", "Create", "CreateReplace")

SPEC_KEYS = (
    "chart",
    "chartRef",
    "interval",
    "kubeConfig",
    "suspend",
    "releaseName",
    "targetNamespace",
    "storageNamespace",
    "dependsOn",
    "timeout",
    "maxHistory",
    "serviceAccountName",
    "persistentClient",
    "driftDetection",
    "install",
    "upgrade",
    "test",
    "rollback",
    "uninstall",
    "valuesFrom",
    "values",
    "postRenderers",
    "commonMetadata",
)
_INSTALL_KEYS = (*ACTION_KEYS, "replace", "skipCRDs", "createNamespace")
_UPGRADE_KEYS = (*ACTION_KEYS, "force", "preserveValues", "cleanupOnFail")
_CHART_SPEC_KEYS = (
    "chart",
    "version",
    "sourceRef",
    "interval",
    "reconcileStrategy",
    "valuesFiles",
    "valuesFile",
    "ignoreMissingValuesFiles",
    "verify",
)


@dataclass(frozen=True)
class ReleaseSpec:
    """One HelmRelease, checked: what rendering it needs."""

    resource: Resource
    where: str
    name: str
    namespace: str  # of the HelmRelease object
    release_name: str
    release_namespace: str
    chart: Mapping[str, Any]  # spec.chart.spec, or {} with chart_ref
    chart_ref: Mapping[str, Any]
    values: Mapping[str, Any]
    values_from: tuple[Mapping[str, Any], ...]
    create_namespace: bool
    install_crds: ApplyMode
    upgrade_crds: ApplyMode
    depends_on: tuple[tuple[str, str], ...]
    post_renderers: tuple[Mapping[str, Any], ...]
    # spec.test.enable: the chart's test hooks run after each sync.
    test: bool = False
    common_labels: tuple[tuple[str, str], ...] = ()
    common_annotations: tuple[tuple[str, str], ...] = ()
    drift_ignore: tuple[DriftIgnore, ...] = ()
    # spec.chart.spec.valuesFiles: files of the chart merged in order before
    # the values (as source-controller merges them into the chart's values).
    values_files: tuple[str, ...] = ()
    ignore_missing_values_files: bool = False
    # install/upgrade.disableSchemaValidation: helm's --skip-schema-validation.
    skip_schema_validation: bool = False


def parse_release(resource: Resource) -> ReleaseSpec:
    """The checked spec of the HelmRelease ``resource``; ValidationError naming
    ``HelmRelease/namespace/name (file:line)`` and the field otherwise."""
    name, namespace = resource.key.name, resource.key.namespace
    where = f"HelmRelease/{namespace}/{name} ({resource.source})"
    reader = Reader(where)
    doc = resource.manifest
    spec = reader.mapping(doc, "spec", required=True)
    known(reader, spec, "spec", SPEC_KEYS)
    chart = reader.mapping(spec, "spec.chart")
    chart_ref = reader.mapping(spec, "spec.chartRef")
    if bool(chart) == bool(chart_ref):
        reader.fail("set exactly one of spec.chart and spec.chartRef")
    known(reader, chart, "spec.chart", ("spec", "metadata"))
    chart_spec = reader.mapping(chart, "spec.chart.spec", required=bool(chart))
    values_files = _chart_spec(reader, chart_spec)
    known(reader, chart_ref, "spec.chartRef", ("apiVersion", "kind", "name", "namespace"))
    target_namespace = reader.dns_name(
        reader.string(spec, "spec.targetNamespace"), "spec.targetNamespace"
    )
    release_name = reader.string(spec, "spec.releaseName")
    if release_name:
        release_name = reader.dns_name(
            release_name, "spec.releaseName", max_len=HELM_RELEASE_MAX, dots=True
        )
    else:
        release_name = default_release_name(name, target_namespace)
    check_accepted(reader, spec)
    install = reader.mapping(spec, "spec.install")
    upgrade = reader.mapping(spec, "spec.upgrade")
    known(reader, install, "spec.install", _INSTALL_KEYS)
    known(reader, upgrade, "spec.upgrade", _UPGRADE_KEYS)
    crds = {}
    for field_name, block in (("install", install), ("upgrade", upgrade)):
        check_action(reader, block, f"spec.{field_name}")
        policy = reader.string(block, f"spec.{field_name}.crds")
        if policy and policy not in CRD_POLICIES:
            names = ", ".join(CRD_POLICIES)
            reader.fail(f"spec.{field_name}.crds: {policy!r} is not one of {names}")
        crds[field_name] = policy
    if reader.boolean(install, "spec.install.skipCRDs"):
        # Deprecated by Flux for install.crds: Skip, which it means.
        if crds["install"] not in ("", "Skip"):
            reader.fail(
                f"spec.install.skipCRDs: true contradicts spec.install.crds: {crds['install']}"
            )
        crds["install"] = "Skip"
    depends_on = tuple(
        (
            reader.string(dep, f"spec.dependsOn[{i}].name", required=True),
            reader.string(dep, f"spec.dependsOn[{i}].namespace") or namespace,
        )
        for i, dep in enumerate(reader.mappings(spec, "spec.dependsOn"))
    )
    for i, dep in enumerate(reader.mappings(spec, "spec.dependsOn")):
        known(reader, dep, f"spec.dependsOn[{i}]", ("name", "namespace"))
    values_from = tuple(reader.mappings(spec, "spec.valuesFrom"))
    for i, entry in enumerate(values_from):
        known(
            reader,
            entry,
            f"spec.valuesFrom[{i}]",
            ("kind", "name", "valuesKey", "targetPath", "optional"),
        )
        kind = reader.string(entry, f"spec.valuesFrom[{i}].kind", required=True)
        if kind not in ("ConfigMap", "Secret"):
            reader.fail(f"spec.valuesFrom[{i}].kind: {kind!r} is not ConfigMap or Secret")
        reader.string(entry, f"spec.valuesFrom[{i}].name", required=True)
    post_renderers = tuple(reader.mappings(spec, "spec.postRenderers"))
    for i, entry in enumerate(post_renderers):
        if set(entry) - {"kustomize"}:
            reader.fail(f"spec.postRenderers[{i}]: only kustomize post-renderers are supported")
    common = reader.mapping(spec, "spec.commonMetadata")
    known(reader, common, "spec.commonMetadata", ("labels", "annotations"))
    skip_schema = {
        action: reader.boolean(block, f"spec.{action}.disableSchemaValidation")
        for action, block in (("install", install), ("upgrade", upgrade))
    }
    if skip_schema["install"] != skip_schema["upgrade"]:
        reader.fail(
            "spec.install.disableSchemaValidation and spec.upgrade.disableSchemaValidation "
            "must agree: gitwave renders the chart once, for an install and an upgrade alike "
            "(set both, or neither)"
        )
    return ReleaseSpec(
        resource=resource,
        where=where,
        name=name,
        namespace=namespace,
        release_name=release_name,
        release_namespace=target_namespace or namespace,
        chart=chart_spec,
        chart_ref=chart_ref,
        values=reader.mapping(spec, "spec.values"),
        values_from=values_from,
        create_namespace=reader.boolean(install, "spec.install.createNamespace"),
        # Flux's defaults: CRDs are created on install, left alone on upgrade.
        install_crds=ApplyMode(crds["install"] or "Create"),
        upgrade_crds=ApplyMode(crds["upgrade"] or "Skip"),
        depends_on=depends_on,
        post_renderers=post_renderers,
        test=wants_tests(reader, spec),
        common_labels=_string_map(reader, common, "spec.commonMetadata.labels"),
        common_annotations=_string_map(reader, common, "spec.commonMetadata.annotations"),
        drift_ignore=drift_rules(reader, spec),
        values_files=values_files,
        ignore_missing_values_files=reader.boolean(
            chart_spec, "spec.chart.spec.ignoreMissingValuesFiles"
        ),
        skip_schema_validation=skip_schema["install"],
    )


def _chart_spec(reader: Reader, chart_spec: Mapping[str, Any]) -> tuple[str, ...]:
    """Checks ``spec.chart.spec``; its ``valuesFiles`` (paths in the chart)."""
    known(reader, chart_spec, "spec.chart.spec", _CHART_SPEC_KEYS)
    if reader.string(chart_spec, "spec.chart.spec.valuesFile"):
        reader.fail(
            "spec.chart.spec.valuesFile: removed in Flux's HelmRelease v2; "
            "use spec.chart.spec.valuesFiles (a list)"
        )
    files = reader.strings(chart_spec, "spec.chart.spec.valuesFiles")
    for i, path in enumerate(files):
        parts = path.replace("\\", "/").split("/")
        if not path or path.startswith("/") or ".." in parts:
            reader.fail(
                f"spec.chart.spec.valuesFiles[{i}]: {path!r} must be a path inside the chart "
                "(relative, no ..)"
            )
    if reader.mapping(chart_spec, "spec.chart.spec.verify"):
        reader.fail(
            "spec.chart.spec.verify: chart signatures are not verified by gitwave; "
            "remove it, or pin the chart by an OCIRepository digest (spec.ref.digest)"
        )
    strategy = reader.string(chart_spec, "spec.chart.spec.reconcileStrategy")
    if strategy and strategy not in ("ChartVersion", "Revision"):
        reader.fail(
            f"spec.chart.spec.reconcileStrategy: {strategy!r} is not ChartVersion or Revision"
        )
    reader.duration(chart_spec, "spec.chart.spec.interval", None)
    reader.boolean(chart_spec, "spec.chart.spec.ignoreMissingValuesFiles")
    return tuple(files)


def _string_map(
    reader: Reader, block: Mapping[str, Any], dotted: str
) -> tuple[tuple[str, str], ...]:
    values = reader.mapping(block, dotted)
    for key, value in values.items():
        if not isinstance(value, str):
            reader.fail(f"{dotted}.{key} must be a string, not {value!r} (quote it)")
    return tuple(sorted((str(k), str(v)) for k, v in values.items()))


def default_release_name(name: str, target_namespace: str) -> str:
    """Flux's default: ``[targetNamespace-]name``, shortened with a digest past 53 characters."""
    full = f"{target_namespace}-{name}" if target_namespace else name
    if len(full) <= HELM_RELEASE_MAX:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:12]
    return f"{full[: HELM_RELEASE_MAX - 13].rstrip('-.')}-{digest}"


__all__ = [
    "CRD_POLICIES",
    "SPEC_KEYS",
    "DriftIgnore",
    "ReleaseSpec",
    "default_release_name",
    "parse_release",
]
