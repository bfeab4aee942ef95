"""HelmRelease fields beyond the chart and values (issue 16), through the CLI
onto the sandbox: ``spec.test`` runs the chart's test hooks after the sync
(a failing one fails it), ``commonMetadata`` reaches every object,
``driftDetection.ignore`` leaves a field's drift unreported and uncorrected,
and a field gitwave does not honour is refused naming the release and field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.render.charts import forget_indexes
from tests.engine.helm_support import (  # noqa: F401 (helm_cli_sandbox: an autouse fixture)
    CONFIGMAP,
    DEPLOYMENT,
    ChartRepo,
    flux_release,
    helm_cli_sandbox,
    serve_chart_repo,
    write_chart,
)
from tests.tui.cli_support import commit, run

# A Helm test hook: a Pod (the sandbox runs it; the annotation fails it).
TEST_HOOK = """apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-smoke
  annotations:
    helm.sh/hook: test
    {{- if .Values.failTest }}
    sandbox.gitwave.dev/fail: "true"
    {{- end }}
spec:
  restartPolicy: Never
  containers:
    - name: smoke
      image: busybox
"""


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with serve_chart_repo(tmp_path / "charts") as repo:
        repo.publish(
            write_chart(
                tmp_path / "chart-src",
                "web",
                "1.0.0",
                templates={"cm.yaml": CONFIGMAP, "deploy.yaml": DEPLOYMENT, "test.yaml": TEST_HOOK},
            )
        )
        yield repo
    forget_indexes()


def repo_with(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "repo"
    root.mkdir(exist_ok=True)
    (root / "web.yaml").write_text(text)
    commit(root, "release")
    return root


def live(capsys: pytest.CaptureFixture[str], what: str, namespace: str) -> dict[str, Any] | None:
    code, out, _ = run(capsys, "sandbox", "get", what, "-n", namespace, "-o", "json")
    if code != 0:
        return None
    found: dict[str, Any] = json.loads(out)
    return found


def test_without_spec_test_the_test_hooks_never_run(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo_with(tmp_path, flux_release(chart_repo.url))
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert live(capsys, "pod/shop-web-smoke", "shop") is None


def test_spec_test_runs_the_test_hooks_after_the_sync(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec="  test:\n    enable: true\n"))
    code, out, err = run(capsys, "graph", str(root))
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()]
    assert lines[-2:] == ["PostSync wave 0", "Pod/shop/shop-web-smoke  (after Namespace/shop)"]
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    pod = live(capsys, "pod/shop-web-smoke", "shop")
    assert pod is not None and pod["status"]["phase"] == "Succeeded", pod


def test_a_failing_test_hook_fails_the_sync(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "  test:\n    enable: true\n  values:\n    failTest: true\n"
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec=spec))
    code, out, err = run(capsys, "sync", str(root))
    assert code == 1, out + err
    assert "Pod/shop/shop-web-smoke" in out + err
    summary = [line for line in out.splitlines() if ": Failed in " in line]
    assert summary, out


def test_common_metadata_reaches_every_object(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = (
        "  commonMetadata:\n    labels:\n      team: shop\n"
        "    annotations:\n      owner: shop@example.com\n"
    )
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec=spec))
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    for what in ("deployment/shop-web-web", "configmap/shop-web-settings"):
        meta = (live(capsys, what, "shop") or {})["metadata"]
        assert meta["labels"]["team"] == "shop", what
        assert meta["annotations"]["owner"] == "shop@example.com", what
        assert meta["labels"]["helm.toolkit.fluxcd.io/name"] == "web"


def test_drift_detection_ignore_leaves_the_field_alone(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = (
        "  driftDetection:\n    mode: enabled\n    ignore:\n"
        '      - paths: ["/spec/replicas"]\n        target:\n          kind: Deployment\n'
    )
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec=spec))
    assert run(capsys, "sync", str(root))[0] == 0
    scale = ("sandbox", "scale", "deployment/shop-web-web", "-n", "shop", "--replicas", "5")
    assert run(capsys, *scale)[0] == 0
    # An autoscaler's change: not reported, not undone.
    code, out, err = run(capsys, "plan", str(root))
    assert code == 0, out + err
    assert run(capsys, "sync", str(root))[0] == 0
    assert (live(capsys, "deployment/shop-web-web", "shop") or {})["spec"]["replicas"] == 5


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "  suspend: true\n",
            "spec.suspend: a HelmRelease read from Git is rendered with the app that holds "
            "it; suspend the app that holds it (a Kustomization's spec.suspend) instead",
        ),
        (
            "  upgrade:\n    remediation:\n      retries: 3\n",
            "spec.upgrade.remediation.retries: 3: a HelmRelease read from Git is rendered into "
            "the app that holds it, and a failed sync of that app is retried with its back-off: "
            "nothing is rolled back or uninstalled (Flux's strategy name: RetryOnFailure); "
            "`gitwave controller` honours remediation on a HelmRelease object in the cluster",
        ),
        (
            "  driftDetection:\n    mode: warn\n",
            "spec.driftDetection.mode: warn: not supported; gitwave reports and corrects the "
            "drift of a release's objects at every sync (as mode: enabled); leave chosen "
            "fields alone with spec.driftDetection.ignore",
        ),
        (
            "  valuesFrm:\n    - kind: Secret\n      name: x\n",
            "spec.valuesFrm: not a field of a Flux HelmRelease (v2); spec takes chart, ",
        ),
    ],
)
def test_a_field_gitwave_does_not_honour_is_refused_naming_it(
    tmp_path: Path,
    chart_repo: ChartRepo,
    capsys: pytest.CaptureFixture[str],
    spec: str,
    message: str,
) -> None:
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec=spec))
    code, out, err = run(capsys, "sync", str(root))
    assert code != 0
    assert "HelmRelease/flux-system/web (" in out + err
    assert message in " ".join((out + err).split()), out + err
    assert live(capsys, "deployment/shop-web-web", "shop") is None  # nothing applied
