"""``gitwave controller --concurrent``: several apps of one replica at once, dependsOn kept.

One replica on the real local control plane reconciles Flux Kustomizations.
Four of them wait, in their health checks, for a ``gate`` Kustomization the
test holds not Ready (suspended, so no controller touches it); while they
wait, the replica's audit lines show all four syncs started and none
finished, so they ran at the same time: no clock is compared. A fifth app
``dependsOn`` one of the four and must not start before it is Ready, and a
sixth, independent one waits only for a free worker. Then the gate opens and
everything ends Ready; the audit shows no app operated twice at once, never
more than ``--concurrent`` syncs at once, and the dependent started after its
dependency finished.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    Env,
    add_app_dir,
    commit,
    crds,
    env,
    wait_for,
)

pytestmark = pytest.mark.timeout(300)

FLUX = ("kustomize.toolkit.fluxcd.io", "v1")
GATED = ["db", "cache", "queue", "search"]


@pytest.fixture(autouse=True)
def _controller_log_on_failure(env: Env) -> Iterator[None]:
    yield
    for proc in env.procs:
        print(f"--- {proc.replica} stderr ---", *proc.stderr[-60:], sep="\n")


def kustomization(env: Env, name: str, **spec: Any) -> None:
    env.kustomization(name, **{"interval": "10m", "timeout": "4m", **spec})


def ready(env: Env, name: str) -> dict[str, Any]:
    found = env.custom.get_namespaced_custom_object(*FLUX, env.app_ns, "kustomizations", name)
    conditions = (found.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), {})


def set_gate(env: Env, *, open_: bool) -> None:
    gate = env.custom.get_namespaced_custom_object(*FLUX, env.app_ns, "kustomizations", "gate")
    generation = gate["metadata"]["generation"]
    env.custom.patch_namespaced_custom_object_status(
        *FLUX,
        env.app_ns,
        "kustomizations",
        "gate",
        {
            "status": {
                "observedGeneration": generation,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if open_ else "False",
                        "reason": "Opened" if open_ else "HeldByTheTest",
                        "message": "gate",
                        "lastTransitionTime": "2026-12-04T17:00:00Z",
                    }
                ],
            }
        },
    )


def closed_gate(env: Env) -> dict[str, str]:
    """A suspended Kustomization ``gate`` held not Ready by the test (no
    controller touches it); the health check that waits for it."""
    kustomization(env, "gate", suspend=True)
    set_gate(env, open_=False)
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "name": "gate",
        "namespace": env.app_ns,
    }


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def test_one_replica_runs_apps_at_once_and_a_dependent_waits_for_its_dependency(
    env: Env,
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    for name in [*GATED, "api", "free", "gate"]:
        add_app_dir(env.repo, name, target)
    commit(env.repo, "six apps and a gate")
    env.git_repository()
    gate_check = closed_gate(env)
    for name in GATED:
        kustomization(env, name, healthChecks=[gate_check])
    kustomization(env, "api", dependsOn=[{"name": "db"}])
    kustomization(env, "free")
    replica = env.start("r1", extra=("--concurrent=4",))

    def app(record: dict[str, Any]) -> str:
        return str(record["app_id"]).rpartition("/")[2]

    def all_gated_running() -> bool:
        started = {app(r) for r in replica.starts}
        finished = {app(r) for r in replica.audit}
        return set(GATED) <= started and not set(GATED) & finished

    # Four syncs started, none of them can end before the gate opens: they
    # are running at the same time in one replica.
    wait_for("the four gated apps running at once", all_gated_running, timeout=120)
    # The dependent is held back, saying why, and has not started.
    waiting = wait_for(
        "api DependencyNotReady",
        lambda: (c := ready(env, "api")).get("reason") == "DependencyNotReady" and c,
    )
    assert waiting["status"] == "False"
    assert f"{env.app_ns}/db" in waiting["message"]
    assert "api" not in {app(r) for r in replica.starts}

    set_gate(env, open_=True)
    for name in [*GATED, "api", "free"]:
        wait_for(f"{name} Ready", lambda n=name: ready(env, n).get("status") == "True", timeout=120)
    wait_for(
        "every sync's end in the audit",
        lambda: len(replica.audit) == len(replica.starts) == len(GATED) + 2,
    )
    ends = {app(r): r for r in replica.audit}
    assert all(r["phase"] == "Succeeded" for r in replica.audit), replica.audit
    # Each app once, and the four gated ones overlap: the last of them to
    # start did so before the first of them finished.
    assert sorted(ends) == sorted([*GATED, "api", "free"])
    assert max(at(ends[n]["started"]) for n in GATED) < min(at(ends[n]["finished"]) for n in GATED)
    # Never more than --concurrent at once.
    edges = sorted(
        [(at(r["started"]), 1) for r in replica.audit]
        + [(at(r["finished"]), -1) for r in replica.audit],
        key=lambda edge: (edge[0], edge[1]),
    )
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    assert most == 4
    # dependsOn: api started only after db had finished (and was Ready).
    assert at(ends["api"]["started"]) >= at(ends["db"]["finished"])


def test_an_application_and_a_kustomization_of_one_name_are_two_apps(env: Env) -> None:
    """Names are unique per kind and namespace only: while a Kustomization
    ``web`` is mid-sync (held by its health check), an Application ``web``
    syncs too; neither finds the other's operation lock or history."""
    target = env.target_ns  # type: ignore[attr-defined]
    for name in ("web", "web-flux", "gate"):
        add_app_dir(env.repo, name, target)
    commit(env.repo, "two apps called web and a gate")
    env.git_repository()
    gate_check = closed_gate(env)
    kustomization(env, "web", path="./web-flux", healthChecks=[gate_check])
    replica = env.start("r1", extra=("--concurrent=4",))
    flux_web = f"Kustomization/{env.app_ns}/web"
    wait_for(
        "the Kustomization web mid-sync", lambda: flux_web in {r["app_id"] for r in replica.starts}
    )

    env.application("web", automated=True, namespace=target)
    status = wait_for(
        "the Application web Synced",
        lambda: (s := env.status("web")).get("sync", {}).get("status") == "Synced" and s,
        timeout=120,
    )
    assert status["health"]["status"] == "Healthy"
    assert "busy" not in str(status)
    # The Kustomization is still held: the two ran at the same time.
    assert flux_web not in {r["app_id"] for r in replica.audit}

    set_gate(env, open_=True)
    wait_for("the Kustomization web Ready", lambda: ready(env, "web").get("status") == "True")
    phases = {r["app_id"]: r["phase"] for r in replica.audit}
    assert phases == {flux_web: "Succeeded", f"Application/{env.app_ns}/web": "Succeeded"}
