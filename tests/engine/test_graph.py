"""The graph stage: DESIGN.md "Ordering rules", stage splitting, validation, DOT."""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitwave.engine.errors import CycleError, ValidationError
from gitwave.engine.graph import ResourceGraph, build_graph, to_dot
from gitwave.engine.kind_order import UNKNOWN_KIND_RANK, kind_rank
from gitwave.engine.model import (
    DEFAULT_HOOK_DELETE_POLICIES,
    Dependency,
    DependencyReason,
    HookDeletePolicy,
    HookPhase,
    NodeFacts,
    Resource,
    ResourceKey,
    SourceRef,
)

TESTDATA = Path(__file__).parent.parent / "testdata" / "graph"

GROUPS = {"Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps", "ReplicaSet": "apps"}
GROUPS |= {"Job": "batch", "CronJob": "batch", "Ingress": "networking.k8s.io"}
GROUPS |= {"CustomResourceDefinition": "apiextensions.k8s.io"}
GROUPS |= {"ClusterRole": "rbac.authorization.k8s.io"}


def res(
    kind: str,
    name: str,
    namespace: str = "",
    *,
    group: str | None = None,
    ann: dict[str, Any] | None = None,
    **body: Any,
) -> Resource:
    """A desired object as the render stage makes it (source: <kind>.yaml:<n>)."""
    group = GROUPS.get(kind, "") if group is None else group
    api_version = f"{group}/v1" if group else "v1"
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if ann:
        metadata["annotations"] = ann
    manifest = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}
    return Resource(
        ResourceKey(group, kind, namespace, name),
        api_version,
        manifest,
        SourceRef(f"{kind.lower()}.yaml", 3),
    )


def pod(**spec: Any) -> dict[str, Any]:
    """A pod spec with one container; ``spec`` overrides or adds fields."""
    return {"containers": [{"name": "app", "image": "app:1"}], **spec}


def workload(
    kind: str, name: str, namespace: str, spec: dict[str, Any], *, ann: dict[str, Any] | None = None
) -> Resource:
    """A workload of ``kind`` whose pod template is ``spec``."""
    template = {"template": {"spec": spec}}
    body = {
        "Pod": spec,
        "CronJob": {"jobTemplate": {"spec": template}},
    }.get(kind, template)
    return res(kind, name, namespace, ann=ann, spec=body)


def load(name: str) -> list[Resource]:
    """The documents of a fixture, each with the line its ``apiVersion`` is on."""
    text = (TESTDATA / name).read_text()
    chunks: list[tuple[int, list[str]]] = [(1, [])]
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() == "---":
            chunks.append((number + 1, []))
        else:
            chunks[-1][1].append(line)
    resources = []
    for start, lines in chunks:
        manifest = yaml.load("\n".join(lines), Loader=yaml.CSafeLoader)
        first = next(i for i, line in enumerate(lines) if line.startswith("apiVersion"))
        resources.append(
            Resource(
                ResourceKey.of(manifest),
                manifest["apiVersion"],
                manifest,
                SourceRef(f"graph/{name}", start + first),
            )
        )
    return resources


def stage_table(graph: ResourceGraph) -> list[tuple[str, list[str]]]:
    """What a user sees of the stages: label and members, in run order."""
    return [(s.label, [k.display for k in s.keys]) for s in (*graph.stages, *graph.fail_stages)]


# --- the fixture app ---------------------------------------------------------------


