"""The plan stage: actions, waves, prune rules, safety checks and rendering."""

from __future__ import annotations

import base64
import copy
import datetime
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitwave.engine.errors import SafetyError, ValidationError
from gitwave.engine.graph import build_graph
from gitwave.engine.model import (
    Action,
    ApplyMode,
    HookDeletePolicy,
    InstallGate,
    Live,
    Plan,
    Resource,
    ResourceKey,
    SourceRef,
    Wave,
    tracking_id,
)
from gitwave.engine.plan import PlanOptions, make_plan
from gitwave.engine.plan_report import LineKind, format_plan, plan_lines, plan_to_dict

APP = "shop"
WAVE = "argocd.argoproj.io/sync-wave"
HOOK = "argocd.argoproj.io/hook"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
TRACKING = "gitwave.dev/tracking-id"
GROUPS = {
    "Deployment": "apps",
    "Job": "batch",
    "Ingress": "networking.k8s.io",
    "CustomResourceDefinition": "apiextensions.k8s.io",
}


def key(kind: str, name: str, namespace: str = "") -> ResourceKey:
    return ResourceKey(GROUPS.get(kind, ""), kind, namespace, name)


def res(
    kind: str, name: str, namespace: str = "", *, ann: dict[str, str] | None = None, **body: Any
) -> Resource:
    """A desired object as the render stage makes it (source: <kind>.yaml:7)."""
    k = key(kind, name, namespace)
    api_version = f"{k.group}/v1" if k.group else "v1"
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if ann:
        metadata["annotations"] = ann
    manifest = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}
    return Resource(k, api_version, manifest, SourceRef(f"{kind.lower()}.yaml", 7))


def served(resource: Resource, *, complete: bool = True, **changes: Any) -> Live:
    """The live object a sync of ``resource`` left behind, with top-level ``changes``."""
    manifest = copy.deepcopy(resource.manifest) | changes
    annotations = manifest["metadata"].setdefault("annotations", {})
    annotations[TRACKING] = tracking_id(APP, resource.key)
    manifest["metadata"]["uid"] = f"uid-{resource.key.name}"
    return Live(resource.key, manifest, "1", complete)


def orphan(
    kind: str,
    name: str,
    namespace: str = "",
    *,
    app: str | None = APP,
    ann: dict[str, str] | None = None,
    complete: bool = True,
    **body: Any,
) -> Live:
    """A live object this app applied once and Git no longer has."""
    resource = res(kind, name, namespace, ann=dict(ann or {}), **body)
    manifest = copy.deepcopy(resource.manifest)
    if app is not None:
        manifest["metadata"].setdefault("annotations", {})[TRACKING] = tracking_id(
            app, resource.key
        )
    return Live(resource.key, manifest, "1", complete)


def plan_of(
    resources: list[Resource],
    *,
    live: Sequence[Live] = (),
    tracked: Sequence[Live] = (),
    namespaces: tuple[str, ...] = ("shop",),
    **options: Any,
) -> Plan:
    return make_plan(
        app=APP,
        revision="abc123",
        graph=build_graph(resources),
        live={seen.key: seen for seen in live},
        tracked=tracked,
        options=PlanOptions(**options),
        namespaces_live=namespaces,
    )


def title(wave: Wave) -> str:
    return wave.label


def table(plan: Plan) -> list[tuple[str, list[tuple[str, str]]]]:
    """What a user sees of a plan: each wave with its (action, object) pairs."""
    return [(title(w), [(t.action.value, t.key.display) for t in w.tasks]) for w in plan.waves]


NAMESPACE = res("Namespace", "shop")
SETTINGS = res("ConfigMap", "settings", "shop", data={"mode": "prod"})
WEB = res("Deployment", "web", "shop", spec={"replicas": 3})
MIGRATE = res("Job", "migrate", "shop", ann={HOOK: "PreSync"}, spec={})


