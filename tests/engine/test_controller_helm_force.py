"""``flux reconcile hr --force`` (``reconcile.fluxcd.io/forceAt``) in the controller,
as helm-controller v2: a one-off release, run even when nothing changed and
out of a Stalled state, answered in ``status.lastHandledForceAt``; and a new
chart version the release's range picks, which tries a Stalled release again
with a failure count of its own.

Same set-up as test_controller_helm_remediation (in-memory management
cluster, a real chart repository served on 127.0.0.1, the real ``helm``,
the sandbox target); what a user sees is the HelmRelease's status.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

from pathlib import Path

from gitwave.engine.render.charts import forget_indexes
from tests.engine.helm_support import (  # noqa: F401 (helm_cli_sandbox: an autouse fixture)
    CONFIGMAP,
    helm_cli_sandbox,
    write_chart,
)
from tests.engine.test_controller_helm_remediation import (  # noqa: F401 (fixture)
    HOOK,
    RELEASE,
    Env,
    annotate,
    env,
    installed,
)


def test_a_forced_release_with_nothing_changed_is_a_new_upgrade_revision(env: Env) -> None:
    installed(env)
    assert env.at(10) == []  # nothing changed, resync 1h: nothing to do
    annotate(env, requestedAt="2026-12-04T17:00:20Z", forceAt="2026-12-04T17:00:20Z")
    assert env.at(20) == [RELEASE]
    assert env.syncs() == ["Succeeded", "Succeeded"]
    status = env.status()
    assert status["lastHandledForceAt"] == "2026-12-04T17:00:20Z"
    assert status["lastHandledReconcileAt"] == "2026-12-04T17:00:20Z"
    assert status["lastAttemptedReleaseAction"] == "upgrade"
    # As helm upgrade with nothing changed: a new revision, the last one superseded.
    assert [(h["version"], h["status"]) for h in status["history"]] == [
        (2, "deployed"),
        (1, "superseded"),
    ]
    ready = env.condition("Ready")
    assert ready is not None and ready["reason"] == "UpgradeSucceeded"
    assert ".v2 with chart web@1.0.0" in ready["message"]
    # One-off: answered, so the same annotations do not force again.
    assert env.at(30) == []


def test_a_force_tries_a_stalled_release_once_then_it_stalls_again(env: Env) -> None:
    installed(env)
    env.release(greeting="two", fail=True)  # retries 0: stalled at the first failure
    assert env.at(10) == [RELEASE]
    assert env.condition("Stalled") is not None
    annotate(env, requestedAt="2026-12-04T17:00:20Z", forceAt="2026-12-04T17:00:20Z")
    assert env.at(20) == [RELEASE]
    assert env.syncs() == ["Succeeded", "Failed", "Failed"]  # tried, not only answered
    status = env.status()
    assert status["lastHandledForceAt"] == "2026-12-04T17:00:20Z"
    assert status["upgradeFailures"] == 2
    assert env.condition("Stalled") is not None
    assert env.at(21) == []
    assert env.at(4000) == []
    assert len(env.syncs()) == 3


def test_a_force_without_the_matching_request_is_not_a_force(env: Env) -> None:
    installed(env)
    env.release(greeting="two", fail=True)
    assert env.at(10) == [RELEASE]
    # forceAt left from an earlier request, requestedAt a new one: a plain request.
    annotate(env, requestedAt="2026-12-04T17:00:30Z", forceAt="2026-12-04T17:00:20Z")
    assert env.at(30) == [RELEASE]
    assert env.syncs() == ["Succeeded", "Failed"]  # answered, nothing run
    status = env.status()
    assert status["lastHandledReconcileAt"] == "2026-12-04T17:00:30Z"
    assert "lastHandledForceAt" not in status


def test_a_new_chart_version_in_the_range_tries_a_stalled_release_again(
    env: Env, tmp_path: Path
) -> None:
    chart = {
        "spec": {
            "chart": "web",
            "version": "1.x",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"},
        }
    }
    env.release(greeting="one", fail=False, chart=chart)
    assert env.at(0) == [RELEASE]
    env.release(greeting="two", fail=True, chart=chart)  # retries 0: stalled at once
    assert env.at(10) == [RELEASE]
    assert env.condition("Stalled") is not None
    assert env.status()["lastAttemptedRevision"] == "1.0.0"
    assert env.at(20) == []  # the repository asked: nothing newer

    # 1.1.0 published: its check hook passes (no fail annotation read from values).
    fixed = HOOK.replace("{{ .Values.fail | quote }}", '"false"')
    env.charts.publish(
        write_chart(
            tmp_path / "src-1.1.0",
            "web",
            "1.1.0",
            templates={"configmap.yaml": CONFIGMAP, "check.yaml": fixed},
            values="greeting: hello\nfail: 'false'\n",
        )
    )
    forget_indexes()  # as once the index's 5 minutes in memory are over
    assert env.at(50) == []  # asked at 20: not again within the 1m interval
    assert env.at(80) == [RELEASE]
    assert env.syncs() == ["Succeeded", "Failed", "Succeeded"]
    status = env.status()
    assert status["lastAttemptedRevision"] == "1.1.0"
    assert "upgradeFailures" not in status
    assert env.condition("Stalled") is None
    ready = env.condition("Ready")
    assert ready is not None and ready["reason"] == "UpgradeSucceeded"
    assert "with chart web@1.1.0" in ready["message"]
    assert env.greeting() == "two"


def test_a_new_chart_version_that_fails_too_gets_its_own_retries(env: Env, tmp_path: Path) -> None:
    chart = {
        "spec": {
            "chart": "web",
            "version": ">=1.0.0",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"},
        }
    }
    env.release(greeting="one", fail=False, chart=chart)
    assert env.at(0) == [RELEASE]
    env.release(greeting="two", fail=True, chart=chart, upgrade={"remediation": {"retries": 1}})
    assert env.at(10) == [RELEASE]
    assert env.at(70) == [RELEASE]
    assert env.status()["upgradeFailures"] == 2
    assert env.condition("Stalled") is not None
    env.charts.publish(
        write_chart(
            tmp_path / "src-1.2.0",
            "web",
            "1.2.0",
            templates={"configmap.yaml": CONFIGMAP, "check.yaml": HOOK},
            values="greeting: hello\nfail: 'false'\n",
        )
    )
    forget_indexes()
    assert env.at(200) == [RELEASE]
    # Counted from 0 for 1.2.0: one failure, one retry left, not Stalled.
    status = env.status()
    assert (status["lastAttemptedRevision"], status["upgradeFailures"]) == ("1.2.0", 1)
    assert env.condition("Stalled") is None
    assert env.at(260) == [RELEASE]
    assert env.condition("Stalled") is not None
    assert env.at(4000) == []