def test_shop_app_runs_in_design_order() -> None:
    graph = build_graph(load("shop.yaml"))

    assert stage_table(graph) == [
        ("PreSync wave 0", ["Job/shop/migrate"]),
        ("Sync wave 0", ["Namespace/shop"]),
        (
            "Sync wave 0 step 1",
            [
                "ServiceAccount/shop/api",
                "Secret/shop/db-credentials",
                "ConfigMap/shop/settings",
                "Service/shop/api",
            ],
        ),
        ("Sync wave 0 step 2", ["Deployment/shop/api"]),
        ("Sync wave 1", ["Ingress/shop/api"]),
        ("PostSync wave 0", ["Job/shop/smoke-test"]),
        ("SyncFail wave 0", ["Job/shop/page-oncall"]),
    ]
    assert [k.display for k in graph.skipped] == ["ConfigMap/shop/scratch"]
    assert ResourceKey("", "ConfigMap", "shop", "scratch") not in graph.resources
    assert [k.display for k in graph.order] == [
        "Job/shop/migrate",
        "Namespace/shop",
        "ServiceAccount/shop/api",
        "Secret/shop/db-credentials",
        "ConfigMap/shop/settings",
        "Service/shop/api",
        "Deployment/shop/api",
        "Ingress/shop/api",
        "Job/shop/smoke-test",
        "Job/shop/page-oncall",
    ]
    api = ResourceKey("apps", "Deployment", "shop", "api")
    assert [k.display for k in graph.dependencies_of(api)] == [
        "Namespace/shop",
        "ServiceAccount/shop/api",
        "Secret/shop/db-credentials",
        "ConfigMap/shop/settings",
    ]
    migrate = ResourceKey("batch", "Job", "shop", "migrate")
    # The PreSync hook runs before the Namespace and Secret it uses would be
    # applied, so those implied edges point backwards and are dropped.
    assert graph.dependencies_of(migrate) == ()
    assert graph.phase_of(migrate) is HookPhase.PRE_SYNC
    assert graph.is_hook(migrate)
    assert graph.hook_delete_policies(migrate) == {HookDeletePolicy.HOOK_SUCCEEDED}
    assert graph.wave_of(ResourceKey("networking.k8s.io", "Ingress", "shop", "api")) == 1
    assert not graph.is_hook(api)
    assert graph.hook_delete_policies(api) == frozenset()


# --- ordering rules as a table -----------------------------------------------------------


@dataclass
class OrderCase:
    reason: str
    given: list[Resource]
    want: list[tuple[str, list[str]]]
    extra_edges: list[tuple[ResourceKey, ResourceKey]] = field(default_factory=list)


WAVE = "argocd.argoproj.io/sync-wave"
GW_WAVE = "gitwave.dev/sync-wave"
HOOK = "argocd.argoproj.io/hook"
DEPENDS = "gitwave.dev/depends-on"