@dataclass
class Case:
    reason: str
    resources: list[Resource]
    want: list[tuple[str, list[tuple[str, str]]]]
    live: list[Live] = field(default_factory=list)
    tracked: list[Live] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # (object, words of the reason) of each object a prune keeps
    kept: list[tuple[str, str]] = field(default_factory=list)


CASES = [
    Case(
        "create, update, unchanged and hook",
        [NAMESPACE, SETTINGS, WEB, MIGRATE],
        [
            ("PreSync wave 0", [("hook", "Job/shop/migrate")]),
            ("Sync wave 0", [("none", "Namespace/shop")]),
            (
                "Sync wave 0 step 1",
                [("create", "ConfigMap/shop/settings"), ("update", "Deployment/shop/web")],
            ),
        ],
        live=[served(NAMESPACE), served(WEB, spec={"replicas": 2}), served(MIGRATE)],
    ),
    Case(
        "a hook is run again even when its object exists unchanged",
        [MIGRATE],
        [("PreSync wave 0", [("hook", "Job/shop/migrate")])],
        live=[served(MIGRATE)],
    ),
    Case(
        "ignored fields do not make an update",
        [WEB],
        [("Sync wave 0", [("none", "Deployment/shop/web")])],
        live=[served(WEB, spec={"replicas": 7})],
        options={"ignore": {WEB.key: ("/spec/replicas",)}},
    ),
    Case(
        "apply-out-of-sync-only leaves in-sync objects (and empty waves) out",
        [NAMESPACE, SETTINGS, WEB],
        [("Sync wave 0 step 1", [("create", "ConfigMap/shop/settings")])],
        live=[served(NAMESPACE), served(WEB)],
        options={"apply_out_of_sync_only": True},
    ),
    Case(
        "with prune off an orphan is only a warning",
        [SETTINGS],
        [("Sync wave 0", [("create", "ConfigMap/shop/settings")])],
        tracked=[orphan("ConfigMap", "old", "shop")],
        warnings=["ConfigMap/shop/old is not in the source; turn on prune to delete it"],
    ),
    Case(
        "with prune on an orphan is pruned after its wave's apply steps",
        [NAMESPACE, SETTINGS],
        [
            ("Sync wave 0", [("none", "Namespace/shop")]),
            ("Sync wave 0 step 1", [("none", "ConfigMap/shop/settings")]),
            ("Sync wave 0 step 2", [("prune", "ConfigMap/shop/old")]),
        ],
        live=[served(NAMESPACE), served(SETTINGS)],
        tracked=[served(NAMESPACE), served(SETTINGS), orphan("ConfigMap", "old", "shop")],
        options={"prune": True},
    ),
    Case(
        "an object with another app's tracking id, or none, is never pruned",
        [SETTINGS],
        [("Sync wave 0", [("create", "ConfigMap/shop/settings")])],
        tracked=[
            orphan("ConfigMap", "copied", "shop", app="blog"),
            orphan("ConfigMap", "untracked", "shop", app=None),
        ],
        options={"prune": True},
        warnings=[
            "ConfigMap/shop/copied is not in the source but its tracking id is not shop's; "
            "it is never pruned",
            "ConfigMap/shop/untracked is not in the source but its tracking id is not shop's; "
            "it is never pruned",
        ],
    ),
    Case(
        "the Prune=false sync option keeps an orphan",
        [SETTINGS],
        [("Sync wave 0", [("create", "ConfigMap/shop/settings")])],
        tracked=[orphan("ConfigMap", "keep", "shop", ann={SYNC_OPTIONS: "Prune=false"})],
        options={"prune": True},
        kept=[("ConfigMap/shop/keep", "its sync option Prune=false")],
    ),
    Case(
        "Namespaces, CRDs and PVCs are never pruned implicitly",
        [SETTINGS],
        [("Sync wave 0", [("create", "ConfigMap/shop/settings")])],
        tracked=[
            orphan("Namespace", "old"),
            orphan("CustomResourceDefinition", "widgets.example.com"),
            orphan("PersistentVolumeClaim", "data", "shop"),
        ],
        options={"prune": True},
        kept=[
            ("Namespace/old", "Namespaces are not pruned implicitly"),
            ("PersistentVolumeClaim/shop/data", "add the sync option Prune=true to the object"),
            ("CustomResourceDefinition/widgets.example.com", "deletes all its custom resources"),
        ],
    ),
    Case(
        "Prune=true on the object, or PruneProtectedKinds=true on the app, prunes them",
        [SETTINGS],
        [
            ("Sync wave 0", [("create", "ConfigMap/shop/settings")]),
            (
                "Sync wave 0 step 1",
                [("prune", "PersistentVolumeClaim/shop/data"), ("prune", "Namespace/old")],
            ),
        ],
        tracked=[
            orphan("Namespace", "old", ann={SYNC_OPTIONS: "Prune=true"}),
            orphan("PersistentVolumeClaim", "data", "shop", ann={SYNC_OPTIONS: "Prune=true"}),
        ],
        options={"prune": True},
    ),
    Case(
        "an object marked Prune=false is kept even when the app prunes protected kinds",
        [SETTINGS],
        [
            ("Sync wave 0", [("create", "ConfigMap/shop/settings")]),
            ("Sync wave 0 step 1", [("prune", "Namespace/old")]),
        ],
        tracked=[
            orphan("Namespace", "old"),
            orphan("Namespace", "keep", ann={SYNC_OPTIONS: "Prune=false"}),
        ],
        options={"prune": True, "prune_protected": True},
        kept=[("Namespace/keep", "Prune=false")],
    ),
    Case(
        "prunes inside one wave go in reverse kind order",
        [SETTINGS],
        [
            ("Sync wave 0", [("create", "ConfigMap/shop/settings")]),
            (
                "Sync wave 0 step 1",
                [
                    ("prune", "Deployment/old/api"),
                    ("prune", "ConfigMap/old/b"),
                    ("prune", "ConfigMap/old/a"),
                    ("prune", "Namespace/old"),
                ],
            ),
        ],
        tracked=[
            orphan("Namespace", "old", ann={SYNC_OPTIONS: "Prune=true"}),
            orphan("ConfigMap", "a", "old"),
            orphan("Deployment", "api", "old"),
            orphan("ConfigMap", "b", "old"),
        ],
        options={"prune": True},
    ),
    Case(
        "prune waves run in reverse wave order (Argo CD swaps their numbers)",
        [
            res("ConfigMap", "one", "shop", ann={WAVE: "1"}),
            res("ConfigMap", "five", "shop", ann={WAVE: "5"}),
        ],
        [
            ("Sync wave 1", [("create", "ConfigMap/shop/one")]),
            ("Sync wave 1 step 1", [("prune", "ConfigMap/shop/old-five")]),
            ("Sync wave 5", [("create", "ConfigMap/shop/five")]),
            ("Sync wave 5 step 1", [("prune", "ConfigMap/shop/old-one")]),
        ],
        tracked=[
            orphan("ConfigMap", "old-one", "shop", ann={WAVE: "1"}),
            orphan("ConfigMap", "old-five", "shop", ann={WAVE: "5"}),
        ],
        options={"prune": True},
    ),
    Case(
        "a prune wave without apply stages of its number still lands in order",
        [
            res("ConfigMap", "a", "shop", ann={WAVE: "0"}),
            res("ConfigMap", "b", "shop", ann={WAVE: "9"}),
        ],
        [
            ("Sync wave 0", [("create", "ConfigMap/shop/a")]),
            ("Sync wave 3", [("prune", "ConfigMap/shop/old")]),
            ("Sync wave 9", [("create", "ConfigMap/shop/b")]),
        ],
        tracked=[orphan("ConfigMap", "old", "shop", ann={WAVE: "3"})],
        options={"prune": True},
    ),
    Case(
        "prune last puts every prune after the last Sync wave, before PostSync",
        [
            res("ConfigMap", "a", "shop", ann={WAVE: "2"}),
            res("Job", "smoke", "shop", ann={HOOK: "PostSync"}, spec={}),
        ],
        [
            ("Sync wave 2", [("create", "ConfigMap/shop/a")]),
            ("Sync wave 6", [("prune", "ConfigMap/shop/old"), ("prune", "ConfigMap/shop/new")]),
            ("PostSync wave 0", [("hook", "Job/shop/smoke")]),
        ],
        tracked=[
            orphan("ConfigMap", "old", "shop", ann={WAVE: "5"}),
            orphan("ConfigMap", "new", "shop", ann={WAVE: "-1"}),
        ],
        options={"prune": True, "prune_last": True},
    ),
    Case(
        "the PruneLast=true sync option delays one object",
        [res("ConfigMap", "a", "shop")],
        [
            ("Sync wave 0", [("create", "ConfigMap/shop/a")]),
            ("Sync wave 0 step 1", [("prune", "ConfigMap/shop/now")]),
            ("Sync wave 1", [("prune", "ConfigMap/shop/later")]),
        ],
        tracked=[
            orphan("ConfigMap", "now", "shop"),
            orphan("ConfigMap", "later", "shop", ann={SYNC_OPTIONS: "PruneLast=true"}),
        ],
        options={"prune": True},
    ),
    Case(
        "a Skip hook is still the app's: never pruned",
        [SETTINGS, res("ConfigMap", "manual", "shop", ann={HOOK: "Skip"})],
        [("Sync wave 0", [("create", "ConfigMap/shop/settings")])],
        tracked=[orphan("ConfigMap", "manual", "shop", ann={HOOK: "Skip"})],
        options={"prune": True},
    ),
    Case(
        "SyncFail hooks come last",
        [SETTINGS, res("Job", "page", "shop", ann={HOOK: "SyncFail"}, spec={}), MIGRATE],
        [
            ("PreSync wave 0", [("hook", "Job/shop/migrate")]),
            ("Sync wave 0", [("create", "ConfigMap/shop/settings")]),
            ("SyncFail wave 0", [("hook", "Job/shop/page")]),
        ],
    ),
    Case(
        "an empty render may prune everything with allowEmpty",
        [],
        [("Sync wave 0", [("prune", "ConfigMap/shop/old")])],
        tracked=[orphan("ConfigMap", "old", "shop")],
        options={"prune": True, "allow_empty": True},
    ),
    Case(
        "an empty render with prune off plans nothing",
        [],
        [],
        tracked=[orphan("ConfigMap", "old", "shop")],
        warnings=["ConfigMap/shop/old is not in the source; turn on prune to delete it"],
    ),
    Case(
        "a partial view with prune off still plans the applies",
        [SETTINGS],
        [("Sync wave 0", [("update", "ConfigMap/shop/settings")])],
        live=[served(SETTINGS, complete=False, data={})],
    ),
    Case(
        "namespaces may exist live, be desired, or be created by the sync",
        [res("ConfigMap", "a", "live-ns"), res("Namespace", "new"), res("ConfigMap", "b", "new")],
        [
            ("Sync wave 0", [("create", "Namespace/new"), ("create", "ConfigMap/live-ns/a")]),
            ("Sync wave 0 step 1", [("create", "ConfigMap/new/b")]),
        ],
        live=[orphan("Namespace", "live-ns", app=None)],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_plan(case: Case) -> None:
    plan = plan_of(case.resources, live=case.live, tracked=case.tracked, **case.options)

    assert table(plan) == case.want
    assert list(plan.warnings) == case.warnings
    assert [k.key.display for k in plan.kept] == [display for display, _ in case.kept]
    for kept, (_, words) in zip(plan.kept, case.kept, strict=True):
        assert words in kept.reason
    assert plan.app == APP
    assert plan.revision == "abc123"


def test_update_tasks_carry_the_field_changes() -> None:
    plan = plan_of([WEB], live=[served(WEB, spec={"replicas": 2})])
    (task,) = plan.tasks()
    assert [(c.path, c.live, c.desired) for c in task.changes] == [("spec.replicas", 2, 3)]
    assert task.desired is WEB
    assert task.live is not None and task.live.manifest["spec"] == {"replicas": 2}


def test_tasks_carry_the_graphs_facts_so_the_sync_reads_no_annotation() -> None:
    hook = res(
        "Job",
        "migrate",
        "shop",
        ann={HOOK: "PreSync", "argocd.argoproj.io/hook-delete-policy": "HookFailed"},
        spec={},
    )
    graph = build_graph([NAMESPACE, SETTINGS, hook])
    plan = make_plan(
        app=APP,
        revision="abc123",
        graph=graph,
        live={},
        tracked=[orphan("ConfigMap", "old", "shop")],
        options=PlanOptions(prune=True),
    )

    for task in plan.tasks():
        if task.action is Action.PRUNE:
            assert task.facts is None
        else:
            assert task.facts is graph.facts_of(task.key)
    (migrate,) = [t for t in plan.tasks() if t.action is Action.HOOK]
    assert migrate.facts is not None
    assert migrate.facts.delete_policies == {HookDeletePolicy.HOOK_FAILED}


def test_prune_tasks_have_no_desired_and_carry_the_live_object() -> None:
    old = orphan("ConfigMap", "old", "shop")
    plan = plan_of([SETTINGS], tracked=[old], prune=True)
    prune = [t for t in plan.tasks() if t.action is Action.PRUNE]
    assert prune == [prune[0]]
    assert prune[0].desired is None
    assert prune[0].live == old


# --- refusals ---------------------------------------------------------------------------


@dataclass
class Refusal:
    reason: str
    resources: list[Resource]
    error: type[Exception]
    says: list[str]
    live: list[Live] = field(default_factory=list)
    tracked: list[Live] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    namespaces: tuple[str, ...] = ("shop",)


REFUSALS = [
    Refusal(
        "an empty render would prune everything",
        [],
        SafetyError,
        ["refusing to prune 2 objects: the render for app shop is empty", "allowEmpty"],
        tracked=[orphan("ConfigMap", "a", "shop"), orphan("Deployment", "web", "shop")],
        options={"prune": True},
    ),
    Refusal(
        "a render of hooks only is empty too",
        [MIGRATE],
        SafetyError,
        ["refusing to prune 1 objects: the render for app shop is empty"],
        tracked=[orphan("ConfigMap", "a", "shop")],
        options={"prune": True},
    ),
    Refusal(
        "a partial list of tracked objects",
        [SETTINGS],
        SafetyError,
        ["refusing to prune", "ConfigMap/shop/half-read", "partial view"],
        tracked=[orphan("ConfigMap", "half-read", "shop", complete=False)],
        options={"prune": True},
    ),
    Refusal(
        "a partial read of a desired object",
        [SETTINGS],
        SafetyError,
        ["refusing to prune", "ConfigMap/shop/settings"],
        live=[served(SETTINGS, complete=False)],
        tracked=[orphan("ConfigMap", "old", "shop")],
        options={"prune": True},
    ),
    Refusal(
        "a namespace that is neither desired nor live",
        [SETTINGS, res("ConfigMap", "other", "shop")],
        ValidationError,
        [
            "ConfigMap/shop/other (configmap.yaml:7)",
            "namespace 'shop' does not exist",
            "(and 1 more objects)",
        ],
        namespaces=(),
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.reason)
def test_unsafe_or_invalid_plans_are_refused(case: Refusal) -> None:
    with pytest.raises(case.error) as caught:
        plan_of(
            case.resources,
            live=case.live,
            tracked=case.tracked,
            namespaces=case.namespaces,
            **case.options,
        )
    for text in case.says:
        assert text in str(caught.value)


def test_missing_namespace_hint_names_both_fixes() -> None:
    with pytest.raises(ValidationError) as caught:
        plan_of([SETTINGS], namespaces=())
    assert caught.value.hint == "add a Namespace manifest or set CreateNamespace=true"


def test_create_namespace_accepts_a_missing_namespace() -> None:
    plan = plan_of([SETTINGS], namespaces=(), create_namespace=True)
    assert table(plan) == [("Sync wave 0", [("create", "ConfigMap/shop/settings")])]


# --- secrets ----------------------------------------------------------------------------

PASSWORD = "correct-horse-battery-staple"
OLD_PASSWORD = "Tr0ub4dor&3"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_secret_values_never_leave_the_plan() -> None:
    desired = res("Secret", "db", "shop", stringData={"password": PASSWORD})
    live = served(desired, data={"password": b64(OLD_PASSWORD)})
    live.manifest.pop("stringData")
    gone = orphan("Secret", "old", "shop", data={"password": b64(OLD_PASSWORD)})

    plan = plan_of([desired], live=[live], tracked=[gone], prune=True)

    assert table(plan) == [
        ("Sync wave 0", [("update", "Secret/shop/db")]),
        ("Sync wave 0 step 1", [("prune", "Secret/shop/old")]),
    ]
    update, prune = plan.tasks()
    assert update.live is not None and update.live.manifest["data"] == {"password": "***"}
    assert prune.live is not None and prune.live.manifest["data"] == {"password": "***"}
    text = format_plan(plan, verbose=True)
    assert "      stringData.password: *** -> ***" in text
    shown = [
        text,
        format_plan(plan),
        json.dumps(plan_to_dict(plan)),
        repr(plan),
        repr([t.live.manifest for t in plan.tasks() if t.live is not None]),
    ]
    for value in (PASSWORD, OLD_PASSWORD, b64(PASSWORD), b64(OLD_PASSWORD)):
        for output in shown:
            assert value not in output


# --- rendering --------------------------------------------------------------------------


def rendered_plan() -> Plan:
    web = res(
        "Deployment",
        "web",
        "shop",
        spec={
            "replicas": 3,
            "template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}},
        },
    )
    live_web = served(
        web,
        spec={
            "replicas": 10,
            "paused": False,
            "template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}},
        },
    )
    return plan_of(
        [NAMESPACE, SETTINGS, web, MIGRATE],
        live=[served(NAMESPACE), live_web],
        tracked=[
            orphan("ConfigMap", "old", "shop"),
            orphan("ConfigMap", "foreign", "shop", app="x"),
        ],
        prune=True,
    )


def test_format_plan_reads_like_terraform() -> None:
    assert format_plan(rendered_plan()) == (
        "PreSync wave 0:\n"
        "  * Job/shop/migrate (PreSync hook)\n"
        "Sync wave 0 step 1:\n"
        "  + ConfigMap/shop/settings (create)\n"
        "  ~ Deployment/shop/web\n"
        "      spec.replicas: 10 -> 3\n"
        "      spec.template.spec.containers[0].image: web:1 -> web:2\n"
        "Sync wave 0 step 2 (prune):\n"
        "  - ConfigMap/shop/old (prune)\n"
        "\n"
        "Warning: ConfigMap/shop/foreign is not in the source but its tracking id is not shop's; "
        "it is never pruned\n"
        "\n"
        "Plan: 1 to create, 1 to update, 1 to prune, 1 hook, 1 unchanged.\n"
    )


def test_format_plan_verbose_lists_unchanged_objects() -> None:
    text = format_plan(rendered_plan(), verbose=True)
    assert "Sync wave 0:\n    Namespace/shop (unchanged)\n" in text


def test_plan_lines_say_what_each_line_is() -> None:
    lines = plan_lines(rendered_plan())

    assert [(line.kind, line.action) for line in lines[:3]] == [
        (LineKind.WAVE, None),
        (LineKind.TASK, Action.HOOK),
        (LineKind.WAVE, None),
    ]
    assert lines[3].indent == "  " and lines[3].text == "+ ConfigMap/shop/settings (create)"
    assert lines[-1].kind is LineKind.SUMMARY
    assert "".join(str(line) + "\n" for line in lines) == format_plan(rendered_plan())
    assert not any("\x1b" in str(line) for line in lines)


def test_format_plan_of_nothing_is_just_the_summary() -> None:
    plan = plan_of([SETTINGS], live=[served(SETTINGS)])
    assert (
        format_plan(plan) == "Plan: 0 to create, 0 to update, 0 to prune, 0 hooks, 1 unchanged.\n"
    )


def test_long_and_odd_values_are_shown_safely() -> None:
    long = "x" * 200
    config = res(
        "ConfigMap", "c", "shop", data={"big": long, "blank": "", "when": datetime.date(2024, 5, 1)}
    )
    plan = plan_of(
        [config], live=[served(config, data={"big": "y", "blank": "z", "when": "2024-04-01"})]
    )

    text = format_plan(plan)
    assert f"data.big: y -> {'x' * 79}…\n" in text
    assert 'data.blank: z -> ""\n' in text
    assert f"data.big: y -> {long}\n" in format_plan(plan, verbose=True)
    json.dumps(plan_to_dict(plan))  # a YAML date must not break -o json


def test_plan_to_dict_has_waves_tasks_and_summary_but_no_manifests() -> None:
    data = plan_to_dict(rendered_plan())

    assert data["app"] == APP
    assert data["revision"] == "abc123"
    assert [(w["label"], w["phase"], w["wave"], w["step"]) for w in data["waves"]] == [
        ("PreSync wave 0", "PreSync", 0, 0),
        ("Sync wave 0", "Sync", 0, 0),
        ("Sync wave 0 step 1", "Sync", 0, 1),
        ("Sync wave 0 step 2 (prune)", "Sync", 0, 2),
    ]
    web = data["waves"][2]["tasks"][1]
    assert web == {
        "key": "apps/Deployment/shop/web",
        "group": "apps",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "action": "update",
        "changes": [
            {"path": "spec.replicas", "op": "replace", "live": 10, "desired": 3},
            {
                "path": "spec.template.spec.containers[0].image",
                "op": "replace",
                "live": "web:1",
                "desired": "web:2",
            },
        ],
    }
    assert data["summary"] == {"create": 1, "update": 1, "prune": 1, "hook": 1, "unchanged": 1}
    assert len(data["warnings"]) == 1
    assert "manifest" not in json.dumps(data)


# --- determinism --------------------------------------------------------------------------


def busy_app() -> tuple[list[Resource], list[Live], list[Live]]:
    resources = [
        NAMESPACE,
        SETTINGS,
        WEB,
        MIGRATE,
        res("ConfigMap", "late", "shop", ann={WAVE: "3"}),
        res("Job", "smoke", "shop", ann={HOOK: "PreSync,PostSync"}, spec={}),
        res("Secret", "db", "shop", stringData={"password": PASSWORD}),
    ]
    live = [served(NAMESPACE), served(WEB, spec={"replicas": 1}), served(SETTINGS)]
    tracked = [
        *live,
        orphan("ConfigMap", "gone", "shop", ann={WAVE: "3"}),
        orphan("Deployment", "gone", "shop"),
        orphan("ConfigMap", "foreign", "shop", app="blog"),
        orphan("Deployment", "foreign", "shop", app="blog"),
        orphan("ConfigMap", "kept", "shop", ann={SYNC_OPTIONS: "Prune=false"}),
    ]
    return resources, live, tracked


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_same_input_in_any_order_gives_a_byte_identical_plan(rnd: random.Random) -> None:
    resources, live, tracked = busy_app()
    reference = plan_of(resources, live=live, tracked=tracked, prune=True)

    for items in (resources, live, tracked):
        rnd.shuffle(items)
    plan = plan_of(resources, live=live, tracked=tracked, prune=True)

    assert plan == reference
    assert format_plan(plan, verbose=True) == format_plan(reference, verbose=True)
    assert json.dumps(plan_to_dict(plan)) == json.dumps(plan_to_dict(reference))


# --- a HelmRelease's CRDs: install.crds / upgrade.crds (model.InstallGate) ------------------

RELEASE_LABELS = {"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": "apps"}


def _gated_crd(on_install: ApplyMode, on_upgrade: ApplyMode, **body: Any) -> Resource:
    crd = res("CustomResourceDefinition", "widgets.example.com", **body)
    gate = InstallGate(
        labels=tuple(RELEASE_LABELS.items()),
        on_install=on_install,
        on_upgrade=on_upgrade,
        subject="HelmRelease/apps/web",
    )
    return replace(crd, install_gate=gate)


def _release_object(app: str = APP) -> Live:
    """A live ConfigMap of the release (its helm-controller labels), tracked by ``app``."""
    cm = res("ConfigMap", "web-settings", "apps")
    manifest = copy.deepcopy(cm.manifest)
    manifest["metadata"]["labels"] = dict(RELEASE_LABELS)
    manifest["metadata"]["annotations"] = {TRACKING: tracking_id(app, cm.key)}
    return Live(cm.key, manifest, "1")


@dataclass(frozen=True)
class GateCase:
    reason: str
    on_install: ApplyMode
    on_upgrade: ApplyMode
    crd_live: bool  # the CRD is on the target (an older version of it)
    release_of: str | None  # the app whose object of the release is live (None: none)
    want: Action | None  # the CRD's task (None: no task)
    warned: bool = False


GATE_CASES = [
    GateCase(
        "first install creates", ApplyMode.CREATE_ONLY, ApplyMode.SKIP, False, None, Action.CREATE
    ),
    GateCase(
        "install Create leaves an existing CRD",
        ApplyMode.CREATE_ONLY,
        ApplyMode.SKIP,
        True,
        None,
        Action.NONE,
        True,
    ),
    GateCase("upgrade Skip: no task", ApplyMode.CREATE_ONLY, ApplyMode.SKIP, True, APP, None, True),
    GateCase(
        "upgrade Skip creates nothing", ApplyMode.CREATE_ONLY, ApplyMode.SKIP, False, APP, None
    ),
    GateCase(
        "upgrade Create creates a new CRD",
        ApplyMode.SKIP,
        ApplyMode.CREATE_ONLY,
        False,
        APP,
        Action.CREATE,
    ),
    GateCase(
        "upgrade CreateReplace updates", ApplyMode.SKIP, ApplyMode.APPLY, True, APP, Action.UPDATE
    ),
    GateCase(
        "another app's release is not this one's install",
        ApplyMode.APPLY,
        ApplyMode.SKIP,
        True,
        "other",
        Action.UPDATE,
    ),
]


@pytest.mark.parametrize("case", GATE_CASES, ids=lambda c: c.reason)
def test_a_charts_crds_follow_the_install_and_upgrade_policies(case: GateCase) -> None:
    crd = _gated_crd(case.on_install, case.on_upgrade, spec={"group": "example.com", "v": 2})
    cm = res("ConfigMap", "web-settings", "apps")
    graph = build_graph([crd, cm])
    old = served(crd, spec={"group": "example.com", "v": 1}) if case.crd_live else None
    release = _release_object(case.release_of) if case.release_of else None
    plan = make_plan(
        app=APP,
        revision="r",
        graph=graph,
        live={crd.key: old, cm.key: release if case.release_of == APP else None},
        tracked=[release] if release is not None and case.release_of != APP else [],
        options=PlanOptions(prune=True),
        namespaces_live=["apps"],
    )
    tasks = {t.key: t.action for t in plan.tasks()}
    assert tasks.get(crd.key) == case.want
    assert any("widgets.example.com differs from the chart" in w for w in plan.warnings) is (
        case.warned
    )
    assert not any(t.action is Action.PRUNE for t in plan.tasks()), "a skipped CRD is never pruned"
