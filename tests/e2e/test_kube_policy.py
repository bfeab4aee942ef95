"""Policies on the real control plane (issue 14 items 1-2): the schema release
follows the API server's ``/version``, and a Deny refuses a sync before anything
reaches the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gitwave.engine.errors import GitwaveError
from gitwave.engine.model import ResourceKey
from gitwave.tui.cli import main
from tests.e2e.test_kube_contract import provider_for, unique

if TYPE_CHECKING:
    from .conftest import KubeCluster

POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-latest}
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["configmaps"]
  validations:
    - expression: "!has(object.data.image) || !object.data.image.endsWith(':latest')"
      messageExpression: "'no latest tag: ' + object.data.image"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: no-latest}
spec: {policyName: no-latest, validationActions: [Deny]}
"""


def test_version_follows_the_cluster_and_deny_applies_nothing(
    kube_cluster: KubeCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    namespace = unique("policy")
    app = tmp_path / "app"
    app.mkdir()
    (app / "cm.yaml").write_text(
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\n"
        f"metadata: {{name: settings, namespace: {namespace}}}\n"
        "data: {image: 'nginx:latest'}\n"
    )
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(POLICY)
    target = ["--context", kube_cluster.context, "--kubeconfig", str(kube_cluster.kubeconfig)]
    with provider_for(kube_cluster) as kube:
        assert kube.kubernetes_version() == "1.37"
        code = main(["validate", str(app), *target, "--policy", str(policies)])
        out, _ = capsys.readouterr()
        assert code == 1
        assert "against Kubernetes 1.37" in out
        assert f"ConfigMap/{namespace}/settings: no latest tag: nginx:latest" in out
        code = main(["sync", str(app), *target, "--policy", str(policies)])
        _, err = capsys.readouterr()
        assert code == 2 and "nothing was applied" in err
        try:
            seen = kube.observe(ResourceKey("", "Namespace", "", namespace))
        except GitwaveError:
            seen = None
        assert seen is None