ORDER_CASES = [
    OrderCase(
        "kind order alone lists but never splits a stage",
        [
            res("Deployment", "web", "shop", spec={}),
            res("Service", "web", "shop"),
            res("ConfigMap", "settings", "shop"),
            res("Secret", "token", "shop"),
            res("ServiceAccount", "web", "shop"),
            res("Widget", "w", "shop", group="example.com"),
            res("ClusterRole", "reader"),
        ],
        [
            (
                "Sync wave 0",
                [
                    "ServiceAccount/shop/web",
                    "Secret/shop/token",
                    "ConfigMap/shop/settings",
                    "ClusterRole/reader",
                    "Service/shop/web",
                    "Deployment/shop/web",
                    "Widget/shop/w",
                ],
            )
        ],
    ),
    OrderCase(
        "then namespace, then name",
        [
            res("ConfigMap", "b", "one"),
            res("ConfigMap", "a", "two"),
            res("ConfigMap", "a", "one"),
        ],
        [("Sync wave 0", ["ConfigMap/one/a", "ConfigMap/one/b", "ConfigMap/two/a"])],
    ),
    OrderCase(
        "a sync wave beats kind order",
        [
            res("ConfigMap", "settings", "shop", ann={WAVE: "1"}),
            res("Deployment", "web", "shop", ann={WAVE: "-1"}, spec={}),
        ],
        [("Sync wave -1", ["Deployment/shop/web"]), ("Sync wave 1", ["ConfigMap/shop/settings"])],
    ),
    OrderCase(
        "gitwave's wave annotation counts like Argo CD's; both agreeing is fine",
        [
            res("ConfigMap", "a", "shop", ann={GW_WAVE: "2"}),
            res("ConfigMap", "b", "shop", ann={GW_WAVE: "1", WAVE: " 1 "}),
        ],
        [("Sync wave 1", ["ConfigMap/shop/b"]), ("Sync wave 2", ["ConfigMap/shop/a"])],
    ),
    OrderCase(
        "a hook phase beats a sync wave",
        [
            res("ConfigMap", "early", "shop", ann={WAVE: "-5"}),
            res("Job", "after", "shop", ann={HOOK: "PostSync", WAVE: "-10"}),
            res("Job", "before", "shop", ann={HOOK: "PreSync", WAVE: "10"}),
        ],
        [
            ("PreSync wave 10", ["Job/shop/before"]),
            ("Sync wave -5", ["ConfigMap/shop/early"]),
            ("PostSync wave -10", ["Job/shop/after"]),
        ],
    ),
    OrderCase(
        "a hook for two phases runs in both; a Sync hook runs with the Sync wave",
        [
            res("Job", "check", "shop", ann={HOOK: " PreSync , PostSync"}),
            res("Job", "sync-hook", "shop", ann={HOOK: "Sync"}),
            res("ConfigMap", "settings", "shop"),
        ],
        [
            ("PreSync wave 0", ["Job/shop/check"]),
            ("Sync wave 0", ["ConfigMap/shop/settings", "Job/shop/sync-hook"]),
            ("PostSync wave 0", ["Job/shop/check"]),
        ],
    ),
    OrderCase(
        "Skip hooks are left out; SyncFail hooks go to the fail stages",
        [
            res("Job", "skipped", "shop", ann={HOOK: "Skip"}),
            res("Job", "skipped-too", "shop", ann={HOOK: "PreSync,Skip"}),
            res("Job", "on-failure", "shop", ann={HOOK: "SyncFail", WAVE: "3"}),
            res("ConfigMap", "settings", "shop"),
        ],
        [
            ("Sync wave 0", ["ConfigMap/shop/settings"]),
            ("SyncFail wave 3", ["Job/shop/on-failure"]),
        ],
    ),
    OrderCase(
        "depends-on inside one wave makes a step",
        [
            res("ConfigMap", "settings", "shop", ann={DEPENDS: "Deployment.apps/shop/web"}),
            res("Deployment", "web", "shop", spec={}),
        ],
        [
            ("Sync wave 0", ["Deployment/shop/web"]),
            ("Sync wave 0 step 1", ["ConfigMap/shop/settings"]),
        ],
    ),
    OrderCase(
        "depends-on without group, cluster-scoped, same-namespace and listed forms",
        [
            res(
                "ConfigMap",
                "last",
                "shop",
                ann={DEPENDS: "Deployment/shop/web, ClusterRole/reader,Secret/token,"},
            ),
            res("Deployment", "web", "shop", spec={}),
            res("ClusterRole", "reader"),
            res("Secret", "token", "shop"),
        ],
        [
            ("Sync wave 0", ["Secret/shop/token", "ClusterRole/reader", "Deployment/shop/web"]),
            ("Sync wave 0 step 1", ["ConfigMap/shop/last"]),
        ],
    ),
    OrderCase(
        "depends-on pointing to an earlier wave needs no step",
        [
            res("ConfigMap", "late", "shop", ann={WAVE: "2", DEPENDS: "Secret/shop/early"}),
            res("Secret", "early", "shop", ann={WAVE: "1"}),
        ],
        [("Sync wave 1", ["Secret/shop/early"]), ("Sync wave 2", ["ConfigMap/shop/late"])],
    ),
    OrderCase(
        "a Sync object may depend on a PreSync hook",
        [
            res("ConfigMap", "settings", "shop", ann={DEPENDS: "Job.batch/shop/migrate"}),
            res("Job", "migrate", "shop", ann={HOOK: "PreSync"}),
        ],
        [("PreSync wave 0", ["Job/shop/migrate"]), ("Sync wave 0", ["ConfigMap/shop/settings"])],
    ),
    OrderCase(
        "a dependency on a Skip hook is ignored",
        [
            res("ConfigMap", "settings", "shop", ann={DEPENDS: "Job/shop/skipped"}),
            res("Job", "skipped", "shop", ann={HOOK: "Skip"}),
        ],
        [("Sync wave 0", ["ConfigMap/shop/settings"])],
    ),
    OrderCase(
        "extra edges (Flux dependsOn, composition references) count as explicit",
        [res("ConfigMap", "a", "shop"), res("ConfigMap", "b", "shop")],
        [("Sync wave 0", ["ConfigMap/shop/b"]), ("Sync wave 0 step 1", ["ConfigMap/shop/a"])],
        extra_edges=[
            (ResourceKey("", "ConfigMap", "shop", "b"), ResourceKey("", "ConfigMap", "shop", "a"))
        ],
    ),
    OrderCase(
        "Namespace before every object in it, not before objects elsewhere",
        [
            res("Namespace", "shop"),
            res("ConfigMap", "a", "shop"),
            res("ConfigMap", "b", "other"),
            res("ClusterRole", "reader"),
        ],
        [
            ("Sync wave 0", ["Namespace/shop", "ConfigMap/other/b", "ClusterRole/reader"]),
            ("Sync wave 0 step 1", ["ConfigMap/shop/a"]),
        ],
    ),
    OrderCase(
        "an implied reference that would point to an earlier wave is dropped",
        [res("Namespace", "shop", ann={WAVE: "1"}), res("ConfigMap", "a", "shop")],
        [("Sync wave 0", ["ConfigMap/shop/a"]), ("Sync wave 1", ["Namespace/shop"])],
    ),
    OrderCase(
        "an explicit dependency outranks the implied reference it contradicts",
        [
            res("ConfigMap", "settings", "shop", ann={DEPENDS: "Deployment/shop/web"}),
            workload(
                "Deployment",
                "web",
                "shop",
                pod(volumes=[{"name": "c", "configMap": {"name": "settings"}}]),
            ),
        ],
        [
            ("Sync wave 0", ["Deployment/shop/web"]),
            ("Sync wave 0 step 1", ["ConfigMap/shop/settings"]),
        ],
    ),
    OrderCase(
        "a reference to an object outside the render or namespace implies nothing",
        [
            res("ConfigMap", "settings", "elsewhere"),
            workload(
                "Deployment",
                "web",
                "shop",
                pod(volumes=[{"name": "c", "configMap": {"name": "settings"}}]),
            ),
        ],
        [("Sync wave 0", ["ConfigMap/elsewhere/settings", "Deployment/shop/web"])],
    ),
]


