"""Health follows the app's source, through the command line on the sandbox:
Flux apps wait as their Kustomization says (kstatus, wait, healthChecks,
healthCheckExprs), Argo CD and directory apps as Argo CD does (the last wave
reported, not waited for; ignore-healthcheck), ``sync --wait`` and
``gitwave wait`` as ``argocd app wait``, and objects controllers copy labels
onto (Endpoints) are never called leftovers.

The sandbox settles an object GITWAVE_SANDBOX_ROLLOUT seconds after it is
applied: 600 means "never, during this test", so a wait that is not skipped
ends at its ``--timeout``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from gitwave.engine.model import LABEL_APP, Resource, ResourceKey
from gitwave.providers.sandbox import SandboxProvider
from tests.tui.cli_support import run

NEVER = "600"
FAST = "0.05"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("GITWAVE_STATE", str(state))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", NEVER)
    monkeypatch.setenv("NO_COLOR", "1")
    return state


def deployment(wave: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "annotations": {"argocd.argoproj.io/sync-wave": str(wave)},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }


def config_map(wave: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "settings",
            "namespace": "default",
            "annotations": {"argocd.argoproj.io/sync-wave": str(wave)},
        },
        "data": {"k": "v"},
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }


def ingress(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default", "annotations": annotations or {}},
        "spec": {
            "rules": [
                {
                    "host": "web.example",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ]
        },
    }


def in_namespace(manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}


def write_app(directory: Path, objects: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.yaml").write_text(yaml.safe_dump_all(objects))
    return directory


def flux_repo(root: Path, objects: list[dict[str, Any]], **spec: Any) -> Path:
    """A Git repository holding ``objects`` under app/ and one Kustomization
    ``web`` for them, with ``spec`` added to its spec."""
    write_app(root / "app", objects)
    docs = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "here", "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": "."},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "web", "namespace": "flux-system"},
            "spec": {
                "interval": "5m",
                "path": "./app",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": "here"},
                **spec,
            },
        },
    ]
    (root / "flux.yaml").write_text(yaml.safe_dump_all(docs))
    repo = git.Repo.init(root)
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("init", author=author, committer=author)
    repo.close()
    return root


def sync_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, "sync", *argv, "-o", "json")
    assert out, err
    (doc,) = json.loads(out)  # a list of apps, even for one
    return code, doc


# --- Flux: kstatus, wait, healthChecks ---------------------------------------------------

TWO_WAVES = [deployment(wave=0), config_map(wave=1)]


def test_a_flux_app_without_wait_applies_every_wave_without_waiting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = flux_repo(tmp_path / "flux", TWO_WAVES)

    code, result = sync_json(capsys, str(root), "--timeout", "1s")

    assert code == 0, result
    assert result["phase"] == "Succeeded"
    assert result["health"] == "Progressing"  # the Deployment is still rolling out
    assert {r["key"] for r in result["resources"] if r["action"] == "created"} == {
        "apps/Deployment/default/web",
        "/ConfigMap/default/settings",
    }


def test_the_same_objects_as_a_directory_app_wait_for_the_first_wave(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Argo CD's rule: wave 1 waits for wave 0 to be healthy."""
    app = write_app(tmp_path / "web", TWO_WAVES)

    code, result = sync_json(capsys, str(app), "--timeout", "1s")

    assert code == 1
    assert result["phase"] == "Failed"
    assert "timed out after 1s waiting for Deployment/default/web" in result["message"]


def test_a_flux_app_with_wait_true_waits_for_every_object(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = flux_repo(tmp_path / "flux", TWO_WAVES, wait=True)

    code, result = sync_json(capsys, str(root), "--timeout", "1s")

    assert code == 1
    assert "waiting for Deployment/default/web" in result["message"]


@pytest.mark.parametrize(
    ("check", "want_code"),
    [
        ({"apiVersion": "v1", "kind": "ConfigMap", "name": "settings", "namespace": "default"}, 0),
        ({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "default"}, 1),
    ],
    ids=["only-the-configmap", "the-deployment"],
)
def test_flux_health_checks_wait_only_for_the_objects_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, check: dict[str, str], want_code: int
) -> None:
    root = flux_repo(tmp_path / "flux", TWO_WAVES, healthChecks=[check])

    code, result = sync_json(capsys, str(root), "--timeout", "1s")

    assert code == want_code, result
    if want_code:
        assert (
            "healthChecks timed out after 1s waiting for Deployment/default/web"
            in (result["message"])
        )


