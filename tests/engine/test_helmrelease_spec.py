"""Every HelmRelease field is honoured or refused (issue 16): the exact message
of each refusal, naming the release, its file:line and the field, and what
the honoured ones read to (pure; the CLI tests show their effect)."""

from __future__ import annotations

from typing import Any

import pytest

from gitwave.engine.apps.helmrelease_post import release_fields
from gitwave.engine.apps.helmrelease_spec import parse_release
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import ApplyMode, Resource, SourceRef
from gitwave.engine.render import RenderOptions
from gitwave.engine.render.directory import Doc
from gitwave.engine.render.resources import to_resources

WHERE = "HelmRelease/flux-system/web (web.yaml:3)"
NO_REMEDIATION = (
    "a HelmRelease read from Git is rendered into the app that holds it, and a failed sync "
    "of that app is retried with its back-off: nothing is rolled back or uninstalled "
    "(Flux's strategy name: RetryOnFailure); `gitwave controller` honours remediation on a "
    "HelmRelease object in the cluster"
)


def release(**spec: Any) -> Resource:
    doc = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "flux-system"},
        "spec": {
            "interval": "5m",
            "chart": {
                "spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "c"}}
            },
            **spec,
        },
    }
    [resource] = to_resources([Doc(doc, SourceRef("web.yaml", 3))], RenderOptions())
    return resource