@pytest.mark.parametrize("case", ORDER_CASES, ids=lambda c: c.reason)
def test_ordering_rules(case: OrderCase) -> None:
    graph = build_graph(case.given, extra_edges=case.extra_edges)
    assert stage_table(graph) == case.want


def test_crd_comes_before_its_custom_resources_only() -> None:
    graph = build_graph(load("crd.yaml"))

    assert stage_table(graph) == [
        ("Sync wave 0", ["CustomResourceDefinition/widgets.example.com", "Widget/default/red"]),
        ("Sync wave 0 step 1", ["Widget/default/blue"]),
    ]


# --- implied references from pod specs --------------------------------------------------


@dataclass
class RefCase:
    reason: str
    referenced: Resource
    spec: dict[str, Any]


REF_CASES = [
    RefCase(
        "volume configMap",
        res("ConfigMap", "x", "shop"),
        pod(volumes=[{"name": "v", "configMap": {"name": "x"}}]),
    ),
    RefCase(
        "volume secret",
        res("Secret", "x", "shop"),
        pod(volumes=[{"name": "v", "secret": {"secretName": "x"}}]),
    ),
    RefCase(
        "volume persistentVolumeClaim",
        res("PersistentVolumeClaim", "x", "shop"),
        pod(volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "x"}}]),
    ),
    RefCase(
        "projected configMap",
        res("ConfigMap", "x", "shop"),
        pod(volumes=[{"name": "v", "projected": {"sources": [{"configMap": {"name": "x"}}]}}]),
    ),
    RefCase(
        "projected secret",
        res("Secret", "x", "shop"),
        pod(volumes=[{"name": "v", "projected": {"sources": [{"secret": {"name": "x"}}]}}]),
    ),
    RefCase(
        "envFrom configMapRef",
        res("ConfigMap", "x", "shop"),
        pod(containers=[{"name": "a", "envFrom": [{"configMapRef": {"name": "x"}}]}]),
    ),
    RefCase(
        "envFrom secretRef",
        res("Secret", "x", "shop"),
        pod(containers=[{"name": "a", "envFrom": [{"secretRef": {"name": "x"}}]}]),
    ),
    RefCase(
        "env configMapKeyRef",
        res("ConfigMap", "x", "shop"),
        pod(
            containers=[
                {
                    "name": "a",
                    "env": [
                        {"name": "E", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k"}}}
                    ],
                }
            ]
        ),
    ),
    RefCase(
        "env secretKeyRef in an init container",
        res("Secret", "x", "shop"),
        pod(
            initContainers=[
                {
                    "name": "init",
                    "env": [
                        {"name": "E", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k"}}}
                    ],
                }
            ]
        ),
    ),
    RefCase("serviceAccountName", res("ServiceAccount", "x", "shop"), pod(serviceAccountName="x")),
    RefCase("imagePullSecrets", res("Secret", "x", "shop"), pod(imagePullSecrets=[{"name": "x"}])),
]
WORKLOAD_KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
@pytest.mark.parametrize("case", REF_CASES, ids=lambda c: c.reason)
def test_workloads_wait_for_what_they_reference(case: RefCase, kind: str) -> None:
    user = workload(kind, "user", "shop", case.spec)
    bystander = res(case.referenced.kind, "unrelated", "shop")

    graph = build_graph([user, case.referenced, bystander])

    assert stage_table(graph) == [
        ("Sync wave 0", sorted_displays(case.referenced, bystander)),
        ("Sync wave 0 step 1", [user.key.display]),
    ]


def sorted_displays(*resources: Resource) -> list[str]:
    return [r.key.display for r in sorted(resources, key=lambda r: r.key.name)]


# --- facts: each object's annotations and pod spec, read once ---------------------------


def test_the_graph_keeps_what_it_read_from_each_object() -> None:
    settings = res("ConfigMap", "settings", "shop", ann={"argocd.argoproj.io/sync-wave": "2"})
    api = workload(
        "Deployment",
        "api",
        "shop",
        pod(
            serviceAccountName="api",
            volumes=[{"name": "s", "configMap": {"name": "settings"}}],
            imagePullSecrets=[{"name": "registry"}],
        ),
        ann={WAVE: "3", "argocd.argoproj.io/sync-options": "Prune=false, Replace=true"},
    )
    migrate = res(
        "Job",
        "migrate",
        "shop",
        ann={HOOK: "PreSync", "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"},
    )

    graph = build_graph([settings, api, migrate])

    assert graph.facts_of(api.key) == NodeFacts(
        (HookPhase.SYNC,),
        3,
        is_hook=False,
        delete_policies=frozenset(),
        sync_options=frozenset({"Prune=false", "Replace=true"}),
        references=(
            ResourceKey("", "ConfigMap", "shop", "settings"),
            ResourceKey("", "Secret", "shop", "registry"),  # not in the render: still a fact
            ResourceKey("", "ServiceAccount", "shop", "api"),
        ),
    )
    assert graph.facts_of(migrate.key) == NodeFacts(
        (HookPhase.PRE_SYNC,),
        0,
        is_hook=True,
        delete_policies=frozenset({HookDeletePolicy.HOOK_SUCCEEDED}),
    )
    assert graph.facts_of(settings.key).position == (HookPhase.SYNC.order, 2)
    assert (
        build_graph([res("Job", "h", "shop", ann={HOOK: "PostSync"})])
        .facts_of(ResourceKey("batch", "Job", "shop", "h"))
        .delete_policies
        == DEFAULT_HOOK_DELETE_POLICIES
    )


# --- dependencies declared by an earlier stage -------------------------------------------

WRITER = res("Thing", "db", group="things.example.org", spec={})
CONNECTION = ResourceKey("", "Secret", "shop", "db-conn")
WRITES = Dependency(WRITER.key, CONNECTION, DependencyReason.CONNECTION_SECRET)


def reader(name: str, *, wave: str = "0") -> Resource:
    spec = pod(containers=[{"name": "c", "envFrom": [{"secretRef": {"name": "db-conn"}}]}])
    ann = {"argocd.argoproj.io/sync-wave": wave}
    return workload("Deployment", name, "shop", spec, ann=ann)


def test_workloads_reading_a_connection_secret_wait_for_its_writer() -> None:
    shop = res("Namespace", "shop")
    api = reader("api")

    graph = build_graph([shop, WRITER, api], extra_edges=[WRITES])

    assert set(graph.dag.edges) == {
        (WRITER.key, api.key),  # the Deployment reads the Secret the Thing writes
        (shop.key, WRITER.key),  # the Secret goes into namespace shop
        (shop.key, api.key),
    }


def test_a_connection_secret_never_makes_an_object_wait_for_a_later_wave() -> None:
    shop = res("Namespace", "shop", ann={"argocd.argoproj.io/sync-wave": "1"})
    early = reader("early", wave="-1")

    graph = build_graph([shop, WRITER, early], extra_edges=[WRITES])  # no "runs later" error

    assert list(graph.dag.edges) == []


def test_a_plain_pair_is_a_reference_and_a_reference_must_point_forward() -> None:
    later = res("ConfigMap", "later", "shop", ann={"argocd.argoproj.io/sync-wave": "1"})
    user = res("ConfigMap", "user", "shop")
    shop = res("Namespace", "shop")

    assert build_graph([shop, later, user], extra_edges=[(user.key, later.key)]).dependencies_of(
        later.key
    ) == (shop.key, user.key)
    with pytest.raises(ValidationError, match="which runs later"):
        build_graph([shop, later, user], extra_edges=[Dependency(later.key, user.key)])


# --- hooks ------------------------------------------------------------------------------


@dataclass
class PolicyCase:
    reason: str
    annotations: dict[str, str]
    want: set[HookDeletePolicy]


POLICY_CASES = [
    PolicyCase("Argo CD's default", {HOOK: "PreSync"}, {HookDeletePolicy.BEFORE_HOOK_CREATION}),
    PolicyCase(
        "two policies",
        {HOOK: "PostSync", "argocd.argoproj.io/hook-delete-policy": "HookSucceeded, HookFailed"},
        {HookDeletePolicy.HOOK_SUCCEEDED, HookDeletePolicy.HOOK_FAILED},
    ),
]


@pytest.mark.parametrize("case", POLICY_CASES, ids=lambda c: c.reason)
def test_hook_delete_policies(case: PolicyCase) -> None:
    hook = res("Job", "hook", "shop", ann=case.annotations)
    graph = build_graph([hook])
    assert graph.hook_delete_policies(hook.key) == case.want


def test_multi_phase_hook_reports_every_phase() -> None:
    hook = res("Job", "check", "shop", ann={HOOK: "PostSync,PreSync"})
    graph = build_graph([hook])
    assert graph.phases_of(hook.key) == (HookPhase.PRE_SYNC, HookPhase.POST_SYNC)
    assert graph.phase_of(hook.key) is HookPhase.PRE_SYNC
    assert graph.order == (hook.key,)


def test_render_of_hooks_only_has_no_objects() -> None:
    assert not build_graph([res("Job", "h", "shop", ann={HOOK: "PreSync"})]).has_objects
    assert build_graph([res("ConfigMap", "c", "shop")]).has_objects


# --- bad input -------------------------------------------------------------------------


@dataclass
class BadCase:
    reason: str
    given: list[Resource]
    error: type[Exception]
    says: list[str]
    extra_edges: list[tuple[ResourceKey, ResourceKey]] = field(default_factory=list)


BAD_CASES = [
    BadCase(
        "a wave that is a word",
        [res("ConfigMap", "c", "shop", ann={WAVE: "one"})],
        ValidationError,
        ["ConfigMap/shop/c (configmap.yaml:3)", WAVE, "'one'", "not an integer"],
    ),
    BadCase(
        "a fractional wave",
        [res("ConfigMap", "c", "shop", ann={GW_WAVE: "1.5"})],
        ValidationError,
        ["ConfigMap/shop/c (configmap.yaml:3)", GW_WAVE, "'1.5'"],
    ),
    BadCase(
        "an empty wave",
        [res("ConfigMap", "c", "shop", ann={WAVE: ""})],
        ValidationError,
        ["ConfigMap/shop/c", "not an integer"],
    ),
    BadCase(
        "two wave annotations that disagree",
        [res("ConfigMap", "c", "shop", ann={WAVE: "1", GW_WAVE: "2"})],
        ValidationError,
        ["ConfigMap/shop/c (configmap.yaml:3)", f"{WAVE}=1", f"{GW_WAVE}=2"],
    ),
    BadCase(
        "an unknown hook",
        [res("Job", "j", "shop", ann={HOOK: "PreSync, PreSynk"})],
        ValidationError,
        ["Job/shop/j (job.yaml:3)", "unknown hook 'PreSynk'", HOOK],
    ),
    BadCase(
        "a hook name in the wrong case",
        [res("Job", "j", "shop", ann={HOOK: "presync"})],
        ValidationError,
        ["Job/shop/j", "unknown hook 'presync'"],
    ),
    BadCase(
        "an unknown hook delete policy",
        [
            res(
                "Job",
                "j",
                "shop",
                ann={HOOK: "PreSync", "argocd.argoproj.io/hook-delete-policy": "Never"},
            )
        ],
        ValidationError,
        ["Job/shop/j (job.yaml:3)", "unknown hook delete policy 'Never'"],
    ),
    BadCase(
        "two objects depending on each other",
        [
            res("ConfigMap", "a", "shop", ann={DEPENDS: "Secret/shop/b"}),
            res("Secret", "b", "shop", ann={DEPENDS: "ConfigMap/shop/a"}),
        ],
        CycleError,
        ["dependency cycle: Secret/shop/b -> ConfigMap/shop/a -> Secret/shop/b"],
    ),
    BadCase(
        "an object depending on itself",
        [res("ConfigMap", "a", "shop", ann={DEPENDS: "ConfigMap/shop/a"})],
        CycleError,
        ["dependency cycle: ConfigMap/shop/a -> ConfigMap/shop/a"],
    ),
    BadCase(
        "a dependency on an object that is not in the render",
        [res("Deployment", "web", "shop", spec={}, ann={DEPENDS: "ConfigMap/shop/missing"})],
        ValidationError,
        [
            "Deployment/shop/web (deployment.yaml:3)",
            DEPENDS,
            "'ConfigMap/shop/missing'",
            "not in the render",
        ],
    ),
    BadCase(
        "a dependency on the wrong API group",
        [
            res("ConfigMap", "a", "shop", ann={DEPENDS: "Deployment.extensions/shop/web"}),
            res("Deployment", "web", "shop", spec={}),
        ],
        ValidationError,
        ["ConfigMap/shop/a", "'Deployment.extensions/shop/web'", "not in the render"],
    ),
    BadCase(
        "a malformed depends-on entry",
        [res("ConfigMap", "a", "shop", ann={DEPENDS: "ConfigMap"})],
        ValidationError,
        ["ConfigMap/shop/a", "malformed entry 'ConfigMap'"],
    ),
    BadCase(
        "a group-less dependency that matches two kinds",
        [
            res("ConfigMap", "a", "shop", ann={DEPENDS: "Widget/shop/w"}),
            res("Widget", "w", "shop", group="one.example.com"),
            res("Widget", "w", "shop", group="two.example.com"),
        ],
        ValidationError,
        ["ConfigMap/shop/a", "matches several", "Widget.one.example.com", "Widget.two.example.com"],
    ),
    BadCase(
        "a dependency on a later wave",
        [
            res("ConfigMap", "a", "shop", ann={WAVE: "1", DEPENDS: "Secret/shop/b"}),
            res("Secret", "b", "shop", ann={WAVE: "2"}),
        ],
        ValidationError,
        ["ConfigMap/shop/a (configmap.yaml:3)", "Secret/shop/b (secret.yaml:3)", "Sync wave 2"],
    ),
    BadCase(
        "a Sync object depending on a PostSync hook",
        [
            res("ConfigMap", "a", "shop", ann={DEPENDS: "Job/shop/after"}),
            res("Job", "after", "shop", ann={HOOK: "PostSync"}),
        ],
        ValidationError,
        ["ConfigMap/shop/a", "Job/shop/after (job.yaml:3)", "PostSync wave 0"],
    ),
    BadCase(
        "an extra edge to an unknown object",
        [res("ConfigMap", "a", "shop")],
        ValidationError,
        ["ConfigMap/shop/a (configmap.yaml:3)", "Secret/shop/gone", "not in the render"],
        extra_edges=[
            (ResourceKey("", "Secret", "shop", "gone"), ResourceKey("", "ConfigMap", "shop", "a"))
        ],
    ),
    BadCase(
        "the same object twice",
        [res("ConfigMap", "a", "shop"), res("ConfigMap", "a", "shop")],
        ValidationError,
        ["ConfigMap/shop/a (configmap.yaml:3)", "duplicate"],
    ),
]


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.reason)
def test_bad_input_is_a_typed_error_naming_the_resource(case: BadCase) -> None:
    with pytest.raises(case.error) as caught:
        build_graph(case.given, extra_edges=case.extra_edges)
    for text in case.says:
        assert text in str(caught.value)