def test_an_ingress_without_an_address_is_ready_for_flux(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = flux_repo(tmp_path / "flux", [service(), ingress()], wait=True)

    code, result = sync_json(capsys, str(root), "--timeout", "1s")

    assert code == 0, result
    assert result["health"] == "Healthy"  # kstatus: Current as soon as it exists
    code, out, _ = run(capsys, "status", str(root), "-o", "json")
    assert json.loads(out)[0]["health"] == "Healthy"


def test_a_health_check_expression_that_does_not_compile_applies_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    exprs = [{"apiVersion": "v1", "kind": "ConfigMap", "current": "data.("}]
    root = flux_repo(tmp_path / "flux", TWO_WAVES, healthCheckExprs=exprs)

    code, out, err = run(capsys, "sync", str(root))

    assert code == 2
    assert "flux.yaml" in err and "spec.healthCheckExprs[0].current" in err
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-A", "-o", "json")
    assert json.loads(out)["items"] == []


def test_health_check_expressions_judge_their_kind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A ConfigMap is always ready for kstatus; an expression saying otherwise wins."""
    exprs = [{"apiVersion": "v1", "kind": "ConfigMap", "current": "data.k == 'ready'"}]
    root = flux_repo(tmp_path / "flux", [config_map(wave=0)], wait=True, healthCheckExprs=exprs)

    code, result = sync_json(capsys, str(root), "--timeout", "1s")

    assert code == 1
    assert "ConfigMap/default/settings" in result["message"]
    assert "no healthCheckExprs expression is true yet" in result["message"]


# --- Argo CD's rule: the last wave is reported, not waited for ---------------------------


def test_an_ingress_without_an_address_ends_succeeded_and_progressing_for_argo(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = write_app(tmp_path / "shop", [service(), ingress()])

    code, result = sync_json(capsys, str(app), "--timeout", "1s")

    assert code == 0, result
    assert result["phase"] == "Succeeded"
    assert result["health"] == "Progressing"
    code, out, _ = run(capsys, "history", "shop", "-o", "json")
    assert [row["result"] for row in json.loads(out)] == ["Succeeded"]
    code, out, _ = run(capsys, "status", str(app))
    assert "Progressing" in out


def test_post_sync_hooks_still_wait_for_the_last_wave(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Argo CD runs PostSync hooks once every wave is healthy."""
    hook = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "smoke",
            "namespace": "default",
            "annotations": {"argocd.argoproj.io/hook": "PostSync"},
        },
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "t", "image": "busybox"}],
                }
            }
        },
    }
    app = write_app(tmp_path / "shop", [service(), ingress(), hook])

    code, result = sync_json(capsys, str(app), "--timeout", "1s")

    assert code == 1
    assert "waiting for Ingress/default/web" in result["message"]
    assert result["hooks"] == []


# --- sync --wait and gitwave wait --------------------------------------------------------


def test_sync_wait_fails_when_the_app_is_not_healthy_in_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = write_app(tmp_path / "shop", [service(), ingress()])

    code, out, err = run(capsys, "sync", str(app), "--wait", "--timeout", "1s")

    assert code == 1
    assert "shop: Succeeded" in out
    assert "shop: wait failed: timed out after 1s" in out
    assert "waiting for shop: health Progressing, want Healthy" in err
    assert "Ingress/default/web" in err


def test_sync_wait_succeeds_once_the_app_is_healthy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", FAST)
    app = write_app(tmp_path / "shop", [service(), ingress()])

    code, out, err = run(capsys, "sync", str(app), "--wait", "--timeout", "1m")

    assert code == 0, out + err
    assert "shop: Healthy (waited" in out


def test_wait_exit_codes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = write_app(tmp_path / "shop", [service(), ingress()])
    assert run(capsys, "sync", str(app))[0] == 0

    code, out, err = run(capsys, "wait", "shop", "--path", str(app), "--health", "--timeout", "1")
    assert code == 1
    assert "wait failed: timed out after 1s" in out
    assert "waiting for shop: health Progressing" in err

    code, out, err = run(capsys, "wait", "nosuchapp", "--path", str(app), "--health")
    assert code == 2
    assert "no app named nosuchapp" in err

    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", FAST)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fast"}}
    objects = [namespace, *(in_namespace(o, "fast") for o in (service(), ingress()))]
    fast = write_app(tmp_path / "fast", objects)
    assert run(capsys, "sync", str(fast))[0] == 0
    code, out, err = run(
        capsys, "wait", str(fast), "--health", "--sync", "--timeout", "1m", "-o", "json"
    )
    assert code == 0, out + err
    (outcome,) = json.loads(out)
    assert (outcome["ok"], outcome["health"], outcome["sync"]) == (True, "Healthy", "Synced")


def test_wait_for_sync_fails_while_the_app_is_out_of_sync(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = write_app(tmp_path / "shop", [config_map(wave=0)])

    code, out, _ = run(capsys, "wait", str(app), "--sync", "--timeout", "1s")

    assert code == 1
    assert "sync OutOfSync, want Synced" in out


def test_ignore_healthcheck_counts_the_object_healthy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ignored = ingress({"argocd.argoproj.io/ignore-healthcheck": "true"})
    app = write_app(tmp_path / "shop", [service(), ignored])

    code, out, err = run(capsys, "sync", str(app), "--wait", "--timeout", "5s")

    assert code == 0, out + err
    assert "shop: Healthy" in out


# --- resource exclusions -----------------------------------------------------------------


def test_endpoints_carrying_a_copied_app_label_are_no_leftovers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox_env: Path
) -> None:
    """The endpoints controller copies a Service's labels (the app label too)
    onto its Endpoints and EndpointSlices: as Argo CD's default exclusions,
    a plan does not call them leftovers of the app."""
    app = write_app(tmp_path / "shop", [service()])
    assert run(capsys, "sync", str(app))[0] == 0
    sandbox = SandboxProvider(sandbox_env)
    labels = {LABEL_APP: "shop", "app": "web"}
    for group, kind, api_version in (
        ("", "Endpoints", "v1"),
        ("discovery.k8s.io", "EndpointSlice", "discovery.k8s.io/v1"),
    ):
        key = ResourceKey(group, kind, "default", "web")
        manifest: dict[str, Any] = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": "web", "namespace": "default", "labels": labels},
        }
        if kind == "EndpointSlice":
            manifest["addressType"] = "IPv4"
            manifest["endpoints"] = []
        sandbox.apply(Resource(key, api_version, manifest))
    sandbox.close()

    code, out, err = run(capsys, "plan", str(app), "--prune")

    assert code == 0, out + err
    assert "Endpoints" not in out + err
    assert "EndpointSlice" not in out + err
