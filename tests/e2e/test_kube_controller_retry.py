"""``gitwave controller`` on the real local control plane: a failing Kustomization backs off.

A Kustomization whose path does not exist fails; Flux retries it every
``retryInterval``, and so does the replica: its audit lines (one per finished
sync, with the replica's own start times) are at least the retry interval
apart, where before the failure's own status write woke the
next pass and the app was synced again at once, over and over. The Ready
condition says why and when the next try is. Once a commit adds the path the
next attempt applies it and the Kustomization is Ready.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise

import pytest

from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    Env,
    add_app_dir,
    commit,
    crds,
    env,
    wait_for,
)
from tests.e2e.test_kube_controller_concurrent import kustomization, ready

pytestmark = pytest.mark.timeout(300)

RETRY_S = 3.0


@pytest.fixture(autouse=True)
def _controller_log_on_failure(env: Env) -> Iterator[None]:
    yield
    for proc in env.procs:
        print(f"--- {proc.replica} stderr ---", *proc.stderr[-60:], sep="\n")


def test_a_kustomization_with_a_missing_path_is_retried_at_retry_interval_then_ready(
    env: Env,
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    add_app_dir(env.repo, "other", target)
    commit(env.repo, "an app, not the one the Kustomization names")
    env.git_repository()
    kustomization(env, "web", retryInterval=f"{RETRY_S:.0f}s")
    replica = env.start("r1", extra=("--concurrent=2",))

    def failures() -> list[dict[str, object]]:
        # This test's app only: a replica sees other tests' apps whose
        # namespaces are still being deleted (another ``web`` among them).
        return [a for a in replica.audit if a["app_id"] == f"Kustomization/{env.app_ns}/web"]

    wait_for("three failed attempts", lambda: len(failures()) >= 3)
    # The retry is written right after the failure (a second status patch).
    condition = wait_for(
        "the next try in Ready",
        lambda: (found := ready(env, "web")) and "next try in" in found["message"] and found,
    )
    assert condition["status"] == "False"
    assert condition["reason"] == "ReconciliationFailed"
    assert "web" in condition["message"] and "next try in 3s at " in condition["message"]
    starts = [datetime.fromisoformat(str(a["started"])) for a in failures()]
    gaps = [(b - a).total_seconds() for a, b in pairwise(starts)]
    assert all(gap >= RETRY_S for gap in gaps), gaps
    assert {a["phase"] for a in failures()} == {"Error"}

    add_app_dir(env.repo, "web", target)
    commit(env.repo, "the path the Kustomization names")
    wait_for("web Ready", lambda: ready(env, "web").get("status") == "True", timeout=60)
    assert env.core.read_namespaced_config_map("web-config", target).data
    assert failures()[-1]["phase"] == "Succeeded"
