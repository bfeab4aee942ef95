"""A HelmRelease's install/upgrade remediation in the controller, as helm-controller v2.

The controller runs against the in-memory management cluster of
test_controller_backoff (status written as merge patches), a real chart
repository served on 127.0.0.1 (charts packaged by the real ``helm``), the
sandbox target and a real state store; time is a passed clock. The upgrade
fails by a post-upgrade hook Job the sandbox fails (``sandbox.gitwave.dev/fail``),
after the release's ConfigMap was applied: what a user sees is that ConfigMap
in the target and the HelmRelease's status.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.controller.app_reconcile import Operated
from gitwave.engine.controller.keeper import ControllerOptions, ShardKeeper
from gitwave.engine.controller.loop import Controller
from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from tests.engine.helm_support import (  # noqa: F401 (helm_cli_sandbox: an autouse fixture)
    CONFIGMAP,
    ChartRepo,
    helm_cli_sandbox,
    serve_chart_repo,
    write_chart,
)
from tests.engine.test_controller_backoff import Cluster
from tests.engine.test_controller_keeper import T0, Clock

RELEASE = "HelmRelease/flux-system/web"
SETTINGS = ResourceKey("", "ConfigMap", "shop", "shop-web-settings")

# Run after an install or upgrade; the sandbox fails it when asked to.
HOOK = """apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-check
  annotations:
    helm.sh/hook: post-install,post-upgrade
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        sandbox.gitwave.dev/fail: {{ .Values.fail | quote }}
    spec:
      restartPolicy: Never
      containers:
        - name: check
          image: busybox
