"""What gitwave does with the HelmRelease fields beyond the chart and its
values (``helmrelease_spec`` reads those): the install and upgrade actions
(remediation, strategy, switches), ``test``, ``driftDetection``, and what
only a release of its own means. Each is honoured (read here for the render)
or refused with a ValidationError naming the field and what gitwave does
instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.helmrelease_post import DriftIgnore
from gitwave.engine.fieldpath import FieldPathError, parse_pointer

DRIFT_MODES = ("enabled", "warn", "disabled")
ACTION_KEYS = (
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

_TARGET_KEYS = ("group", "version", "kind", "name", "namespace")

# What gitwave does instead, for each refused switch (the field set to true).
_NO_REMEDIATION = (
    "a HelmRelease read from Git is rendered into the app that holds it, and a failed sync "
    "of that app is retried with its back-off: nothing is rolled back or uninstalled "
    "(Flux's strategy name: RetryOnFailure); `gitwave controller` honours remediation on a "
    "HelmRelease object in the cluster"
)
_REFUSED_SWITCHES = {
    "disableHooks": "gitwave always runs the chart's pre/post install and upgrade hooks",
    "disableWaitForJobs": "gitwave's health wait covers Jobs as every other object",
    "disableOpenAPIValidation": "the API server validates every object gitwave applies",
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


def known(reader: Reader, block: Mapping[str, Any], dotted: str, names: Sequence[str]) -> None:
    """ValidationError for a key of ``block`` Flux's schema does not have (a typo)."""
    unknown = sorted(str(k) for k in block if k not in names)
    if unknown:
        reader.fail(
            f"{dotted}.{unknown[0]}: not a field of a Flux HelmRelease (v2); "
            f"{dotted} takes {', '.join(names)}"
        )


def check_accepted(reader: Reader, spec: Mapping[str, Any]) -> None:
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


def check_action(reader: Reader, block: Mapping[str, Any], dotted: str) -> None:
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
    known(reader, strategy, f"{dotted}.strategy", ("name", "retryInterval"))
    name = reader.string(strategy, f"{dotted}.strategy.name") or _STRATEGIES[0]
    if name not in _STRATEGIES:
        reader.fail(f"{dotted}.strategy.name: {name!r} is not one of {', '.join(_STRATEGIES)}")
    if "retryInterval" in strategy:
        reader.fail(
            f"{dotted}.strategy.retryInterval: not supported; a failed sync is retried at "
            "the next reconcile, with gitwave's back-off"
        )
    remediation = reader.mapping(block, f"{dotted}.remediation")
    known(
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


def wants_tests(reader: Reader, spec: Mapping[str, Any]) -> bool:
    """``spec.test.enable``: whether the chart's test hooks run after each sync."""
    block = reader.mapping(spec, "spec.test")
    known(reader, block, "spec.test", ("enable", "ignoreFailures", "timeout", "filters"))
    if reader.boolean(block, "spec.test.ignoreFailures"):
        reader.fail(
            "spec.test.ignoreFailures: a failed test hook fails the sync in gitwave "
            "(tests run as post-sync hooks); remove the test or the field"
        )
    if block.get("filters"):
        reader.fail("spec.test.filters: not supported; every test hook of the chart runs")
    if block.get("timeout") is not None:
        reader.fail(
            "spec.test.timeout: test hooks run as post-sync hooks within the sync's "
            "timeout (spec.timeout); remove it"
        )
    return reader.boolean(block, "spec.test.enable")


def drift_rules(reader: Reader, spec: Mapping[str, Any]) -> tuple[DriftIgnore, ...]:
    """``spec.driftDetection``: its ``ignore`` rules (``mode`` other than enabled refused)."""
    block = reader.mapping(spec, "spec.driftDetection")
    known(reader, block, "spec.driftDetection", ("mode", "ignore"))
    mode = reader.string(block, "spec.driftDetection.mode")
    if mode and mode not in DRIFT_MODES:
        reader.fail(f"spec.driftDetection.mode: {mode!r} is not one of {', '.join(DRIFT_MODES)}")
    if mode in ("warn", "disabled"):
        reader.fail(
            f"spec.driftDetection.mode: {mode}: not supported; gitwave reports and corrects "
            "the drift of a release's objects at every sync (as mode: enabled); leave "
            "chosen fields alone with spec.driftDetection.ignore"
        )
    rules = []
    for i, rule in enumerate(reader.mappings(block, "spec.driftDetection.ignore")):
        dotted = f"spec.driftDetection.ignore[{i}]"
        known(reader, rule, dotted, ("paths", "target"))
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
        known(reader, target, f"{dotted}.target", _TARGET_KEYS)
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


__all__ = [
    "ACTION_KEYS",
    "DRIFT_MODES",
    "check_accepted",
    "check_action",
    "drift_rules",
    "known",
    "wants_tests",
]
