"""``gitwave plan`` refuses what a sync would be refused (engine.validate).

Driven as a user drives it: the command line on the embedded sandbox. A plan
with an object the target would refuse exits 2 naming the object's file,
line and ``Kind/namespace/name`` and the API server's reason; a sync refuses
before applying anything, and a Secret's values appear nowhere.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine import operations
from gitwave.engine.apps import implicit_app
from gitwave.engine.errors import GitwaveError
from gitwave.engine.kube_rules import name_problem
from gitwave.engine.router import ProviderRouter
from gitwave.engine.validate import PreflightError
from gitwave.providers.sandbox import SandboxProvider
from tests.tui.cli_support import run

SECRET_VALUE = "hunter2-never-shown"

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
"""

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  LOG_LEVEL: info
"""


def deployment(replicas: str = "2") -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
        spec:
          replicas: {replicas}
          selector:
            matchLabels: {{app: web}}
          template:
            metadata:
              labels: {{app: web}}
            spec:
              containers:
                - name: web
                  image: nginx:1.27
        """
    )


def secret(name: str = "db", *, value: str = SECRET_VALUE, immutable: bool = False) -> str:
    text = textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Secret
        metadata:
          name: {name}
          namespace: shop
        stringData:
          password: {value}
        """
    )
    return text + ("immutable: true\n" if immutable else "")


WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: gadget
  namespace: shop
spec:
  size: 3
"""

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer, maximum: 5}
"""


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("GITWAVE_STATE", str(state))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0")
    monkeypatch.setenv("NO_COLOR", "1")
    return state


def write_app(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("*.yaml"):
        old.unlink()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def live_objects(state: Path) -> list[str]:
    """What the sandbox holds, besides what every fresh sandbox has."""
    with SandboxProvider(state) as sandbox:
        return sorted(
            live.key.display
            for live in sandbox.list()
            if live.key.display not in ("Namespace/default", "Namespace/kube-system")
        )


def assert_secret_nowhere(state: Path, *outputs: str) -> None:
    for output in outputs:
        assert SECRET_VALUE not in output
    for path in state.rglob("*"):
        if path.is_file():
            assert SECRET_VALUE.encode() not in path.read_bytes(), path


@dataclass(frozen=True)
class Case:
    reason: str
    files: dict[str, str]
    # Every line must be in stderr: the object with file:line, and the reason.
    want: tuple[str, ...]


REFUSED = [
    Case(
        "replicas: three",
        {"ns.yaml": NAMESPACE, "web.yaml": deployment("three")},
        (
            "Deployment/shop/web (web.yaml:1): "
            'Deployment.apps "web" is invalid: spec.replicas: Invalid value: "three": '
            "must be of type integer",
        ),
    ),
    Case(
        "a Secret named Bad_Name",
        {"ns.yaml": NAMESPACE, "secret.yaml": secret("Bad_Name")},
        (
            'Secret/shop/Bad_Name (secret.yaml:1): Secret "Bad_Name" is invalid: '
            'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain',
        ),
    ),
    Case(
        "a kind no CRD defines",
        {"ns.yaml": NAMESPACE, "widget.yaml": WIDGET},
        (
            "Widget/shop/gadget (widget.yaml:1): no matches for kind 'Widget' in version "
            "'example.com/v1': no CustomResourceDefinition in the app or on the target "
            "defines it",
        ),
    ),
    Case(
        "a namespace neither in the app nor on the target",
        {"config.yaml": CONFIG},
        (
            "ConfigMap/shop/settings (config.yaml:1): namespace 'shop' does not exist "
            "and is not in the render",
        ),
    ),
    Case(
        "a custom resource the app's CRD refuses",
        {"ns.yaml": NAMESPACE, "crd.yaml": WIDGET_CRD, "widget.yaml": WIDGET.replace("3", "9")},
        (
            'Widget/shop/gadget (widget.yaml:1): Widget.example.com "gadget" is invalid: '
            "spec.size: Invalid value: 9: must be less than or equal to 5",
        ),
    ),
    Case(
        "several objects at once, each named",
        {
            "ns.yaml": NAMESPACE,
            "all.yaml": deployment("three") + "---\n" + secret("Bad_Name") + "---\n" + WIDGET,
        },
        (
            "the target would refuse 3 objects; nothing was applied",
            "Deployment/shop/web (all.yaml:1)",
            "Secret/shop/Bad_Name (all.yaml:18)",
            "Widget/shop/gadget (all.yaml:26)",
        ),
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c.reason for c in REFUSED])
def test_plan_and_sync_refuse_with_exit_2_naming_the_object_and_apply_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path, case: Case
) -> None:
    app = write_app(tmp_path / "shop", case.files)

    code, out, err = run(capsys, "plan", str(app))
    assert code == 2, (out, err)
    for line in case.want:
        assert line in err, err
    assert "hint: " in err

    code, sync_out, sync_err = run(capsys, "sync", str(app))
    assert code == 2, (sync_out, sync_err)
    assert case.want[0] in sync_err
    assert live_objects(state) == []

    code, history, _ = run(capsys, "history", "shop", "-o", "json")
    records = json.loads(history)
    assert [r["result"] for r in records] == ["Error"]
    assert_secret_nowhere(state, out, err, sync_out, sync_err, history)


def test_a_change_to_an_immutable_secret_is_refused_by_plan_and_sync(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    app = write_app(
        tmp_path / "shop", {"ns.yaml": NAMESPACE, "secret.yaml": secret(immutable=True)}
    )
    assert run(capsys, "sync", str(app))[0] == 0
    with SandboxProvider(state) as sandbox:
        before = {live.key: live.resource_version for live in sandbox.list(kind="Secret")}

    write_app(
        app, {"ns.yaml": NAMESPACE, "secret.yaml": secret(value="rotated-value", immutable=True)}
    )
    code, out, err = run(capsys, "plan", str(app))
    assert code == 2, (out, err)
    assert (
        'Secret/shop/db (secret.yaml:1): Secret "db" is invalid: data: Forbidden: '
        "field is immutable when `immutable` is set"
    ) in err
    code, sync_out, sync_err = run(capsys, "sync", str(app))
    assert code == 2
    with SandboxProvider(state) as sandbox:
        after = {live.key: live.resource_version for live in sandbox.list(kind="Secret")}
    assert after == before
    assert "rotated-value" not in err + sync_err
    assert_secret_nowhere(state, out, err, sync_out, sync_err)


def test_a_custom_resource_whose_crd_is_on_the_target_plans_and_is_checked_against_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    platform = write_app(tmp_path / "platform", {"crd.yaml": WIDGET_CRD})
    assert run(capsys, "sync", str(platform))[0] == 0

    shop = write_app(tmp_path / "shop", {"ns.yaml": NAMESPACE, "widget.yaml": WIDGET})
    code, out, err = run(capsys, "plan", str(shop))
    assert code == 1, err  # changes to make, nothing refused
    assert "Widget/shop/gadget" in out

    write_app(shop, {"ns.yaml": NAMESPACE, "widget.yaml": WIDGET.replace("3", "6")})
    code, _, err = run(capsys, "plan", str(shop))
    assert code == 2
    assert "spec.size: Invalid value: 6: must be less than or equal to 5" in err


def test_a_kind_another_tool_installs_is_left_alone_with_skip_dry_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    skipping = WIDGET.replace(
        "  namespace: shop\n",
        "  namespace: shop\n  annotations:\n"
        "    argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true\n",
    )
    app = write_app(tmp_path / "shop", {"ns.yaml": NAMESPACE, "widget.yaml": skipping})
    code, out, err = run(capsys, "plan", str(app))
    assert code == 1, err
    assert "Widget/shop/gadget" in out


def test_an_unknown_kind_may_be_retried_a_schema_error_may_not(tmp_path: Path) -> None:
    targets = ProviderRouter([SandboxProvider(tmp_path / "state", rollout_seconds=0.0)])
    unknown = write_app(tmp_path / "a", {"ns.yaml": NAMESPACE, "widget.yaml": WIDGET})
    with pytest.raises(PreflightError) as caught:
        operations.plan(
            implicit_app("a", location=str(unknown)), operations.SyncRequest(), targets=targets
        )
    assert caught.value.retriable

    invalid = write_app(tmp_path / "b", {"ns.yaml": NAMESPACE, "web.yaml": deployment("three")})
    with pytest.raises(GitwaveError) as caught_invalid:
        operations.plan(
            implicit_app("b", location=str(invalid)), operations.SyncRequest(), targets=targets
        )
    assert not caught_invalid.value.retriable


@pytest.mark.parametrize(
    ("group", "kind", "name", "ok"),
    [
        ("", "ConfigMap", "app.config-1", True),
        ("", "ConfigMap", "App", False),
        ("", "Namespace", "team-a", True),
        ("", "Namespace", "team.a", False),
        ("", "Service", "web-1", True),
        ("", "Service", "1web", False),
        ("batch", "CronJob", "c" * 52, True),
        ("batch", "CronJob", "c" * 53, False),
        ("rbac.authorization.k8s.io", "ClusterRole", "system:controller:x", True),
        ("rbac.authorization.k8s.io", "Role", "a/b", False),
        ("example.com", "Widget", "w" * 254, False),
    ],
)
def test_names_follow_the_rule_of_their_kind(group: str, kind: str, name: str, ok: bool) -> None:
    assert (name_problem(group, kind, name) is None) is ok
