"""A Flux ``HelmRelease`` spec (helm.toolkit.fluxcd.io/v2) read and checked.

Every field of Flux's v2 schema is either honoured or refused here with an
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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.helmrelease_post import DriftIgnore
from gitwave.engine.fieldpath import FieldPathError, parse_pointer
from gitwave.engine.model import ApplyMode, Resource
from gitwave.engine.names import HELM_RELEASE_MAX

CRD_POLICIES = ("Skip", "Create", "CreateReplace")
DRIFT_MODES = ("enabled", "warn", "disabled")

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
_ACTION_KEYS = (
    "timeout",
    "remediation",
    "disableWait",
    "disableWaitForJobs",
    "disableHooks",
    "disableOpenAPIValidation",
    "disableSchemaValidation",
    "disableTakeOwnership",
    "crds",
    "strategy",
)
_STRATEGIES = ("RemediateOnFailure", "RetryOnFailure")
_INSTALL_KEYS = (*_ACTION_KEYS, "replace", "skipCRDs", "createNamespace")
_UPGRADE_KEYS = (*_ACTION_KEYS, "force", "preserveValues", "cleanupOnFail")
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
_TARGET_KEYS = ("group", "version", "kind", "name", "namespace")

# What gitwave does instead, for each refused switch (the field set to true).
_NO_REMEDIATION = (
    "gitwave never rolls back or uninstalls a failed release: a failed sync leaves the "
    "objects as applied and is retried at the next reconcile, with back-off "
    "(Flux's strategy name: RetryOnFailure)"
)
_REFUSED_SWITCHES = {
    "disableHooks": "gitwave always runs the chart's pre/post install and upgrade hooks",
    "disableWaitForJobs": "gitwave's health wait covers Jobs as every other object",
    "disableOpenAPIValidation": "the API server validates every object gitwave applies",
    "disableSchemaValidation": "helm always checks the values against values.schema.json",
    "disableTakeOwnership": "gitwave adopts an existing object of the release as it applies it",
    "replace": "gitwave applies the objects (server-side); it never replaces a release",
    "force": "gitwave applies the objects (server-side); it never deletes and recreates them",
    "cleanupOnFail": "gitwave keeps what a failed sync applied (the next sync corrects it)",
    "preserveValues": "the values are always spec.values and spec.valuesFrom, as in Git",
}
# Read from Git, a release is part of the app that holds it.
_APP_FIELDS = {
    "suspend": "suspend the app that holds it (a Kustomization's spec.suspend) instead",
    "serviceAccountName": "it is applied with the credentials of the app that holds it; "
    "set spec.serviceAccountName on that Kustomization",
    "kubeConfig": "it is applied to the target of the app that holds it; "
    "set spec.kubeConfig on that Kustomization",
}


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


def parse_release(resource: Resource) -> ReleaseSpec:
    """The checked spec of the HelmRelease ``resource``; ValidationError naming
    ``HelmRelease/namespace/name (file:line)`` and the field otherwise."""
    name, namespace = resource.key.name, resource.key.namespace
    where = f"HelmRelease/{namespace}/{name} ({resource.source})"
    reader = Reader(where)
    doc = resource.manifest
    spec = reader.mapping(doc, "spec", required=True)
    _known(reader, spec, "spec", SPEC_KEYS)
    chart = reader.mapping(spec, "spec.chart")
    chart_ref = reader.mapping(spec, "spec.chartRef")
    if bool(chart) == bool(chart_ref):
        reader.fail("set exactly one of spec.chart and spec.chartRef")
    _known(reader, chart, "spec.chart", ("spec", "metadata"))
    chart_spec = reader.mapping(chart, "spec.chart.spec", required=bool(chart))
    _chart_spec(reader, chart_spec)
    _known(reader, chart_ref, "spec.chartRef", ("apiVersion", "kind", "name", "namespace"))
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
    _accepted(reader, spec)
    install = reader.mapping(spec, "spec.install")
    upgrade = reader.mapping(spec, "spec.upgrade")
    _known(reader, install, "spec.install", _INSTALL_KEYS)
    _known(reader, upgrade, "spec.upgrade", _UPGRADE_KEYS)
    crds = {}
    for field_name, block in (("install", install), ("upgrade", upgrade)):
        _action(reader, block, f"spec.{field_name}")
        policy = reader.string(block, f"spec.{field_name}.crds")
        if policy and policy not in CRD_POLICIES:
            known = ", ".join(CRD_POLICIES)
            reader.fail(f"spec.{field_name}.crds: {policy!r} is not one of {known}")
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
        _known(reader, dep, f"spec.dependsOn[{i}]", ("name", "namespace"))
    values_from = tuple(reader.mappings(spec, "spec.valuesFrom"))
    for i, entry in enumerate(values_from):
        _known(
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
    _known(reader, common, "spec.commonMetadata", ("labels", "annotations"))
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
        test=_test(reader, spec),
        common_labels=_string_map(reader, common, "spec.commonMetadata.labels"),
        common_annotations=_string_map(reader, common, "spec.commonMetadata.annotations"),
        drift_ignore=_drift(reader, spec),
    )


def _known(reader: Reader, block: Mapping[str, Any], dotted: str, known: Sequence[str]) -> None:
    unknown = sorted(str(k) for k in block if k not in known)
    if unknown:
        reader.fail(
            f"{dotted}.{unknown[0]}: not a field of a Flux HelmRelease (v2); "
            f"{dotted} takes {', '.join(known)}"
        )


def _chart_spec(reader: Reader, chart_spec: Mapping[str, Any]) -> None:
    _known(reader, chart_spec, "spec.chart.spec", _CHART_SPEC_KEYS)
    if reader.strings(chart_spec, "spec.chart.spec.valuesFiles") or reader.string(
        chart_spec, "spec.chart.spec.valuesFile"
    ):
        reader.fail(
            "spec.chart.spec.valuesFiles: values files of the chart are not supported; "
            "put the values in spec.values or spec.valuesFrom"
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


def _accepted(reader: Reader, spec: Mapping[str, Any]) -> None:
    """The fields that need nothing of a render: checked, and refused read from
    Git where only a release of its own gives them a meaning."""
    reader.duration(spec, "spec.interval", None)
    reader.duration(spec, "spec.timeout", None)
    reader.boolean(spec, "spec.persistentClient")
    reader.dns_name(reader.string(spec, "spec.storageNamespace"), "spec.storageNamespace")
    history = spec.get("maxHistory")
    if history is not None and (
        isinstance(history, bool) or not isinstance(history, int) or history < 0
    ):
        reader.fail(f"spec.maxHistory must be a whole number >= 0, not {history!r}")
    for field_name, instead in _APP_FIELDS.items():
        value = spec.get(field_name)
        if value not in (None, False, "", {}):
            reader.fail(
                f"spec.{field_name}: a HelmRelease read from Git is rendered with the app that "
                f"holds it; {instead}"
            )
    if spec.get("rollback"):
        reader.fail(f"spec.rollback: {_NO_REMEDIATION}; roll back by reverting the commit")
    if spec.get("uninstall"):
        reader.fail(
            "spec.uninstall: a removed release's objects are pruned as the app that holds it "
            "prunes (Helm's uninstall options do not apply)"
        )


def _action(reader: Reader, block: Mapping[str, Any], dotted: str) -> None:
    """``spec.install`` / ``spec.upgrade``: what is not the CRD policy."""
    reader.duration(block, f"{dotted}.timeout", None)
    if reader.boolean(block, f"{dotted}.disableWait"):
        reader.fail(
            f"{dotted}.disableWait: a HelmRelease read from Git is rendered with the app that "
            "holds it, which decides the health wait (a Kustomization's spec.wait)"
        )
    for switch, instead in _REFUSED_SWITCHES.items():
        if switch in block and reader.boolean(block, f"{dotted}.{switch}"):
            reader.fail(f"{dotted}.{switch}: not supported; {instead}")
    strategy = reader.mapping(block, f"{dotted}.strategy")
    _known(reader, strategy, f"{dotted}.strategy", ("name", "retryInterval"))
    name = reader.string(strategy, f"{dotted}.strategy.name") or _STRATEGIES[0]
    if name not in _STRATEGIES:
        reader.fail(f"{dotted}.strategy.name: {name!r} is not one of {', '.join(_STRATEGIES)}")
    if "retryInterval" in strategy:
        reader.fail(
            f"{dotted}.strategy.retryInterval: not supported; a failed sync is retried at "
            "the next reconcile, with gitwave's back-off"
        )
    remediation = reader.mapping(block, f"{dotted}.remediation")
    _known(
        reader,
        remediation,
        f"{dotted}.remediation",
        ("retries", "remediateLastFailure", "strategy", "ignoreTestFailures"),
    )
    if name == "RetryOnFailure":
        return  # what gitwave does; Flux ignores remediation with it too
    retries = remediation.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int):
        reader.fail(f"{dotted}.remediation.retries must be a whole number, not {retries!r}")
    if retries:
        reader.fail(f"{dotted}.remediation.retries: {retries}: {_NO_REMEDIATION}")
    for switch in ("remediateLastFailure", "ignoreTestFailures"):
        if reader.boolean(remediation, f"{dotted}.remediation.{switch}"):
            reader.fail(f"{dotted}.remediation.{switch}: {_NO_REMEDIATION}")
    if reader.string(remediation, f"{dotted}.remediation.strategy"):
        reader.fail(f"{dotted}.remediation.strategy: {_NO_REMEDIATION}")


def _test(reader: Reader, spec: Mapping[str, Any]) -> bool:
    test = reader.mapping(spec, "spec.test")
    _known(reader, test, "spec.test", ("enable", "ignoreFailures", "timeout", "filters"))
    if reader.boolean(test, "spec.test.ignoreFailures"):
        reader.fail(
            "spec.test.ignoreFailures: a failed test hook fails the sync in gitwave "
            "(tests run as post-sync hooks); remove the test or the field"
        )
    if test.get("filters"):
        reader.fail("spec.test.filters: not supported; every test hook of the chart runs")
    if test.get("timeout") is not None:
        reader.fail(
            "spec.test.timeout: test hooks run as post-sync hooks within the sync's "
            "timeout (spec.timeout); remove it"
        )
    return reader.boolean(test, "spec.test.enable")


def _drift(reader: Reader, spec: Mapping[str, Any]) -> tuple[DriftIgnore, ...]:
    drift = reader.mapping(spec, "spec.driftDetection")
    _known(reader, drift, "spec.driftDetection", ("mode", "ignore"))
    mode = reader.string(drift, "spec.driftDetection.mode")
    if mode and mode not in DRIFT_MODES:
        reader.fail(f"spec.driftDetection.mode: {mode!r} is not one of {', '.join(DRIFT_MODES)}")
    if mode in ("warn", "disabled"):
        reader.fail(
            f"spec.driftDetection.mode: {mode}: not supported; gitwave reports and corrects "
            "the drift of a release's objects at every sync (as mode: enabled); leave "
            "chosen fields alone with spec.driftDetection.ignore"
        )
    rules = []
    for i, rule in enumerate(reader.mappings(drift, "spec.driftDetection.ignore")):
        dotted = f"spec.driftDetection.ignore[{i}]"
        _known(reader, rule, dotted, ("paths", "target"))
        paths = reader.strings(rule, f"{dotted}.paths")
        if not paths:
            reader.fail(f"{dotted}.paths is required (JSON pointers, like /spec/replicas)")
        for path in paths:
            try:
                parse_pointer(path)
            except FieldPathError:
                reader.fail(f"{dotted}.paths: {path!r} is not a JSON pointer (like /spec/replicas)")
            if "," in path:
                reader.fail(f"{dotted}.paths: {path!r}: a comma in a path is not supported")
        target = reader.mapping(rule, f"{dotted}.target")
        for selector in ("labelSelector", "annotationSelector"):
            if selector in target:
                reader.fail(
                    f"{dotted}.target.{selector}: not supported; select by group, version, "
                    "kind, name and namespace"
                )
        _known(reader, target, f"{dotted}.target", _TARGET_KEYS)
        parts = []
        for part in _TARGET_KEYS:
            pattern = reader.string(target, f"{dotted}.target.{part}")
            if pattern:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    reader.fail(f"{dotted}.target.{part}: {pattern!r} is no expression: {exc}")
                parts.append((part, pattern))
        rules.append(DriftIgnore(tuple(paths), tuple(parts)))
    return tuple(rules)


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
    "DRIFT_MODES",
    "SPEC_KEYS",
    "DriftIgnore",
    "ReleaseSpec",
    "default_release_name",
    "parse_release",
]
