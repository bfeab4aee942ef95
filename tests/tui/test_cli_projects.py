"""Argo CD AppProjects, read as-is, refuse a sync before anything is applied
(issue 11 item 2): the real CLI on the sandbox, a Git repository holding the
AppProject beside its Applications.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tui.cli_support import git_repo, run, sandbox_state

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
ORIGIN = "https://github.com/acme/shop.git"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def live_objects(capsys: pytest.CaptureFixture[str]) -> set[str]:
    """Every live object in the sandbox as ``Kind/namespace/name``, less the
    namespaces a fresh sandbox has."""
    code, out, err = run(capsys, "sandbox", "get", "-A", "-o", "json")
    assert code == 0, err
    found = {
        f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}"
        for i in json.loads(out)["items"]
    }
    return {f for f in found if not f.startswith(("Namespace//default", "Namespace//kube-"))}


def origin_repo(root: Path, files: dict[str, str]) -> Path:
    """git_repo with the remote origin at ORIGIN, so repoURL: ORIGIN is this repository."""
    return git_repo(root, files, origin=ORIGIN)


def documents(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def project(name: str = "team-a", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sourceRepos": ["https://github.com/acme/*"],
        "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-a"}],
    }
    body.update(spec)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": body,
    }


def application(
    name: str = "web",
    *,
    path: str = "manifests",
    project_name: str | None = "team-a",
    namespace: str = "team-a",
    repo_url: str = ORIGIN,
    app_namespace: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if app_namespace is not None:
        meta["namespace"] = app_namespace
    spec: dict[str, Any] = {
        "source": {"repoURL": repo_url, "path": path},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
    }
    if project_name is not None:
        spec["project"] = project_name
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": meta,
        "spec": spec,
    }


def obj(
    kind: str, name: str, namespace: str = "team-a", api_version: str = "v1", **extra: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


CONFIG = obj("ConfigMap", "settings", data={"mode": "fast"})
SECRET = obj("Secret", "token", stringData={"token": "hunter2"})
CLUSTER_ROLE = obj("ClusterRole", "admin-x", "", "rbac.authorization.k8s.io/v1", rules=[])
HOOK = obj(
    "Job",
    "migrate",
    api_version="batch/v1",
    spec={
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "m", "image": "busybox:1.36", "command": ["true"]}],
            }
        }
    },
)
HOOK["metadata"]["annotations"] = {"argocd.argoproj.io/hook": "PreSync"}


@dataclass(frozen=True)
class Case:
    reason: str
    project: dict[str, Any]
    manifests: tuple[dict[str, Any], ...]
    want: tuple[str, ...]  # every one of these in stderr
    app: dict[str, Any] = field(default_factory=application)


CASES = [
    Case(
        "a cluster-scoped kind with no clusterResourceWhitelist",
        project(),
        (CONFIG, CLUSTER_ROLE),
        (
            "AppProject/team-a: clusterResourceWhitelist does not allow "
            "rbac.authorization.k8s.io/ClusterRole (ClusterRole/admin-x)",
            "manifests/all.yaml:",
        ),
    ),
    Case(
        "clusterResourceBlacklist wins over a whitelist of everything",
        project(
            clusterResourceWhitelist=[{"group": "*", "kind": "*"}],
            clusterResourceBlacklist=[{"group": "rbac.*", "kind": "Cluster*", "name": "admin-*"}],
        ),
        (CONFIG, CLUSTER_ROLE),
        (
            "clusterResourceBlacklist denies rbac.authorization.k8s.io/ClusterRole "
            "(ClusterRole/admin-x)",
        ),
    ),
    Case(
        "namespaceResourceWhitelist without the kind",
        project(namespaceResourceWhitelist=[{"group": "", "kind": "ConfigMap"}]),
        (CONFIG, SECRET),
        ('namespaceResourceWhitelist does not allow Secret (group "") (Secret/team-a/token)',),
    ),
    Case(
        "namespaceResourceBlacklist",
        project(namespaceResourceBlacklist=[{"group": "", "kind": "Secret"}]),
        (CONFIG, SECRET),
        ('namespaceResourceBlacklist denies Secret (group "") (Secret/team-a/token)',),
    ),
    Case(
        "an object in a namespace the destinations do not allow",
        project(),
        (CONFIG, obj("ConfigMap", "elsewhere", "team-b", data={"k": "v"})),
        (
            "destinations do not allow namespace 'team-b' on server "
            "'https://kubernetes.default.svc' (ConfigMap/team-b/elsewhere)",
        ),
    ),
    Case(
        "a PreSync hook of a blacklisted kind: no hook runs either",
        project(namespaceResourceBlacklist=[{"group": "batch", "kind": "Job"}]),
        (CONFIG, HOOK),
        ("namespaceResourceBlacklist denies batch/Job (Job/team-a/migrate)",),
    ),
    Case(
        "the app's repoURL outside sourceRepos (a negation)",
        project(sourceRepos=["https://github.com/acme/*", "!https://github.com/acme/shop"]),
        (CONFIG,),
        ("Application/web", "apps.yaml:", "AppProject/team-a: sourceRepos does not allow"),
    ),
    Case(
        "the app's destination namespace outside destinations",
        project(),
        (CONFIG,),
        (
            "Application/web",
            "destinations do not allow namespace 'kube-system'",
        ),
        app=application(namespace="kube-system"),
    ),
    Case(
        "an Application outside the control namespace without sourceNamespaces",
        project(),
        (CONFIG,),
        ("sourceNamespaces does not allow Applications in namespace 'team-apps'",),
        app=application(app_namespace="team-apps"),
    ),
    Case(
        "an AppProject named default restricts the apps naming no project",
        project("default"),
        (CONFIG, CLUSTER_ROLE),
        ("AppProject/default: clusterResourceWhitelist does not allow",),
        app=application(project_name=None),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
@pytest.mark.parametrize("verb", ["sync", "plan"])
def test_a_project_violation_refuses_the_whole_sync_naming_the_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: Case, verb: str
) -> None:
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(case.project, case.app),
            "manifests/all.yaml": documents(*case.manifests),
        },
    )
    code, out, err = run(capsys, verb, str(repo))
    assert code == 2, out + err
    assert "Traceback" not in out + err
    for text in case.want:
        assert text in err, err
    assert "hunter2" not in out + err
    assert live_objects(capsys) == set()


def test_objects_a_composition_composes_are_checked_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLES / "production-database", repo / "db")
    spec = {
        "destinations": [{"server": "*", "namespace": "*"}],
        "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
        "clusterResourceBlacklist": [{"group": "rds.aws.crossplane.io", "kind": "DBInstance"}],
        "namespaceResourceBlacklist": [{"group": "", "kind": "ConfigMap"}],
    }
    origin_repo(repo, {"apps.yaml": documents(project(**spec), application("db", path="db"))})

    code, out, err = run(capsys, "sync", str(repo))

    assert code == 2, out + err
    assert "AppProject/team-a refuses 2 objects; nothing was applied" in err
    assert (
        "clusterResourceBlacklist denies rds.aws.crossplane.io/DBInstance (DBInstance/shop-db)"
        in err
    )
    assert (
        'namespaceResourceBlacklist denies ConfigMap (group "") (ConfigMap/store/shop-db-endpoint)'
        in err
    )
    assert live_objects(capsys) == set()


def test_an_app_naming_a_missing_project_is_refused_and_others_sync(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(
                project(clusterResourceWhitelist=[{"group": "", "kind": "Namespace"}]),
                application("lost", project_name="team-z", path="lost"),
                application("web"),
            ),
            "lost/cm.yaml": documents(obj("ConfigMap", "lost")),
            "manifests/all.yaml": documents(CONFIG),
        },
    )

    code, out, err = run(capsys, "sync", str(repo))

    assert code != 0
    assert "Traceback" not in out + err
    assert "apps.yaml:" in err and "Application/lost" in err
    assert "spec.project: AppProject 'team-z' is not defined (AppProjects found: team-a)" in err
    assert "add an AppProject named 'team-z'" in err
    assert live_objects(capsys) == {"ConfigMap/team-a/settings", "Namespace//team-a"}


def test_the_default_project_allows_everything_unless_defined(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(application(project_name=None, repo_url=".")),
            "manifests/all.yaml": documents(CONFIG, CLUSTER_ROLE),
        },
    )

    code, out, err = run(capsys, "sync", str(repo))

    assert code == 0, out + err
    assert live_objects(capsys) == {
        "ClusterRole//admin-x",
        "ConfigMap/team-a/settings",
        "Namespace//team-a",
    }


def test_an_allowed_app_syncs_and_the_project_is_not_applied(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    allowed = project(
        sourceRepos=["!https://github.com/evil/*", "https://github.com/acme/**"],
        destinations=[{"name": "in-cluster", "namespace": "team-*"}],
        clusterResourceWhitelist=[
            {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"},
            {"group": "", "kind": "Namespace", "name": "team-*"},  # CreateNamespace=true
        ],
        sourceNamespaces=["team-*"],
    )
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(allowed, application(app_namespace="team-apps")),
            "manifests/all.yaml": documents(CONFIG, CLUSTER_ROLE, HOOK),
        },
    )

    code, out, err = run(capsys, "sync", str(repo))

    assert code == 0, out + err
    assert {"ClusterRole//admin-x", "ConfigMap/team-a/settings"} <= live_objects(capsys)
    assert not any(name.startswith("AppProject/") for name in live_objects(capsys))


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        pytest.param(
            {},
            'clusterResourceWhitelist does not allow Namespace (group "") (Namespace/team-a, '
            "which it would create)",
            id="no cluster resources",
        ),
        pytest.param(
            {"clusterResourceWhitelist": [{"group": "", "kind": "Namespace", "name": "other-*"}]},
            'clusterResourceWhitelist does not allow Namespace (group "") (Namespace/team-a, '
            "which it would create)",
            id="another namespace name",
        ),
        pytest.param(
            {
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                "clusterResourceBlacklist": [{"group": "", "kind": "Namespace"}],
            },
            'clusterResourceBlacklist denies Namespace (group "") (Namespace/team-a, which it '
            "would create)",
            id="blacklisted",
        ),
    ],
)
def test_create_namespace_is_refused_when_the_project_does_not_allow_that_namespace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: dict[str, Any], want: str
) -> None:
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(project(**spec), application()),
            "manifests/all.yaml": documents(CONFIG),
        },
    )

    code, out, err = run(capsys, "sync", str(repo))

    assert code == 2, out + err
    assert "Application/web (apps.yaml:" in err
    assert "syncOptions CreateNamespace=true: AppProject/team-a: " + want in err
    assert live_objects(capsys) == set()


def test_create_namespace_into_a_namespace_the_destinations_refuse_names_the_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The namespace comes from the render (an object in ``other``), not the
    destination: the object and the Namespace it would need are both named."""
    other = obj("ConfigMap", "stray")
    other["metadata"]["namespace"] = "other"
    allowed = project(clusterResourceWhitelist=[{"group": "", "kind": "Namespace"}])
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(allowed, application()),
            "manifests/all.yaml": documents(CONFIG, other),
        },
    )

    code, out, err = run(capsys, "sync", str(repo))

    assert code == 2, out + err
    assert (
        "syncOptions CreateNamespace=true: AppProject/team-a: destinations do not allow "
        "namespace 'other' on server 'https://kubernetes.default.svc' (Namespace/other, which "
        "it would create)"
    ) in err
    assert live_objects(capsys) == set()


def test_a_project_defined_in_an_app_of_apps_render_governs_its_children(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    child = application("child", path="manifests")
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(
                application("parent", path="children", project_name=None, namespace="argocd")
            ),
            "children/child.yaml": documents(project(), child),
            "manifests/all.yaml": documents(CONFIG, CLUSTER_ROLE),
        },
    )

    code, _out, err = run(capsys, "sync", str(repo))

    assert code != 0
    assert "clusterResourceWhitelist does not allow rbac.authorization.k8s.io/ClusterRole" in err
    assert "ClusterRole//admin-x" not in live_objects(capsys)
    assert not any(name.startswith("AppProject/") for name in live_objects(capsys))


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("signatureKeys", [{"keyID": "4AEE18F83AFDEB23"}]),
        ("permitOnlyProjectScopedClusters", True),
    ],
)
def test_a_restricting_field_gitwave_does_not_enforce_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, field_name: str, value: Any
) -> None:
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(project(**{field_name: value}), application()),
            "manifests/all.yaml": documents(CONFIG),
        },
    )

    code, _out, err = run(capsys, "plan", str(repo))

    assert code != 0
    assert f"AppProject/team-a): spec.{field_name}:" in err
    assert live_objects(capsys) == set()
