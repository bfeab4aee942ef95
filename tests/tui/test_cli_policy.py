"""`gitwave validate`, ValidatingAdmissionPolicies and plaintext Secrets through the
real CLI on the sandbox (issue 14 items 1, 2, 4 and the sample policies)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.tui.cli_support import run, sandbox_state

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "testdata" / "policy"
SAMPLE_POLICIES = ROOT / "samples" / "policies"
SECRET = "hunter2-very-secret-value"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: default
  labels: {{app: api}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
        - name: api
          image: {image}
"""

# A Secret committed in plaintext, holding SECRET.
PLAINTEXT_SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: default\n"
    f"stringData:\n  password: {SECRET}\n"
)


def deployment_app(tmp_path: Path, replicas: object) -> Path:
    """tmp_path/app holding deploy.yaml: DEPLOYMENT with ``replicas`` (nginx:1.27)."""
    app = tmp_path / "app"
    write(app, "deploy.yaml", DEPLOYMENT.format(replicas=replicas, image="nginx:1.27"))
    return app


def test_schema_error_names_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = deployment_app(tmp_path, "three")
    code, out, _ = run(capsys, "validate", str(app))
    assert code == 1
    # replicas sits on line 8 of deploy.yaml
    assert (
        'deploy.yaml:8: Deployment/default/api: spec.replicas: Invalid value: "three": '
        "must be of type integer" in out
    )


def test_crd_and_xrd_kinds_are_checked_with_their_schemas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(DATA / "crd-app.yaml", app / "crd-app.yaml")
    shutil.copy(DATA / "xrd-app.yaml", app / "xrd-app.yaml")
    code, out, _ = run(capsys, "validate", str(app), "-o", "json")
    assert code == 1
    report = json.loads(out)
    where = {(f["object"], f["path"]): f["where"] for f in report["findings"]}
    assert where[("Widget/default/w1", "spec.size")] == "crd-app.yaml:29"
    assert where[("XQueue/orders", "spec.retentionDays")] == "xrd-app.yaml:27"
    assert report["violations"] == 2


def test_junit_report_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = deployment_app(tmp_path, "three")
    junit = tmp_path / "report.xml"
    code, _, _ = run(capsys, "validate", str(app), "--junit", str(junit))
    assert code == 1
    suites = ET.parse(junit).getroot()
    suite = suites.find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and "spec.replicas" in (failure.get("message") or "")


def test_kubernetes_version_flag_and_clean_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = deployment_app(tmp_path, 2)
    code, out, _ = run(capsys, "validate", str(app), "--kubernetes-version", "1.30")
    assert code == 0, out
    assert "against Kubernetes 1.30: 0 violations" in out


def test_sample_policies_pass_and_deny(capsys: pytest.CaptureFixture[str]) -> None:
    policies = ("--policy", str(SAMPLE_POLICIES / "vap"), "--policy", str(SAMPLE_POLICIES / "rego"))
    code, out, _ = run(capsys, "validate", str(ROOT / "samples/policy-demo"), *policies)
    assert code == 0, out
    code, out, _ = run(capsys, "validate", str(ROOT / "samples/policy-denied"), *policies)
    assert code == 1
    for policy in (
        "limits-required",
        "no-privileged",
        "no-latest-tag",
        "required-labels",
        "no-plaintext-secret",
    ):
        assert f"[{policy} via {policy}]" in out
    assert "missing required labels: team" in out
    assert "not-in-git-please" not in out


POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  paramKind: {{apiVersion: v1, kind: ConfigMap}}
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["deployments"]
  validations:
    - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
      messageExpression: >-
        'at most ' + params.data.maxReplicas + ' replicas in ' +
        namespaceObject.metadata.labels.tier
    - expression: "oldObject == null || object.spec.replicas >= oldObject.spec.replicas"
      message: "scaling down in Git is not allowed"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}-binding}}
spec:
  policyName: {name}
  validationActions: [{action}]
  paramRef: {{name: limits, namespace: policy-params, parameterNotFoundAction: Deny}}
  matchResources:
    namespaceSelector:
      matchLabels: {{tier: prod}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: limits, namespace: policy-params}}
data: {{maxReplicas: "3"}}
"""

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {tier: prod}
"""


def shop_app(directory: Path, replicas: int) -> Path:
    write(directory, "ns.yaml", NAMESPACE)
    write(
        directory,
        "deploy.yaml",
        DEPLOYMENT.format(replicas=replicas, image="nginx:1.27").replace(
            "namespace: default", "namespace: shop"
        ),
    )
    return directory


def replicas_policy(tmp_path: Path, name: str, action: str) -> Path:
    """tmp_path/policies holding POLICY as ``name`` with validation action ``action``."""
    policies = tmp_path / "policies"
    write(policies, f"{name}.yaml", POLICY.format(name=name, action=action))
    return policies