def test_bad_wave_names_file_and_line() -> None:
    with pytest.raises(ValidationError) as caught:
        build_graph(load("bad-wave.yaml"))
    assert str(caught.value).startswith("ConfigMap/default/settings (graph/bad-wave.yaml:8): ")
    assert caught.value.hint


def test_three_node_cycle_names_every_member_from_the_smallest_key() -> None:
    resources = load("cycle.yaml")
    with pytest.raises(CycleError) as caught:
        build_graph(resources)
    assert str(caught.value) == (
        "dependency cycle: ConfigMap/default/a -> Service/default/b -> "
        "Deployment/default/c -> ConfigMap/default/a"
    )
    # Same members, same rotation, whatever the input order.
    for seed in range(5):
        shuffled = resources[:]
        random.Random(seed).shuffle(shuffled)
        with pytest.raises(CycleError) as again:
            build_graph(shuffled)
        assert again.value.cycle == caught.value.cycle


# --- DOT -------------------------------------------------------------------------------


def test_dot_has_one_cluster_per_stage_and_the_edges() -> None:
    graph = build_graph(
        [
            res("Job", "migrate", "shop", ann={HOOK: "PreSync", WAVE: "-1"}),
            res("Namespace", "shop"),
            res("ConfigMap", "settings", "shop"),
        ]
    )

    assert to_dot(graph) == (
        "digraph gitwave {\n"
        "  rankdir=LR;\n"
        '  node [shape=box, fontname="monospace"];\n'
        "  subgraph cluster_0 {\n"
        '    label="PreSync wave -1";\n'
        '    n0_s0 [label="Job/shop/migrate"];\n'
        "  }\n"
        "  subgraph cluster_1 {\n"
        '    label="Sync wave 0";\n'
        '    n1_s1 [label="Namespace/shop"];\n'
        "  }\n"
        "  subgraph cluster_2 {\n"
        '    label="Sync wave 0 step 1";\n'
        '    n2_s2 [label="ConfigMap/shop/settings"];\n'
        "  }\n"
        "  n1_s1 -> n2_s2;\n"
        "}\n"
    )