def refusal(**spec: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_release(release(**spec))
    text = str(caught.value)
    assert text.startswith(f"{WHERE}: "), text
    return text.removeprefix(f"{WHERE}: ").split("\n")[0]


REFUSED = [
    (
        {"intervall": "5m"},
        "spec.intervall: not a field of a Flux HelmRelease (v2); spec takes chart, chartRef, "
        "interval, kubeConfig, suspend, releaseName, targetNamespace, storageNamespace, "
        "dependsOn, timeout, maxHistory, serviceAccountName, persistentClient, driftDetection, "
        "install, upgrade, test, rollback, uninstall, valuesFrom, values, postRenderers, "
        "commonMetadata",
    ),
    (
        {"suspend": True},
        "spec.suspend: a HelmRelease read from Git is rendered with the app that holds it; "
        "suspend the app that holds it (a Kustomization's spec.suspend) instead",
    ),
    (
        {"serviceAccountName": "deployer"},
        "spec.serviceAccountName: a HelmRelease read from Git is rendered with the app that "
        "holds it; it is applied with the credentials of the app that holds it; set "
        "spec.serviceAccountName on that Kustomization",
    ),
    (
        {"kubeConfig": {"secretRef": {"name": "east"}}},
        "spec.kubeConfig: a HelmRelease read from Git is rendered with the app that holds it; "
        "it is applied to the target of the app that holds it; set spec.kubeConfig on that "
        "Kustomization",
    ),
    (
        {"install": {"disableWait": True}},
        "spec.install.disableWait: a HelmRelease read from Git is rendered with the app that "
        "holds it, which decides the health wait (a Kustomization's spec.wait)",
    ),
    (
        {"install": {"remediation": {"retries": -1}}},
        f"spec.install.remediation.retries: -1: {NO_REMEDIATION}",
    ),
    (
        {"upgrade": {"remediation": {"remediateLastFailure": True}}},
        f"spec.upgrade.remediation.remediateLastFailure: {NO_REMEDIATION}",
    ),
    (
        {"upgrade": {"remediation": {"strategy": "uninstall"}}},
        f"spec.upgrade.remediation.strategy: {NO_REMEDIATION}",
    ),
    (
        {"rollback": {"force": True}},
        f"spec.rollback: {NO_REMEDIATION}; roll back by reverting the commit",
    ),
    (
        {"uninstall": {"keepHistory": True}},
        "spec.uninstall: a removed release's objects are pruned as the app that holds it "
        "prunes (Helm's uninstall options do not apply)",
    ),
    (
        {"install": {"replace": True}},
        "spec.install.replace: not supported; gitwave applies the objects (server-side); it "
        "never replaces a release",
    ),
    (
        {"upgrade": {"force": True}},
        "spec.upgrade.force: not supported; gitwave applies the objects (server-side); it "
        "never deletes and recreates them",
    ),
    (
        {"upgrade": {"cleanupOnFail": True}},
        "spec.upgrade.cleanupOnFail: not supported; gitwave keeps what a failed sync applied "
        "(the next sync corrects it)",
    ),
    (
        {"upgrade": {"preserveValues": True}},
        "spec.upgrade.preserveValues: not supported; the values are always spec.values and "
        "spec.valuesFrom, as in Git",
    ),
    (
        {"upgrade": {"disableHooks": True}},
        "spec.upgrade.disableHooks: not supported; gitwave always runs the chart's pre/post "
        "install and upgrade hooks",
    ),
    (
        {"install": {"skipCRDs": True, "crds": "Create"}},
        "spec.install.skipCRDs: true contradicts spec.install.crds: Create",
    ),
    (
        {"test": {"enable": True, "ignoreFailures": True}},
        "spec.test.ignoreFailures: a failed test hook fails the sync in gitwave (tests run as "
        "post-sync hooks); remove the test or the field",
    ),
    (
        {"test": {"enable": True, "filters": [{"name": "smoke"}]}},
        "spec.test.filters: not supported; every test hook of the chart runs",
    ),
    (
        {"driftDetection": {"mode": "disabled"}},
        "spec.driftDetection.mode: disabled: not supported; gitwave reports and corrects the "
        "drift of a release's objects at every sync (as mode: enabled); leave chosen fields "
        "alone with spec.driftDetection.ignore",
    ),
    (
        {
            "driftDetection": {
                "ignore": [{"paths": ["/spec/replicas"], "target": {"labelSelector": "a=b"}}]
            }
        },
        "spec.driftDetection.ignore[0].target.labelSelector: not supported; select by group, "
        "version, kind, name and namespace",
    ),
    (
        {"driftDetection": {"ignore": [{"paths": ["spec.replicas"]}]}},
        "spec.driftDetection.ignore[0].paths: 'spec.replicas' is not a JSON pointer (like "
        "/spec/replicas)",
    ),
    (
        {"valuesFrom": [{"kind": "Secret", "name": "v", "valueKey": "x"}]},
        "spec.valuesFrom[0].valueKey: not a field of a Flux HelmRelease (v2); "
        "spec.valuesFrom[0] takes kind, name, valuesKey, targetPath, optional",
    ),
    (
        {
            "chart": {
                "spec": {
                    "chart": "web",
                    "sourceRef": {"kind": "HelmRepository", "name": "c"},
                    "valuesFile": "prod.yaml",
                }
            }
        },
        "spec.chart.spec.valuesFile: removed in Flux's HelmRelease v2; use "
        "spec.chart.spec.valuesFiles (a list)",
    ),
    (
        {
            "chart": {
                "spec": {
                    "chart": "web",
                    "sourceRef": {"kind": "HelmRepository", "name": "c"},
                    "valuesFiles": ["values.yaml", "/etc/passwd"],
                }
            }
        },
        "spec.chart.spec.valuesFiles[1]: '/etc/passwd' must be a path inside the chart "
        "(relative, no ..)",
    ),
    (
        {"install": {"disableSchemaValidation": True}},
        "spec.install.disableSchemaValidation and spec.upgrade.disableSchemaValidation must "
        "agree: gitwave renders the chart once, for an install and an upgrade alike (set both, "
        "or neither)",
    ),
    (
        {"install": {"strategy": {"name": "RetryOnFailure", "retryInterval": "5m"}}},
        "spec.install.strategy.retryInterval: not supported; a failed sync is retried at the "
        "next reconcile, with gitwave's back-off",
    ),
    (
        {"upgrade": {"strategy": {"name": "Retry"}}},
        "spec.upgrade.strategy.name: 'Retry' is not one of RemediateOnFailure, RetryOnFailure",
    ),
    ({"maxHistory": -1}, "spec.maxHistory must be a whole number >= 0, not -1"),
    ({"timeout": "soon"}, "spec.timeout: 'soon' is not a duration (like 30s, 5m, 1h30m)"),
]


@pytest.mark.parametrize(("spec", "message"), REFUSED, ids=[next(iter(s)) for s, _ in REFUSED])
def test_a_field_gitwave_does_not_honour_is_refused(spec: dict[str, Any], message: str) -> None:
    assert refusal(**spec) == message


def test_accepted_fields_read_as_gitwave_uses_them() -> None:
    parsed = parse_release(
        release(
            timeout="10m",
            maxHistory=3,
            storageNamespace="flux-system",
            persistentClient=True,
            install={"skipCRDs": True, "remediation": {"retries": 0}},
            # RetryOnFailure is what gitwave does; Flux ignores remediation with it.
            upgrade={"strategy": {"name": "RetryOnFailure"}, "remediation": {"retries": 3}},
            test={"enable": True},
            driftDetection={"mode": "enabled"},
            commonMetadata={"labels": {"team": "shop"}},
        )
    )
    assert (parsed.install_crds, parsed.upgrade_crds) == (ApplyMode.SKIP, ApplyMode.SKIP)
    assert parsed.test
    assert parsed.common_labels == (("team", "shop"),)


def test_drift_ignore_rules_select_objects_as_kustomize_selectors() -> None:
    parsed = parse_release(
        release(
            driftDetection={
                "ignore": [
                    {
                        "paths": ["/spec/replicas"],
                        "target": {"kind": "Deployment", "name": "web-.*"},
                    },
                    {"paths": ["/metadata/annotations/seen"]},
                ]
            }
        )
    )

    def ignored(kind: str, name: str) -> str:
        doc = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}}
        out = release_fields(Doc(doc, SourceRef("x", 0)), drift_ignore=parsed.drift_ignore)
        assert isinstance(out.value, dict)
        return str(out.value["metadata"]["annotations"]["gitwave.dev/ignore-differences"])

    assert ignored("Deployment", "web-api") == "/spec/replicas,/metadata/annotations/seen"
    assert ignored("Deployment", "api") == "/metadata/annotations/seen"
    assert ignored("StatefulSet", "web-db") == "/metadata/annotations/seen"