def sandbox_objects(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, _ = run(capsys, "sandbox", "get", "-A")
    assert code == 0
    return out


def test_deny_refuses_the_whole_sync_with_params_and_namespace_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = replicas_policy(tmp_path, "max-replicas", "Deny")
    app = shop_app(tmp_path / "app", replicas=5)
    code, _, err = run(capsys, "sync", str(app), "--policy", str(policies))
    assert code == 2
    assert "Deployment/shop/api" in err
    assert "at most 3 replicas in prod [max-replicas via max-replicas-binding]" in err
    assert "nothing was applied" in err
    listed = sandbox_objects(capsys)
    assert "shop" not in listed and "Deployment" not in listed  # not even the Namespace
    # validate finds the same, exit 1
    code, out, _ = run(capsys, "validate", str(app), "--policy", str(policies))
    assert code == 1
    assert "deploy.yaml:1: Deployment/shop/api: at most 3 replicas in prod" in out


def test_old_object_on_update_and_warn_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = replicas_policy(tmp_path, "shrink", "Warn")
    app = shop_app(tmp_path / "app", replicas=3)
    code, _, err = run(capsys, "sync", str(app), "--policy", str(policies))
    assert code == 0, err
    shop_app(app, replicas=2)
    code, out, err = run(capsys, "sync", str(app), "--policy", str(policies))
    assert code == 0, err
    assert "warning: deploy.yaml:1: Deployment/shop/api: scaling down in Git is not allowed" in err
    code, out, _ = run(capsys, "sandbox", "get", "deployment/api", "-n", "shop", "-o", "json")
    assert json.loads(out)["spec"]["replicas"] == 2  # Warn went on and applied


def test_missing_params_deny(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policies = tmp_path / "policies"
    text = POLICY.format(name="max-replicas", action="Deny")
    write(policies, "p.yaml", text.split("---\napiVersion: v1\nkind: ConfigMap")[0])
    app = shop_app(tmp_path / "app", replicas=1)
    code, out, _ = run(capsys, "validate", str(app), "--policy", str(policies))
    assert code == 1
    assert "no params found for policy binding with Deny parameterNotFoundAction" in out


def test_plaintext_secret_warns_strict_denies_value_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "app"
    write(app, "secret.yaml", PLAINTEXT_SECRET)
    code, out, err = run(capsys, "plan", str(app))
    assert code == 1  # changes
    assert (
        "warning: secret.yaml:1: Secret/default/creds: a Secret committed to Git in plaintext"
        in err
    )
    code, out, err = run(capsys, "sync", str(app), "--strict")
    assert code == 2
    assert "Secret/default/creds" in err and "nothing was applied" in err
    code, out2, err2 = run(capsys, "validate", str(app), "--strict", "-o", "json")
    assert code == 1
    for text in (out, err, out2, err2):
        assert SECRET not in text


def test_a_policy_in_the_render_is_evaluated_and_unknown_functions_fail_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = deployment_app(tmp_path, 1)
    write(
        app,
        "policy.yaml",
        """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: uses-authorizer}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: ["apps"], apiVersions: ["v1"], operations: ["*"], resources: ["*"]}
  validations:
    - expression: "authorizer.group('apps').resource('deployments').check('get').allowed()"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: uses-authorizer}
spec: {policyName: uses-authorizer, validationActions: [Deny]}
""",
    )
    code, out, _ = run(capsys, "validate", str(app))
    assert code == 1
    assert "`authorizer` is not available" in out
    assert "[uses-authorizer via uses-authorizer]" in out


def test_audit_is_recorded_in_events_not_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = replicas_policy(tmp_path, "audited", "Audit")
    app = shop_app(tmp_path / "app", replicas=5)
    code, out, err = run(capsys, "sync", str(app), "--policy", str(policies))
    assert code == 0, err
    assert "at most 3 replicas" not in out + err
    code, out, _ = run(capsys, "events", "app")
    assert code == 0
    assert "Deployment/shop/api: at most 3 replicas in prod [audited via audited-binding]" in out


APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
  annotations:
    gitwave.dev/policy: policies
spec:
  project: default
  source: {repoURL: ., targetRevision: HEAD, path: app}
  destination: {server: https://kubernetes.default.svc, namespace: shop}
"""


def test_per_app_policy_annotation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    write(repo, "application.yaml", APPLICATION)
    write(repo / "policies", "p.yaml", POLICY.format(name="max-replicas", action="Deny"))
    shop_app(repo / "app", replicas=5)
    code, _, err = run(capsys, "sync", str(repo))
    assert code == 2
    assert "at most 3 replicas in prod [max-replicas via max-replicas-binding]" in err
    code, out, _ = run(capsys, "validate", str(repo))
    assert code == 1
    assert "app/deploy.yaml:1: Deployment/shop/api: at most 3 replicas" in out


def test_policy_messages_never_show_secret_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "app"
    write(app, "secret.yaml", PLAINTEXT_SECRET)
    policies = tmp_path / "policies"
    write(
        policies,
        "leak.yaml",
        """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: leak}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["*"], resources: ["secrets"]}
  validations:
    - expression: "false"
      messageExpression: "'the password is ' + object.stringData.password"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: leak}
spec: {policyName: leak, validationActions: [Warn]}
""",
    )
    write(
        policies,
        "leak.rego",
        "package main\n\nimport rego.v1\n\nwarn contains msg if {\n"
        '\tinput.kind == "Secret"\n'
        '\tmsg := sprintf("password %s", [input.stringData.password])\n}\n',
    )
    outputs = []
    for argv in (
        ("validate", str(app), "--policy", str(policies)),
        ("validate", str(app), "--policy", str(policies), "-o", "json"),
        ("sync", str(app), "--policy", str(policies)),
        ("events", "app"),
    ):
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        outputs.append(out + err)
    assert "the password is ***" in outputs[0] and "password ***" in outputs[0]
    assert "the password is ***" in outputs[3]
    for text in outputs:
        assert SECRET not in text