def test_dot_of_the_shop_app_is_well_formed() -> None:
    dot = to_dot(build_graph(load("shop.yaml")))
    clusters = re.findall(r'subgraph cluster_\d+ \{\n    label="([^"]+)";', dot)
    assert clusters == [
        "PreSync wave 0",
        "Sync wave 0",
        "Sync wave 0 step 1",
        "Sync wave 0 step 2",
        "Sync wave 1",
        "PostSync wave 0",
        "SyncFail wave 0",
    ]
    assert dot.count("{") == dot.count("}")
    assert dot.count(" -> ") == build_graph(load("shop.yaml")).dag.number_of_edges()


# --- determinism and scale -------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_same_input_in_any_order_gives_the_same_graph(rnd: random.Random) -> None:
    resources = load("shop.yaml") + load("crd.yaml")
    reference = build_graph(resources)
    shuffled = resources[:]
    rnd.shuffle(shuffled)

    graph = build_graph(shuffled)

    assert graph.order == reference.order
    assert graph.stages == reference.stages
    assert graph.fail_stages == reference.fail_stages
    assert list(graph.dag.edges) == list(reference.dag.edges)
    assert to_dot(graph) == to_dot(reference)


def big_app(namespaces: int, pairs: int) -> list[Resource]:
    resources = []
    for n in range(namespaces):
        ns = f"ns{n}"
        resources.append(res("Namespace", ns))
        for p in range(pairs):
            resources.append(res("ConfigMap", f"cfg{p}", ns, data={"k": "v"}))
            spec = pod(volumes=[{"name": "c", "configMap": {"name": f"cfg{p}"}}])
            resources.append(workload("Deployment", f"web{p}", ns, spec))
    random.Random(0).shuffle(resources)
    return resources