"""


@dataclass
class Env:
    cluster: Cluster
    clock: Clock
    keeper: ShardKeeper
    sandbox: SandboxProvider
    store: Store
    options: ControllerOptions
    charts: ChartRepo
    controller: Controller | None = None
    audit: list[Operated] = field(default_factory=list)

    def start(self) -> None:
        """A controller process (again: a restart forgets all it held in memory)."""
        self.controller = Controller(
            self.cluster,  # type: ignore[arg-type]
            self.keeper,
            targets=ProviderRouter([self.sandbox]),
            store=self.store,
            options=self.options,
            clock=self.clock,
            audit=self.audit.append,
            jitter=lambda: 0.0,
        )

    def at(self, seconds: float) -> list[str]:
        """One pass at T0 + ``seconds``, its workers drained: the apps queued."""
        assert self.controller is not None
        self.clock.now = T0 + timedelta(seconds=seconds)
        self.keeper.step()
        queued = self.controller.reconcile_once()
        assert self.controller._workers.drain(timeout=120)
        return queued

    def syncs(self) -> list[str]:
        return [o.phase for o in self.audit if o.app_id == RELEASE and o.finished]

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = self.cluster.get(RELEASE)["status"]
        return found

    def condition(self, kind: str) -> dict[str, Any] | None:
        return next((c for c in self.status().get("conditions", []) if c["type"] == kind), None)

    def greeting(self) -> str | None:
        live = self.sandbox.observe(SETTINGS)
        return None if live is None else str(live.manifest["data"]["greeting"])

    def release(self, *, greeting: str, fail: bool, **spec: Any) -> None:
        self.cluster.put(
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": "web", "namespace": "flux-system"},
                "spec": {
                    "interval": "1m",
                    "targetNamespace": "shop",
                    "chart": {
                        "spec": {
                            "chart": "web",
                            "version": "1.0.0",
                            "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                        }
                    },
                    "values": {"greeting": greeting, "fail": "true" if fail else "false"},
                    **spec,
                },
            }
        )


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    cluster, clock = Cluster(), Clock()
    options = ControllerOptions(replica="r1", shards=1, concurrent=1, resync_s=3600)
    keeper = ShardKeeper(cluster, options, clock)  # type: ignore[arg-type]
    keeper.step()
    clock.now += timedelta(seconds=1)
    keeper.step()
    clock.now = T0
    chart = write_chart(
        tmp_path / "src",
        "web",
        "1.0.0",
        templates={"configmap.yaml": CONFIGMAP, "check.yaml": HOOK},
        values="greeting: hello\nfail: 'false'\n",
    )
    (tmp_path / "state").mkdir()
    with (
        serve_chart_repo(tmp_path / "charts") as charts,
        SandboxProvider(tmp_path / "sandbox", rollout_seconds=0) as sandbox,
    ):
        charts.publish(chart)
        cluster.helm_sources = [
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "HelmRepository",
                "metadata": {"name": "charts", "namespace": "flux-system"},
                "spec": {"interval": "10m", "url": charts.url},
            }
        ]
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
        sandbox.apply(Resource(ResourceKey("", "Namespace", "", "shop"), "v1", namespace))
        store = Store(tmp_path / "state" / "gitwave.db")
        made = Env(cluster, clock, keeper, sandbox, store, options, charts)
        made.start()
        try:
            yield made
        finally:
            store.close()


def installed(env: Env, **spec: Any) -> None:
    env.release(greeting="one", fail=False, **spec)
    assert env.at(0) == [RELEASE]
    assert env.syncs() == ["Succeeded"]
    assert env.greeting() == "one"
    ready = env.condition("Ready")
    assert ready is not None and ready["reason"] == "InstallSucceeded"


def test_a_failing_upgrade_with_two_retries_is_tried_three_times_rolled_back_then_stalled(
    env: Env,
) -> None:
    installed(env)
    env.release(greeting="two", fail=True, upgrade={"remediation": {"retries": 2}})
    assert env.at(10) == [RELEASE]
    assert env.syncs()[-1] == "Failed"
    # Rolled back: the ConfigMap the failed upgrade changed is the first release's again.
    assert env.greeting() == "one"
    assert env.status()["upgradeFailures"] == 1
    remediated = env.condition("Remediated")
    assert remediated is not None and remediated["reason"] == "RollbackSucceeded"
    ready = env.condition("Ready")
    assert ready is not None and ready["status"] == "False" and ready["reason"] == "UpgradeFailed"
    assert ready["message"].endswith("; next try in 1m0s at 2026-12-04T17:01:10Z")
    assert env.condition("Stalled") is None

    assert env.at(69) == []
    assert env.at(70) == [RELEASE]  # retry 1 of 2
    assert env.status()["upgradeFailures"] == 2
    assert env.at(130) == [RELEASE]  # retry 2 of 2
    assert env.syncs()[1:] == ["Failed", "Failed", "Failed"]
    assert env.status()["upgradeFailures"] == 3
    stalled = env.condition("Stalled")
    assert stalled is not None and stalled["status"] == "True"
    assert stalled["reason"] == "RetriesExceeded"
    assert stalled["message"] == "Failed to upgrade after 3 attempt(s)"
    ready = env.condition("Ready")
    assert ready is not None and ready["reason"] == "RetriesExceeded"
    assert "next try" not in ready["message"]
    # remediateLastFailure defaults to true with retries > 0: the last one rolled back too.
    assert env.greeting() == "one"

    for second in (190, 250, 4000):
        assert env.at(second) == []
    assert len(env.syncs()) == 4


def test_stalled_and_the_counters_are_read_back_from_status_after_a_restart(env: Env) -> None:
    installed(env)
    env.release(greeting="two", fail=True, upgrade={"remediation": {"retries": 1}})
    assert env.at(10) == [RELEASE]
    assert env.status()["upgradeFailures"] == 1

    env.start()  # a new process: no back-off, no counter in memory
    assert env.at(11) == [RELEASE]  # not known to be waiting: tried at once
    assert env.status()["upgradeFailures"] == 2  # counted on from the status
    assert env.condition("Stalled") is not None

    env.start()
    for second in (12, 100, 4000):
        assert env.at(second) == []  # Stalled, read from the status
    assert env.syncs() == ["Succeeded", "Failed", "Failed"]


def annotate(env: Env, **annotations: str) -> None:
    env.cluster.get(RELEASE)["metadata"]["annotations"] = {
        f"reconcile.fluxcd.io/{k}": v for k, v in annotations.items()
    }


def test_a_reconcile_request_is_answered_but_only_a_reset_tries_a_stalled_release_again(
    env: Env,
) -> None:
    installed(env)
    env.release(greeting="two", fail=True)
    assert env.at(10) == [RELEASE]
    assert env.condition("Stalled") is not None
    # flux reconcile hr web: answered, nothing run.
    annotate(env, requestedAt="2026-12-04T17:00:20Z")
    assert env.at(20) == [RELEASE]
    assert env.status()["lastHandledReconcileAt"] == "2026-12-04T17:00:20Z"
    assert env.at(21) == []
    assert env.syncs() == ["Succeeded", "Failed"]
    # flux reconcile hr web --reset: the counters start again.
    annotate(env, requestedAt="2026-12-04T17:00:30Z", resetAt="2026-12-04T17:00:30Z")
    assert env.at(30) == [RELEASE]
    assert env.syncs() == ["Succeeded", "Failed", "Failed"]
    status = env.status()
    assert status["upgradeFailures"] == 1
    assert status["lastHandledResetAt"] == "2026-12-04T17:00:30Z"
    assert env.condition("Stalled") is not None  # retries 0: stalled again
    assert env.at(31) == []


def test_a_spec_change_resets_the_counters(env: Env) -> None:
    installed(env)
    env.release(greeting="two", fail=True)  # retries 0 (the default): stalled at once
    assert env.at(10) == [RELEASE]
    assert env.status()["upgradeFailures"] == 1
    assert env.condition("Stalled") is not None
    # Without retries there is no remediation (Flux's default): the upgrade's ConfigMap stays.
    assert env.greeting() == "two"
    assert env.condition("Remediated") is None
    assert env.at(100) == []

    env.release(greeting="three", fail=False)  # a new generation
    assert env.at(101) == [RELEASE]
    assert env.syncs()[-1] == "Succeeded"
    assert env.greeting() == "three"
    status = env.status()
    assert "upgradeFailures" not in status and "failures" not in status
    assert env.condition("Stalled") is None
    ready = env.condition("Ready")
    assert ready is not None and ready["reason"] == "UpgradeSucceeded"


def test_strategy_uninstall_removes_the_release_and_the_next_attempt_installs(env: Env) -> None:
    installed(env)
    env.release(
        greeting="two",
        fail=True,
        upgrade={"remediation": {"retries": -1, "strategy": "uninstall"}},
    )
    assert env.at(10) == [RELEASE]
    assert env.greeting() is None  # uninstalled
    remediated = env.condition("Remediated")
    assert remediated is not None and remediated["reason"] == "UninstallSucceeded"
    assert env.status()["history"][0]["status"] == "uninstalled"
    assert env.condition("Stalled") is None  # retries for ever (-1)
    # The next attempt is an install: counted, and remediated, as spec.install says
    # (no retries there, so it stalls, as helm-controller's would).
    assert env.at(70) == [RELEASE]
    assert env.status()["lastAttemptedReleaseAction"] == "install"
    assert env.status()["installFailures"] == 1
    stalled = env.condition("Stalled")
    assert stalled is not None and stalled["message"] == "Failed to install after 1 attempt(s)"

    env.release(greeting="three", fail=False, upgrade={"remediation": {"retries": -1}})
    assert env.at(200) == [RELEASE]
    assert env.greeting() == "three"
    ready = env.condition("Ready")
    assert ready is not None and ready["reason"] == "InstallSucceeded"
    history = env.status()["history"]
    # Each attempt a revision, as helm's: the failed upgrade (2, then uninstalled
    # with the release), the failed install (3), the install that worked (4).
    assert [(h["version"], h["status"]) for h in history] == [
        (4, "deployed"),
        (3, "failed"),
        (2, "uninstalled"),
        (1, "superseded"),
    ]
    assert "installFailures" not in env.status()


def test_a_failed_install_is_uninstalled_before_its_retry(env: Env) -> None:
    env.release(greeting="one", fail=True, install={"remediation": {"retries": 1}})
    assert env.at(0) == [RELEASE]
    assert env.greeting() is None
    assert env.status()["installFailures"] == 1
    remediated = env.condition("Remediated")
    assert remediated is not None and remediated["reason"] == "UninstallSucceeded"
    assert env.at(60) == [RELEASE]
    assert env.condition("Stalled") is not None
    assert env.at(120) == []


def test_retry_on_failure_retries_at_its_interval_for_ever_without_remediation(env: Env) -> None:
    installed(env)
    env.release(
        greeting="two",
        fail=True,
        upgrade={"strategy": {"name": "RetryOnFailure", "retryInterval": "15s"}},
    )
    for second in (10, 25, 40, 55):
        assert env.at(second) == [RELEASE]
        assert env.at(second + 14) == []
    assert env.greeting() == "two"
    assert env.condition("Remediated") is None
    assert env.condition("Stalled") is None
    assert env.status()["upgradeFailures"] == 4


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"upgrade": {"remediation": {"retries": "three"}}},
            "spec.upgrade.remediation.retries must be a whole number, not 'three'",
        ),
        (
            {"upgrade": {"remediation": {"strategy": "rollforward"}}},
            "spec.upgrade.remediation.strategy: 'rollforward' is not one of rollback, uninstall",
        ),
        (
            {"install": {"remediation": {"strategy": "rollback"}}},
            "spec.install.remediation.strategy: not a field; a failed install is uninstalled",
        ),
        (
            {"upgrade": {"remediation": {"ignoreTestFailures": True}}},
            "spec.upgrade.remediation.ignoreTestFailures: not supported; gitwave runs the "
            "chart's tests as post-sync hooks, whose failure fails the release (remove "
            "spec.test to release without them)",
        ),
        (
            {"upgrade": {"strategy": {"retryInterval": "1m"}}},
            "spec.upgrade.strategy.retryInterval: only with strategy.name RetryOnFailure",
        ),
    ],
)
def test_a_malformed_remediation_is_refused_naming_the_release_and_field(
    env: Env, spec: dict[str, Any], message: str
) -> None:
    env.release(greeting="one", fail=False, **spec)
    assert env.at(0) == [RELEASE]
    assert env.syncs() == []  # nothing applied
    ready = env.condition("Ready")
    assert ready is not None and ready["status"] == "False"
    assert ready["message"] == f"{RELEASE}: {message}"
