"""``argocd app get --refresh`` against ``gitwave controller`` on the real local control plane.

An automated Application synced at commit A; commit B is pushed. The replica
runs with ``--resync=1h``, so without a request nothing would look at the app
again for an hour. The ``argocd.argoproj.io/refresh: normal`` annotation (a
merge patch, as the argocd client sends it) makes the replica compare the app
with the newest commit at once: its status says revision B, B's objects are
applied (the app is automated), and the annotation is removed, the other
annotations left as they are.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    ARGO,
    Env,
    add_app_dir,
    commit,
    crds,
    env,
    wait_for,
)

REFRESH = "argocd.argoproj.io/refresh"


@pytest.fixture(autouse=True)
def _controller_log_on_failure(env: Env) -> Iterator[None]:
    yield
    for proc in env.procs:
        print(f"--- {proc.replica} stderr ---", *proc.stderr[-60:], sep="\n")


def test_a_refresh_annotation_compares_with_the_new_commit_at_once_and_is_removed(
    env: Env,
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    add_app_dir(env.repo, "web", target)
    first = commit(env.repo, "web")
    env.application("web", automated=True, namespace=target)
    replica = env.start("r1")
    wait_for(
        "web Synced at the first commit",
        lambda: env.status("web").get("sync", {}) == {"status": "Synced", "revision": first},
    )
    (env.repo / "web" / "config.yaml").write_text(
        (env.repo / "web" / "config.yaml").read_text().replace("hello", "hi")
    )
    second = commit(env.repo, "web says hi")
    env.custom.patch_namespaced_custom_object(
        *ARGO,
        env.app_ns,
        "applications",
        "web",
        {"metadata": {"annotations": {REFRESH: "normal", "team": "web"}}},
    )
    status = wait_for(
        "web compared with the second commit",
        lambda: (s := env.status("web")).get("sync", {}).get("revision") == second and s,
    )
    assert status["sync"]["status"] == "Synced"
    assert status["reconciledAt"]
    live = env.core.read_namespaced_config_map("web-config", target)
    assert live.data == {"greeting": "hi from web"}
    annotations = wait_for(
        "the refresh annotation removed",
        lambda: (
            (a := env.app("web")["metadata"].get("annotations") or {}).get(REFRESH) is None and a
        ),
    )
    assert annotations == {"team": "web"}
    web = [a for a in replica.audit if a["app_id"] == f"Application/{env.app_ns}/web"]
    assert [a["phase"] for a in web] == ["Succeeded", "Succeeded"]