@pytest.mark.slow  # a large input, timed
def test_ten_thousand_resources_build_without_quadratic_blowup() -> None:
    resources = big_app(100, 50)
    started = time.process_time()
    graph = build_graph(resources)
    spent = time.process_time() - started

    assert [(s.label, len(s.keys)) for s in graph.stages] == [
        ("Sync wave 0", 100),
        ("Sync wave 0 step 1", 5000),
        ("Sync wave 0 step 2", 5000),
    ]
    # About 0.3 s of CPU on the 2-core dev machine; a quadratic scan takes minutes.
    assert spent < 3.0


# --- kind order table ------------------------------------------------------------------


@dataclass
class RankCase:
    group: str
    kind: str
    before: tuple[str, str]


RANK_CASES = [
    RankCase("", "Namespace", ("apiextensions.k8s.io", "CustomResourceDefinition")),
    RankCase("apiextensions.k8s.io", "CustomResourceDefinition", ("example.com", "Widget")),
    RankCase("", "ConfigMap", ("apps", "Deployment")),
    RankCase("", "Service", ("apps", "Deployment")),
    RankCase("apps", "Deployment", ("networking.k8s.io", "Ingress")),
    RankCase("networking.k8s.io", "Ingress", ("serving.knative.dev", "Service")),
]


@pytest.mark.parametrize("case", RANK_CASES, ids=lambda c: f"{c.kind}<{c.before[1]}")
def test_kind_rank_orders_kinds(case: RankCase) -> None:
    assert kind_rank(case.group, case.kind) < kind_rank(*case.before)


def test_a_known_kind_in_another_group_is_unknown() -> None:
    assert kind_rank("serving.knative.dev", "Service") == UNKNOWN_KIND_RANK
    assert kind_rank("", "Service") < UNKNOWN_KIND_RANK
