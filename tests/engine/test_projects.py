"""AppProject rules as Argo CD decides them (issue 11 item 2): the glob
dialects, ``!`` negations, white- and blacklists, and the parse of the
fields gitwave does not enforce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitwave.engine.apps.projects import (
    AppProject,
    GroupKindRule,
    ProjectDestination,
    app_namespace_permitted,
    destination_permitted,
    kind_refusal,
    parse_app_project,
    source_permitted,
)
from gitwave.engine.errors import ValidationError
from gitwave.engine.globs import argo_glob, kind_glob, regexp_or_glob
from gitwave.engine.model import SourceRef


@dataclass(frozen=True)
class Glob:
    pattern: str
    text: str
    want: bool
    separators: str = ""


GLOBS = [
    Glob("*", "anything/at/all", True, "/"),
    Glob("https://github.com/acme/*", "https://github.com/acme/shop", True, "/"),
    Glob("https://github.com/acme/*", "https://github.com/acme/shop/sub", False, "/"),
    Glob("https://github.com/acme/**", "https://github.com/acme/shop/sub", True, "/"),
    Glob("team-?", "team-a", True),
    Glob("team-?", "team-ab", False),
    Glob("team-[ab]", "team-b", True),
    Glob("team-[!ab]", "team-b", False),
    Glob("team-[a-c]", "team-c", True),
    Glob("{prod,stage}-*", "stage-eu", True),
    Glob("{prod,stage}-*", "dev-eu", False),
    Glob("a\\*b", "a*b", True),
    Glob("a\\*b", "axb", False),
    Glob("", "", True),
    Glob("", "x", False),
    Glob("[unclosed", "[unclosed", False),  # malformed: matches nothing, as in Argo CD
    Glob("(.*)", "anything", False),  # never a regular expression
]


@pytest.mark.parametrize("case", GLOBS, ids=[f"{c.pattern} ~ {c.text}" for c in GLOBS])
def test_argo_globs(case: Glob) -> None:
    assert argo_glob(case.pattern, case.text, separators=case.separators) is case.want


@pytest.mark.parametrize(
    ("pattern", "text", "want"),
    [
        ("*", "ClusterRole", True),
        ("Cluster*", "ClusterRole", True),
        ("rbac.*", "rbac.authorization.k8s.io", True),
        ("*", "", True),
        ("", "", True),
        ("", "apps", False),
        ("[^C]*", "ClusterRole", False),
        ("[", "[", False),
    ],
)
def test_kind_globs_are_go_filepath_match(pattern: str, text: str, want: bool) -> None:
    assert kind_glob(pattern, text) is want


def test_source_namespaces_take_globs_and_slash_regexps() -> None:
    assert regexp_or_glob("team-*", "team-a")
    assert regexp_or_glob("/^team-[0-9]+$/", "team-42")
    assert not regexp_or_glob("/^team-[0-9]+$/", "team-x")
    assert not regexp_or_glob("/([/", "x")  # a broken regexp matches nothing


def proj(**fields: Any) -> AppProject:
    return AppProject(name="p", **fields)


@pytest.mark.parametrize(
    ("repos", "url", "want"),
    [
        (("*",), "git@github.com:acme/shop.git", True),
        (("https://github.com/acme/*",), "https://github.com/Acme/Shop.git", True),
        (("https://github.com/acme/*",), "https://github.com/evil/shop", False),
        # A lone negation allows every other repository, as in Argo CD.
        (("!https://github.com/evil/*",), "https://github.com/acme/shop", True),
        (("*", "!https://github.com/evil/*"), "https://github.com/evil/x", False),
        (("git@github.com:acme/*",), "git@github.com:acme/shop.git", True),
        ((), "https://github.com/acme/shop", False),
    ],
)
def test_source_repos(repos: tuple[str, ...], url: str, want: bool) -> None:
    assert source_permitted(proj(source_repos=repos), url) is want


IN_CLUSTER = "https://kubernetes.default.svc"


@pytest.mark.parametrize(
    ("destinations", "server", "name", "namespace", "want"),
    [
        ((ProjectDestination(server="*", namespace="*"),), IN_CLUSTER, "", "x", True),
        (
            (ProjectDestination(server=IN_CLUSTER, namespace="team-*"),),
            IN_CLUSTER,
            "",
            "team-a",
            True,
        ),
        (
            (ProjectDestination(server=IN_CLUSTER, namespace="team-*"),),
            IN_CLUSTER,
            "",
            "ops",
            False,
        ),
        ((ProjectDestination(name="in-cluster", namespace="*"),), "", "in-cluster", "x", True),
        ((ProjectDestination(name="prod-*", namespace="*"),), "", "stage-1", "x", False),
        (
            (
                ProjectDestination(server="*", namespace="*"),
                ProjectDestination(server="*", namespace="!kube-system"),
            ),
            IN_CLUSTER,
            "",
            "kube-system",
            False,
        ),
        ((ProjectDestination(server="*", namespace="!kube-*"),), IN_CLUSTER, "", "team-a", True),
        ((), IN_CLUSTER, "", "team-a", False),
    ],
)
def test_destinations(
    destinations: tuple[ProjectDestination, ...], server: str, name: str, namespace: str, want: bool
) -> None:
    project = proj(destinations=destinations)
    assert destination_permitted(project, server=server, name=name, namespace=namespace) is want


def test_source_namespaces_need_an_entry_outside_the_control_namespace() -> None:
    project = proj(source_namespaces=("team-*",))
    assert app_namespace_permitted(project, "")
    assert app_namespace_permitted(project, "argocd")
    assert app_namespace_permitted(project, "team-a")
    assert not app_namespace_permitted(project, "ops")


ANY = GroupKindRule("*", "*")


def test_resource_lists() -> None:
    nothing_cluster = proj()
    assert kind_refusal(nothing_cluster, group="", kind="Namespace", name="x", namespaced=False)
    assert (
        kind_refusal(nothing_cluster, group="", kind="ConfigMap", name="x", namespaced=True) is None
    )
    only_cm = proj(namespace_whitelist=(GroupKindRule("", "ConfigMap"),))
    assert kind_refusal(only_cm, group="", kind="ConfigMap", name="x", namespaced=True) is None
    assert kind_refusal(only_cm, group="apps", kind="Deployment", name="x", namespaced=True) == (
        "namespaceResourceWhitelist does not allow apps/Deployment"
    )
    empty_list = proj(namespace_whitelist=())
    assert kind_refusal(empty_list, group="", kind="ConfigMap", name="x", namespaced=True)
    named = proj(cluster_whitelist=(GroupKindRule("", "Namespace", "team-*"),))
    assert kind_refusal(named, group="", kind="Namespace", name="team-a", namespaced=False) is None
    assert kind_refusal(named, group="", kind="Namespace", name="kube-x", namespaced=False) == (
        'clusterResourceWhitelist does not allow Namespace (group "")'
    )


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-.", min_size=1, max_size=20)


@given(text=names)
def test_a_literal_pattern_matches_only_itself(text: str) -> None:
    assert argo_glob(text, text, separators="/")
    assert kind_glob(text, text)
    assert not argo_glob(text, text + "x", separators="/")


@given(group=names, kind=names, name=names, namespaced=st.booleans())
def test_the_blacklist_wins_over_the_whitelist(
    group: str, kind: str, name: str, namespaced: bool
) -> None:
    project = proj(
        cluster_whitelist=(ANY,),
        cluster_blacklist=(GroupKindRule(group, kind),),
        namespace_whitelist=(ANY,),
        namespace_blacklist=(GroupKindRule(group, kind),),
    )
    refused = kind_refusal(project, group=group, kind=kind, name=name, namespaced=namespaced)
    assert refused is not None and "Blacklist denies" in refused


@given(namespace=names)
def test_a_negated_destination_is_the_complement(namespace: str) -> None:
    project = proj(destinations=(ProjectDestination(server="*", namespace="!kube-*"),))
    allowed = destination_permitted(project, server=IN_CLUSTER, name="", namespace=namespace)
    assert allowed is not namespace.startswith("kube-")


def doc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "team-a"},
        "spec": spec,
    }


def test_a_project_is_read_as_written() -> None:
    project = parse_app_project(
        doc(
            description="ignored",
            roles=[{"name": "ci"}],
            sourceRepos=["*"],
            destinations=[{"server": "*", "namespace": "team-a"}],
            clusterResourceWhitelist=[{"group": "", "kind": "Namespace", "name": "team-*"}],
            namespaceResourceWhitelist=[],
            sourceNamespaces=["team-*"],
        ),
        SourceRef("apps.yaml", 3),
    )
    assert project == AppProject(
        name="team-a",
        origin=SourceRef("apps.yaml", 3),
        source_repos=("*",),
        destinations=(ProjectDestination(server="*", namespace="team-a"),),
        cluster_whitelist=(GroupKindRule("", "Namespace", "team-*"),),
        namespace_whitelist=(),  # given and empty: nothing namespaced
        source_namespaces=("team-*",),
    )
    assert parse_app_project(doc(), SourceRef("a.yaml")).namespace_whitelist is None


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ({"syncWindows": [{"kind": "deny"}]}, "spec.syncWindows[0].schedule is required"),
        ({"signatureKeys": [{"keyID": "X"}]}, "spec.signatureKeys"),
        ({"destinationServiceAccounts": [{"server": "*"}]}, "serviceAccountName"),
        ({"permitOnlyProjectScopedClusters": True}, "spec.permitOnlyProjectScopedClusters"),
        ({"someFutureRule": ["x"]}, "spec.someFutureRule: unknown AppProject field"),
        ({"namespaceResourceBlacklist": [{"kind": "Secret", "name": "x"}]}, "only the cluster"),
    ],
)
def test_fields_gitwave_does_not_enforce_are_refused_naming_them(
    spec: dict[str, Any], want: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_app_project(doc(**spec), SourceRef("apps.yaml", 7))
    assert "apps.yaml:7 (AppProject/team-a)" in str(caught.value)
    assert want in str(caught.value)
