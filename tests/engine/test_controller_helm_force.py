"""``flux reconcile hr --force`` (``reconcile.fluxcd.io/forceAt``) in the controller,
as helm-controller v2: a one-off release, run even when nothing changed and
out of a Stalled state, answered in ``status.lastHandledForceAt``.

Same set-up as test_controller_helm_remediation (in-memory management
cluster, a real chart repository served on 127.0.0.1, the real ``helm``,
the sandbox target); what a user sees is the HelmRelease's status.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

from tests.engine.helm_support import helm_cli_sandbox  # noqa: F401 (autouse fixture)
from tests.engine.test_controller_helm_remediation import (  # noqa: F401 (fixture)
    Env,
    annotate,
    env,
    installed,
)


def test_a_forced_release_with_nothing_changed_is_a_new_upgrade_revision(env: Env) -> None:
    installed(env)
    assert env.at(10) == []  # nothing changed, resync 1h: nothing to do
    annotate(env, requestedAt="2026-12-04T17:00:20Z", forceAt="2026-12-04T17:00:20Z")
    assert env.at(20) == ["HelmRelease/flux-system/web"]
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
    assert env.at(10) == ["HelmRelease/flux-system/web"]
    assert env.condition("Stalled") is not None
    annotate(env, requestedAt="2026-12-04T17:00:20Z", forceAt="2026-12-04T17:00:20Z")
    assert env.at(20) == ["HelmRelease/flux-system/web"]
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
    assert env.at(10) == ["HelmRelease/flux-system/web"]
    # forceAt left from an earlier request, requestedAt a new one: a plain request.
    annotate(env, requestedAt="2026-12-04T17:00:30Z", forceAt="2026-12-04T17:00:20Z")
    assert env.at(30) == ["HelmRelease/flux-system/web"]
    assert env.syncs() == ["Succeeded", "Failed"]  # answered, nothing run
    status = env.status()
    assert status["lastHandledReconcileAt"] == "2026-12-04T17:00:30Z"
    assert "lastHandledForceAt" not in status
