"""A HelmRelease's ``status.history`` counts revisions as Helm does: a failed
install or upgrade is a revision (``failed``), a rollback is a new one
(``deployed``, of the release rolled back to), and failures in a row never
push the release that worked out of the kept history.

Same set-up as test_controller_helm_remediation (in-memory management
cluster, a real chart repository on 127.0.0.1, the real ``helm``, the
sandbox target). Helm's storage Secrets: tests/e2e/test_kube_controller_helm_revisions.py.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

from tests.engine.helm_support import helm_cli_sandbox  # noqa: F401 (autouse fixture)
from tests.engine.test_controller_helm_remediation import (  # noqa: F401 (fixture)
    RELEASE,
    Env,
    env,
    installed,
)


def revisions(env: Env) -> list[tuple[int, str, str]]:
    return [(h["version"], h["status"], h["chartVersion"]) for h in env.status()["history"]]


def test_a_failed_upgrade_is_a_revision_and_its_rollback_another(env: Env) -> None:
    installed(env)
    env.release(greeting="two", fail=True, upgrade={"remediation": {"retries": 1}})
    assert env.at(10) == [RELEASE]
    assert env.greeting() == "one"  # rolled back
    assert revisions(env) == [
        (3, "deployed", "1.0.0"),  # the rollback: revision 1's release again
        (2, "failed", "1.0.0"),
        (1, "superseded", "1.0.0"),
    ]
    first, rollback = env.status()["history"][2], env.status()["history"][0]
    assert rollback["configDigest"] == first["configDigest"]  # revision 1's values
    assert env.at(70) == [RELEASE]  # the retry fails and is rolled back too
    assert [(v, s) for v, s, _ in revisions(env)] == [
        (5, "deployed"),
        (4, "failed"),
        (3, "superseded"),
        (2, "failed"),
        (1, "superseded"),
    ]
    assert env.condition("Stalled") is not None


def test_a_failed_install_is_a_failed_revision_and_the_next_action_is_an_install(
    env: Env,
) -> None:
    env.release(greeting="one", fail=True)  # retries 0: stalled, not remediated
    assert env.at(0) == [RELEASE]
    assert [(v, s) for v, s, _ in revisions(env)] == [(1, "failed")]
    assert env.status()["lastAttemptedReleaseAction"] == "install"
    env.release(greeting="two", fail=False)
    assert env.at(10) == [RELEASE]
    assert env.status()["lastAttemptedReleaseAction"] == "install"
    ready = env.condition("Ready")
    assert ready is not None and ready["reason"] == "InstallSucceeded"
    assert [(v, s) for v, s, _ in revisions(env)] == [(2, "deployed"), (1, "failed")]


def test_failures_in_a_row_keep_the_release_that_worked_in_the_history(env: Env) -> None:
    installed(env, maxHistory=3)
    env.release(
        greeting="two",
        fail=True,
        maxHistory=3,
        upgrade={"strategy": {"name": "RetryOnFailure", "retryInterval": "10s"}},
    )
    for second in (10, 20, 30, 40):
        assert env.at(second) == [RELEASE]
    # Three kept (maxHistory), the deployed one among them: still an upgrade next.
    assert [(v, s) for v, s, _ in revisions(env)] == [(5, "failed"), (4, "failed"), (1, "deployed")]
    assert env.status()["lastAttemptedReleaseAction"] == "upgrade"
