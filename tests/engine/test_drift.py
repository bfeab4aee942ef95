"""Drift: field paths and pointers, who owns a drifted field (read from the
managedFields a real sandbox writes), and the drift-loop guard with a clock
moved by hand."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.engine import operations
from gitwave.engine.apps import load_apps
from gitwave.engine.drift import (
    DriftedField,
    LoopGuard,
    drifted_fields,
    field_managers,
    json_pointer,
)
from gitwave.engine.fieldpath import format_path, parse_diff_path
from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.router import ProviderRouter
from gitwave.providers.sandbox import SandboxProvider

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
UI = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")
CONFIG = ResourceKey("", "ConfigMap", "guestbook", "guestbook-ui-config")


# --- paths ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathCase:
    reason: str
    segments: tuple[str | int, ...]
    pointer: str


PATH_CASES = [
    PathCase("a plain field", ("spec", "replicas"), "/spec/replicas"),
    PathCase(
        "a list index",
        ("spec", "template", "spec", "containers", 0, "image"),
        "/spec/template/spec/containers/0/image",
    ),
    PathCase(
        "a key with dots and a slash is quoted, and escaped in the pointer",
        ("metadata", "labels", "app.kubernetes.io/name"),
        "/metadata/labels/app.kubernetes.io~1name",
    ),
    PathCase("a tilde is escaped first", ("data", "a~b"), "/data/a~0b"),
    PathCase("a quote inside a quoted key", ("data", 'say "hi"'), '/data/say "hi"'),
]


@pytest.mark.parametrize("case", PATH_CASES, ids=lambda c: c.reason)
def test_diff_paths_parse_back_and_become_json_pointers(case: PathCase) -> None:
    text = format_path(case.segments)

    assert parse_diff_path(text) == case.segments
    assert json_pointer(text) == case.pointer


@pytest.mark.parametrize("text", ["spec..replicas", "spec[x]", "[0", 'data["open'])
def test_text_that_is_no_path_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a field path"):
        parse_diff_path(text)


# --- managers ---------------------------------------------------------------------------


def _entry(manager: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"manager": manager, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields}


@dataclass(frozen=True)
class ManagerCase:
    reason: str
    entries: list[dict[str, Any]]
    path: str
    want: tuple[str, ...]


MANAGER_CASES = [
    ManagerCase(
        "the manager owning the leaf",
        [
            _entry("gitwave", {"f:spec": {"f:template": {}}}),
            _entry("kubectl", {"f:spec": {"f:replicas": {}}}),
        ],
        "spec.replicas",
        ("kubectl",),
    ),
    ManagerCase(
        "a list is owned whole: its owner owns every index",
        [_entry("gitwave", {"f:spec": {"f:containers": {}}})],
        "spec.containers[0].image",
        ("gitwave",),
    ),
    ManagerCase(
        "a list item (k:) is found by its merge key; owning the item is not owning its fields",
        [
            _entry("gitwave", {"f:spec": {"f:containers": {'k:{"name":"a"}': {".": {}}}}}),
            _entry(
                "kubectl-edit",
                {"f:spec": {"f:containers": {'k:{"name":"a"}': {"f:image": {}}}}},
            ),
        ],
        "spec.containers[0].image",
        ("kubectl-edit",),
    ),
    ManagerCase(
        "owning a map ('.') is not owning a key someone else added to it",
        [
            _entry("helm", {"f:data": {".": {}, "f:a": {}}}),
            _entry("kubectl", {"f:data": {"f:b": {}}}),
        ],
        "data.b",
        ("kubectl",),
    ),
    ManagerCase(
        "an empty entry (an atomic map) owns everything below it",
        [_entry("helm", {"f:data": {}})],
        "data.b",
        ("helm",),
    ),
    ManagerCase(
        "two managers, in entry order",
        [
            _entry("gitwave", {"f:spec": {"f:replicas": {}}}),
            _entry("hpa", {"f:spec": {"f:replicas": {}}}),
        ],
        "spec.replicas",
        ("gitwave", "hpa"),
    ),
    ManagerCase("nobody owns it", [_entry("gitwave", {"f:data": {"f:a": {}}})], "data.b", ()),
    ManagerCase("no managedFields at all", [], "spec.replicas", ()),
]


@pytest.mark.parametrize("case", MANAGER_CASES, ids=lambda c: c.reason)
def test_field_managers_read_fields_v1(case: ManagerCase) -> None:
    manifest = {
        "metadata": {"name": "x", "managedFields": case.entries},
        "spec": {"containers": [{"name": "a", "image": "web:2"}]},
    }

    assert field_managers(manifest, case.path) == case.want


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProvider]:
    with SandboxProvider(tmp_path / "sandbox", rollout_seconds=0) as provider:
        yield provider


def test_a_scale_by_kubectl_is_drift_named_after_kubectl(
    sandbox: SandboxProvider, tmp_path: Path
) -> None:
    shutil.copytree(SAMPLES / "guestbook", tmp_path / "guestbook")
    _, (app,) = load_apps(str(tmp_path / "guestbook"))
    targets = ProviderRouter([sandbox])
    sync_app(app, targets=targets, store=None)
    sandbox.scale(UI, 7)  # what `gitwave sandbox scale` and `kubectl scale` do
    live = sandbox.observe(UI)
    assert live is not None

    plan = operations.plan(app, targets=targets, request=SyncRequest()).plan

    assert field_managers(live.manifest, "spec.replicas") == ("kubectl",)
    assert drifted_fields(plan) == (DriftedField(UI, "spec.replicas", 7, 3, ("kubectl",)),)
    assert drifted_fields(plan)[0].describe == (
        "Deployment/guestbook/guestbook-ui spec.replicas: 7 → 3 (by kubectl)"
    )


def test_an_object_deleted_live_is_drift_with_no_path(
    sandbox: SandboxProvider, tmp_path: Path
) -> None:
    shutil.copytree(SAMPLES / "guestbook", tmp_path / "guestbook")
    _, (app,) = load_apps(str(tmp_path / "guestbook"))
    targets = ProviderRouter([sandbox])
    sync_app(app, targets=targets, store=None)
    sandbox.delete(CONFIG)

    plan = operations.plan(app, targets=targets, request=SyncRequest()).plan

    assert drifted_fields(plan) == (DriftedField(CONFIG, ""),)
    assert (
        drifted_fields(plan)[0].describe == "ConfigMap/guestbook/guestbook-ui-config: deleted live"
    )


# --- the drift-loop guard ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


REPLICAS = DriftedField(UI, "spec.replicas", 10, 3, ("kubectl",))
IMAGE = DriftedField(UI, "spec.template.spec.containers[0].image", "b", "a", ("kubectl-edit",))
OTHER_APP = "shop"


@dataclass(frozen=True)
class Step:
    at: float  # seconds after the start
    drift: DriftedField
    app: str = "guestbook"
    heals: bool = True  # what the guard should answer: may this drift be healed?


@dataclass(frozen=True)
class GuardCase:
    reason: str
    steps: list[Step]
    limit: int = 3
    window_s: float = 300.0
    loop_managers: tuple[str, ...] = ("gitwave", "kubectl")
    resets: list[float] = field(default_factory=list)  # times of a new revision


GUARD_CASES = [
    GuardCase(
        "three heals within the window, then the fourth drift is left alone",
        [
            Step(0, REPLICAS),
            Step(10, REPLICAS),
            Step(20, REPLICAS),
            Step(30, REPLICAS, heals=False),
        ],
    ),
    GuardCase(
        "heals spread wider than the window never make a loop",
        [Step(0, REPLICAS), Step(200, REPLICAS), Step(400, REPLICAS), Step(600, REPLICAS)],
    ),
    GuardCase(
        "a paused field is healed again once its oldest heal leaves the window",
        [
            Step(0, REPLICAS),
            Step(10, REPLICAS),
            Step(20, REPLICAS),
            Step(299, REPLICAS, heals=False),
            Step(301, REPLICAS),
            Step(302, REPLICAS, heals=False),
        ],
    ),
    GuardCase(
        "fields are counted apart: a loop on replicas leaves the image healable",
        [
            Step(0, REPLICAS),
            Step(1, REPLICAS),
            Step(2, REPLICAS),
            Step(3, IMAGE),
            Step(4, REPLICAS, heals=False),
            Step(5, IMAGE),
        ],
    ),
    GuardCase(
        "apps are counted apart",
        [Step(0, REPLICAS), Step(1, REPLICAS), Step(2, REPLICAS, app=OTHER_APP), Step(3, REPLICAS)],
    ),
    GuardCase(
        "a limit of one pauses after the first heal",
        [Step(0, REPLICAS), Step(1, REPLICAS, heals=False)],
        limit=1,
    ),
    GuardCase(
        "a new revision forgets the heals",
        [Step(0, REPLICAS), Step(1, REPLICAS), Step(2, REPLICAS), Step(4, REPLICAS)],
        resets=[3],
    ),
]


@pytest.mark.parametrize("case", GUARD_CASES, ids=lambda c: c.reason)
def test_loop_guard_pauses_healing_of_a_field_fought_over(case: GuardCase) -> None:
    clock = Clock()
    start = clock.now
    guard = LoopGuard(limit=case.limit, window_s=case.window_s, clock=clock)
    answers = []
    resets = sorted(case.resets)
    for step in case.steps:
        while resets and resets[0] <= step.at:
            guard.reset("guestbook")
            resets.pop(0)
        clock.now = start + step.at
        healable, loops = guard.split(step.app, [step.drift])
        answers.append(bool(healable))
        if healable:
            guard.record_heal(step.app, step.drift)
        else:
            (loop,) = loops
            assert loop.managers == case.loop_managers
            assert loop.heals == case.limit
            assert loop.until > clock.now

    assert answers == [step.heals for step in case.steps]


def test_a_drift_loop_names_both_managers_and_offers_the_ignore_rule() -> None:
    clock = Clock()
    guard = LoopGuard(limit=3, window_s=300, clock=clock)
    for _ in range(3):
        guard.record_heal("guestbook", REPLICAS)
        clock.now += 5

    loop = guard.loop("guestbook", REPLICAS)

    assert loop is not None
    assert "healed 3 times in 5m" in loop.message
    assert "managers gitwave vs kubectl" in loop.message
    assert yaml.safe_load(loop.ignore_rule) == {
        "ignoreDifferences": [
            {
                "group": "apps",
                "kind": "Deployment",
                "name": "guestbook-ui",
                "namespace": "guestbook",
                "jsonPointers": ["/spec/replicas"],
            }
        ]
    }
    assert loop.until == 1000.0 + 300


def test_a_heal_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LoopGuard(limit=0)
