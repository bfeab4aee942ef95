"""The sync executor against the embedded sandbox: waves, hooks, prune, safety.

Every test builds its plan through the real pipeline — YAML files in a
directory (tests/testdata/sync/), ``load_apps`` → ``render_app`` →
``build_graph`` → ``make_plan`` — and runs ``execute`` against a real
``SandboxProvider`` whose simulated controllers settle in 50 ms.
"""

from __future__ import annotations

import base64
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitwave.engine.apps import load_apps, render_app
from gitwave.engine.errors import SafetyError, ValidationError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.graph import build_graph
from gitwave.engine.model import (
    ANNOTATION_TRACKING_ID,
    LABEL_APP,
    Action,
    ChangeAction,
    ChangeSetEntry,
    FieldChange,
    FieldOp,
    Health,
    HealthCode,
    Live,
    Plan,
    Propagation,
    Resource,
    ResourceKey,
    tracking_id,
)
from gitwave.engine.plan import PlanOptions, make_plan
from gitwave.engine.plan_report import format_plan
from gitwave.engine.router import ProviderRouter, observe_all
from gitwave.engine.sync import SyncOptions, SyncPhase, SyncResult, execute
from gitwave.providers.sandbox import SandboxProvider

TESTDATA = Path(__file__).parent.parent / "testdata" / "sync"
SECRET_VALUE = "correct-horse-battery-staple-4417"  # the password in parts/db-credentials.yaml


def key(kind: str, namespace: str, name: str) -> ResourceKey:
    group = {"Deployment": "apps", "ReplicaSet": "apps", "Job": "batch"}.get(kind, "")
    return ResourceKey(group, kind, namespace, name)


NS_SHOP = key("Namespace", "", "shop")
SETTINGS = key("ConfigMap", "shop", "settings")
API = key("Deployment", "shop", "api")
API_SVC = key("Service", "shop", "api")
AFTER_API = key("ConfigMap", "shop", "after-api")
APP_CONFIG = key("ConfigMap", "default", "app-config")
WEB = key("Deployment", "default", "web")
MIGRATE = key("Job", "default", "migrate")
NOTIFY = key("Job", "default", "notify-failure")
FRONTEND = key("ConfigMap", "default", "frontend")
CACHE = key("ConfigMap", "default", "cache")
WORKER = key("Deployment", "default", "worker")
REPORTS = key("ConfigMap", "default", "reports")
DB_SECRET = key("Secret", "default", "db-credentials")


# --- harness --------------------------------------------------------------------------


@dataclass
class Repo:
    """An app directory in tmp_path, made from fixture files."""

    path: Path

    def add(
        self, part: str, *, name: str | None = None, replace: dict[str, str] | None = None
    ) -> None:
        """Copy ``tests/testdata/sync/<part>`` in (as ``name``), with text replaced."""
        text = (TESTDATA / part).read_text()
        for old, new in (replace or {}).items():
            assert old in text, f"{old!r} not in {part}"
            text = text.replace(old, new)
        (self.path / (name or Path(part).name)).write_text(text)

    def remove(self, name: str) -> None:
        (self.path / name).unlink()


def make_repo(tmp_path: Path, scenario: str | None, *parts: str) -> Repo:
    path = tmp_path / "app"
    if scenario is None:
        path.mkdir()
    else:
        shutil.copytree(TESTDATA / scenario, path)
    repo = Repo(path)
    for part in parts:
        repo.add(part)
    return repo


@dataclass
class World:
    """A sandbox, the targets over it, and every event a sync emitted."""

    sandbox: SandboxProvider
    events: list[Event] = field(default_factory=list)

    @property
    def targets(self) -> ProviderRouter:
        return ProviderRouter([self.sandbox])

    def plan(self, repo: Repo, **options: bool) -> Plan:
        """The plan the pipeline makes for ``repo`` against the sandbox now."""
        _, apps = load_apps(str(repo.path))
        (app,) = apps
        rendered = render_app(app)
        graph = build_graph(rendered.resources)
        live = observe_all(graph.resources.values(), self.targets)
        return make_plan(
            app=app.name,
            revision=rendered.revision,
            graph=graph,
            live=live,
            tracked=self.targets.list_tracked(app.name),
            options=PlanOptions(**options),  # type: ignore[arg-type]
            namespaces_live=self.sandbox.namespaces(),
        )

    def sync(self, plan: Plan, **options: object) -> SyncResult:
        settings: dict[str, object] = {"max_poll_interval_s": 0.02, "wave_timeout_s": 10.0}
        settings.update(options)
        return execute(
            plan,
            targets=self.targets,
            options=SyncOptions(**settings),  # type: ignore[arg-type]
            sink=self.events.append,
        )

    def live(self, k: ResourceKey) -> Live | None:
        return self.sandbox.observe(k)

    def versions(self) -> dict[ResourceKey, str]:
        """The resource version of every object in the sandbox."""
        return {live.key: live.resource_version for live in self.sandbox.list()}

    def times(self, kind: EventKind, k: ResourceKey, message: str = "") -> list[float]:
        return [
            e.time
            for e in self.events
            if e.kind is kind and e.resource == k and e.message.startswith(message)
        ]

    def when(self, kind: EventKind, k: ResourceKey, message: str = "") -> float:
        found = self.times(kind, k, message)
        assert found, f"no {kind.value} event for {k.display} ({message!r})"
        return found[0]

    def index(self, kind: EventKind, k: ResourceKey, message: str = "") -> int:
        for i, e in enumerate(self.events):
            if e.kind is kind and e.resource == k and e.message.startswith(message):
                return i
        raise AssertionError(f"no {kind.value} event for {k.display} ({message!r})")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with SandboxProvider(tmp_path / "sandbox", rollout_seconds=0.05) as sandbox:
        yield World(sandbox)


def entry_of(result: SyncResult, k: ResourceKey) -> ChangeSetEntry:
    (entry,) = [e for e in result.changeset.entries if e.key == k]
    return entry


def actions(result: SyncResult) -> dict[ResourceKey, ChangeAction]:
    return {e.key: e.action for e in result.changeset.entries}


# --- waves ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WaveCase:
    reason: str
    scenario: str
    parts: tuple[str, ...]
    waves: tuple[frozenset[ResourceKey], ...]  # what each wave creates, in run order


WAVE_CASES = [
    WaveCase(
        "wave -1, then wave 0, then wave 1",
        "waves",
        (),
        (
            frozenset({NS_SHOP, SETTINGS}),
            frozenset({API, API_SVC}),
            frozenset({AFTER_API}),
        ),
    ),
    WaveCase(
        "PreSync hooks before the Sync phase",
        "hooks",
        (),
        (
            frozenset({MIGRATE}),
            frozenset({APP_CONFIG, WEB}),
        ),
    ),
]


@pytest.mark.parametrize("case", WAVE_CASES, ids=lambda c: c.reason)
def test_waves_are_created_in_order(world: World, tmp_path: Path, case: WaveCase) -> None:
    repo = make_repo(tmp_path, case.scenario, *case.parts)

    result = world.sync(world.plan(repo))

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    # The sandbox numbers every write: creation versions follow the wave order.
    created = {
        e.key: int(e.live.resource_version)
        for e in result.changeset.entries
        if e.action is ChangeAction.CREATED and e.live is not None
    }
    for earlier, later in zip(case.waves, case.waves[1:], strict=False):
        assert max(created[k] for k in earlier) < min(created[k] for k in later)
        # ... and so do the events a user watches.
        first_later = min(
            world.index(EventKind.RESOURCE_APPLIED, k)
            if k.kind != "Job"
            else world.index(EventKind.HOOK_STARTED, k)
            for k in later
        )
        for k in earlier:
            kind = EventKind.HOOK_STARTED if k.kind == "Job" else EventKind.RESOURCE_APPLIED
            assert world.index(kind, k) < first_later


def test_next_wave_starts_only_once_the_previous_one_is_healthy(tmp_path: Path) -> None:
    rollout = 0.3
    with SandboxProvider(tmp_path / "sandbox", rollout_seconds=rollout) as sandbox:
        world = World(sandbox)
        repo = make_repo(tmp_path, "waves")

        result = world.sync(world.plan(repo))

        assert result.phase is SyncPhase.SUCCEEDED, result.message
        api_applied = world.when(EventKind.RESOURCE_APPLIED, API)
        api_healthy = world.when(EventKind.HEALTH_CHANGED, API, "Healthy")
        wave1_applied = world.when(EventKind.RESOURCE_APPLIED, AFTER_API)
        assert api_healthy - api_applied >= rollout - 0.05
        assert api_applied < api_healthy <= wave1_applied
        # While it waited, it said what it waited for.
        waiting = [e for e in world.events if e.kind is EventKind.WAITING and e.resource == API]
        assert waiting and "Progressing" in waiting[0].message
        # The Deployment's settled status was written before the wave-1 object existed.
        api, after = world.live(API), world.live(AFTER_API)
        assert api is not None and after is not None
        assert int(api.resource_version) < int(after.resource_version)
        assert api.manifest["status"]["readyReplicas"] == 2


class MeteredSandbox:
    """The sandbox, with each apply held open for a moment and the number of
    applies in flight at once recorded (to see the executor's parallelism)."""

    def __init__(self, sandbox: SandboxProvider, hold_s: float) -> None:
        self.sandbox = sandbox
        self.name = sandbox.name
        self.hold_s = hold_s
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def handles(self, api_version: str, kind: str) -> bool:
        return self.sandbox.handles(api_version, kind)

    def observe(self, k: ResourceKey) -> Live | None:
        return self.sandbox.observe(k)

    def apply(self, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.hold_s)
            return self.sandbox.apply(resource, dry_run=dry_run)
        finally:
            with self._lock:
                self.in_flight -= 1

    def delete(
        self, k: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        return self.sandbox.delete(k, propagation=propagation)

    def health(self, live: Live) -> Health:
        return self.sandbox.health(live)

    def list_tracked(self, app: str) -> Sequence[Live]:
        return self.sandbox.list_tracked(app)


@dataclass(frozen=True)
class ParallelCase:
    reason: str
    objects: int
    parallelism: int
    most_in_flight: int


PARALLEL_CASES = [
    ParallelCase("parallelism 1 applies one object at a time", 4, 1, 1),
    ParallelCase("parallelism 3 applies three at a time, never more", 7, 3, 3),
    ParallelCase("a wave smaller than the pool applies all at once", 4, 8, 4),
]


@pytest.mark.parametrize("case", PARALLEL_CASES, ids=lambda c: c.reason)
def test_objects_of_one_wave_apply_in_parallel_up_to_the_limit(
    world: World, tmp_path: Path, case: ParallelCase
) -> None:
    repo = make_repo(tmp_path, None)
    for i in range(case.objects):
        repo.add("prune/cache.yaml", name=f"cache-{i}.yaml", replace={"name: cache": f"name: c{i}"})
    plan = world.plan(repo)
    metered = MeteredSandbox(world.sandbox, hold_s=0.05)

    result = execute(
        plan,
        targets=ProviderRouter([metered]),
        options=SyncOptions(parallelism=case.parallelism, max_poll_interval_s=0.02),
    )

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert metered.most_in_flight == case.most_in_flight
    assert sum(1 for a in actions(result).values() if a is ChangeAction.CREATED) == case.objects


# --- hooks ---------------------------------------------------------------------------


def test_presync_runs_before_the_sync_objects_and_postsync_after_they_are_healthy(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, "hooks")

    result = world.sync(world.plan(repo))

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    (smoke,) = [k for k in result.hooks_run if k.name.startswith("smoke-")]
    assert world.when(EventKind.HOOK_FINISHED, MIGRATE, "succeeded") < world.when(
        EventKind.RESOURCE_APPLIED, APP_CONFIG
    )
    assert world.when(EventKind.HEALTH_CHANGED, WEB, "Healthy") <= world.when(
        EventKind.HOOK_STARTED, smoke
    )
    assert set(result.hooks_run) == {MIGRATE, smoke}  # the SyncFail hook did not run


@dataclass(frozen=True)
class PolicyCase:
    reason: str
    part: str
    replace: tuple[tuple[str, str], ...]
    phase: SyncPhase
    kept: bool  # the hook Job is still there after the sync


POLICY_CASES = [
    PolicyCase(
        "BeforeHookCreation (the default) keeps the hook until the next sync",
        "hooks/migrate.yaml",
        (),
        SyncPhase.SUCCEEDED,
        kept=True,
    ),
    PolicyCase(
        "HookSucceeded deletes a hook that succeeded",
        "hooks/migrate.yaml",
        (
            (
                "hook: PreSync",
                "hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: HookSucceeded",
            ),
        ),
        SyncPhase.SUCCEEDED,
        kept=False,
    ),
    PolicyCase(
        "HookSucceeded keeps a hook that failed, for its logs",
        "parts/failing-presync-hook.yaml",
        (("HookFailed", "HookSucceeded"),),
        SyncPhase.FAILED,
        kept=True,
    ),
    PolicyCase(
        "HookFailed deletes a hook that failed, and the sync fails",
        "parts/failing-presync-hook.yaml",
        (),
        SyncPhase.FAILED,
        kept=False,
    ),
    PolicyCase(
        "HookFailed keeps a hook that succeeded",
        "parts/failing-presync-hook.yaml",
        (('fail: "true"', 'fail: "false"'),),
        SyncPhase.SUCCEEDED,
        kept=True,
    ),
]


@pytest.mark.parametrize("case", POLICY_CASES, ids=lambda c: c.reason)
def test_hook_delete_policies(world: World, tmp_path: Path, case: PolicyCase) -> None:
    repo = make_repo(tmp_path, None, "hooks/app-config.yaml")
    repo.add(case.part, name="hook.yaml", replace=dict(case.replace))

    result = world.sync(world.plan(repo))

    assert result.phase is case.phase, result.message
    (hook,) = result.hooks_run
    assert (world.live(hook) is not None) is case.kept
    # A deleted hook takes its pod with it.
    pods = [p for p in world.sandbox.list(kind="Pod") if p.key.name.startswith(hook.name)]
    assert bool(pods) is case.kept
    if case.phase is SyncPhase.FAILED:
        assert f"{hook.display} is Degraded" in result.message
        assert entry_of(result, hook).action is ChangeAction.FAILED
        assert world.live(APP_CONFIG) is None  # the Sync phase never started


def test_before_hook_creation_recreates_the_hook_on_every_sync(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, None, "hooks/app-config.yaml", "hooks/migrate.yaml")
    world.sync(world.plan(repo))
    first = world.live(MIGRATE)
    assert first is not None

    second_plan = world.plan(repo)
    result = world.sync(second_plan)

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert not second_plan.has_changes  # a hook alone is not a change ...
    again = world.live(MIGRATE)
    assert again is not None  # ... yet it ran again, as a new object
    assert again.manifest["metadata"]["uid"] != first.manifest["metadata"]["uid"]
    assert again.manifest["status"]["succeeded"] == 1
    pods = [p.key.name for p in world.sandbox.list(kind="Pod") if p.key.name.startswith("migrate-")]
    assert len(pods) == 1  # the first run's pod went with the first Job


def test_generate_name_hooks_get_a_new_concrete_name_every_sync(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, None, "hooks/app-config.yaml", "parts/generated-presync-hook.yaml")

    names = []
    for _ in range(3):
        result = world.sync(world.plan(repo))
        assert result.phase is SyncPhase.SUCCEEDED, result.message
        (hook,) = result.hooks_run
        names.append(hook.name)

    assert len(set(names)) == 3
    for name in names:
        assert name.startswith("backup-") and len(name) == len("backup-") + 5
        live = world.live(key("Job", "default", name))
        assert live is not None and live.manifest["status"]["succeeded"] == 1


@dataclass(frozen=True)
class SyncFailCase:
    reason: str
    replace_web: str | None  # a part that replaces hooks/web.yaml
    extra: tuple[str, ...]
    phase: SyncPhase
    sync_fail_ran: bool


SYNC_FAIL_CASES = [
    SyncFailCase(
        "a sync that succeeds never runs SyncFail hooks", None, (), SyncPhase.SUCCEEDED, False
    ),
    SyncFailCase(
        "a Degraded Deployment runs the SyncFail hooks",
        "parts/failing-web.yaml",
        (),
        SyncPhase.FAILED,
        True,
    ),
    SyncFailCase(
        "a failed PreSync hook runs the SyncFail hooks",
        None,
        ("parts/failing-presync-hook.yaml",),
        SyncPhase.FAILED,
        True,
    ),
]


@pytest.mark.parametrize("case", SYNC_FAIL_CASES, ids=lambda c: c.reason)
def test_sync_fail_hooks_run_only_when_the_sync_fails(
    world: World, tmp_path: Path, case: SyncFailCase
) -> None:
    repo = make_repo(tmp_path, "hooks", *case.extra)
    if case.replace_web:
        repo.add(case.replace_web, name="web.yaml")

    result = world.sync(world.plan(repo))

    assert result.phase is case.phase, result.message
    assert (NOTIFY in result.hooks_run) is case.sync_fail_ran
    notify = world.live(NOTIFY)
    assert (notify is not None) is case.sync_fail_ran
    if notify is not None:
        assert notify.manifest["status"]["succeeded"] == 1  # it ran to the end
    ran_post_sync = any(k.name.startswith("smoke-") for k in result.hooks_run)
    assert ran_post_sync is (case.phase is SyncPhase.SUCCEEDED)


def test_hooks_are_never_pruned(world: World, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, None, "hooks/app-config.yaml", "hooks/migrate.yaml")
    repo.add("parts/generated-presync-hook.yaml")
    first = world.sync(world.plan(repo))
    assert first.phase is SyncPhase.SUCCEEDED, first.message
    hooks = list(first.hooks_run)
    repo.remove("migrate.yaml")
    repo.remove("generated-presync-hook.yaml")

    plan = world.plan(repo, prune=True)
    result = world.sync(plan)

    assert plan.counts()[Action.PRUNE] == 0
    assert result.phase is SyncPhase.SUCCEEDED, result.message
    for hook in hooks:
        assert world.live(hook) is not None


# --- a failed wave stops the sync ------------------------------------------------------


@dataclass(frozen=True)
class StopCase:
    reason: str
    rollout_s: float
    failing: bool
    wave_timeout_s: float
    message: tuple[str, ...]  # fragments the result's message holds


STOP_CASES = [
    StopCase(
        "a Degraded Deployment stops the sync: wave 1 is never applied",
        0.05,
        True,
        10.0,
        ("Deployment/shop/api is Degraded", "timed out progressing"),
    ),
    StopCase(
        "a wave that times out says which object blocked it, and why",
        30.0,
        False,
        0.3,
        (
            "Sync wave 0 timed out after 0.3s",
            "waiting for Deployment/shop/api: Progressing",
            "0 of 2 new replicas",
        ),
    ),
]


@pytest.mark.parametrize("case", STOP_CASES, ids=lambda c: c.reason)
def test_a_blocked_wave_stops_the_sync_and_names_the_resource(
    tmp_path: Path, case: StopCase
) -> None:
    with SandboxProvider(tmp_path / "sandbox", rollout_seconds=case.rollout_s) as sandbox:
        world = World(sandbox)
        repo = make_repo(tmp_path, "waves")
        if case.failing:
            repo.add("parts/failing-api.yaml", name="api.yaml")

        started = time.monotonic()
        result = world.sync(world.plan(repo), wave_timeout_s=case.wave_timeout_s)

        assert time.monotonic() - started < case.wave_timeout_s + 2
        assert result.phase is SyncPhase.FAILED
        for fragment in case.message:
            assert fragment in result.message
        assert [e.key for e in result.changeset.failed] == [API]
        assert world.live(AFTER_API) is None
        assert AFTER_API not in actions(result)
        finished = [e for e in world.events if e.kind is EventKind.SYNC_FINISHED]
        assert finished[-1].message.startswith("Failed: ")


# --- prune -------------------------------------------------------------------------


def test_removing_a_file_prunes_exactly_that_object_and_what_it_owns(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, "prune")
    world.sync(world.plan(repo))
    owned = [
        live.key
        for live in world.sandbox.list(namespace="default")
        if live.key.kind in ("ReplicaSet", "Pod")
    ]
    assert len(owned) == 3  # one ReplicaSet, two Pods
    repo.remove("worker.yaml")

    plan = world.plan(repo, prune=True)
    result = world.sync(plan)

    assert [t.key for t in plan.tasks() if t.action is Action.PRUNE] == [WORKER]
    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert actions(result)[WORKER] is ChangeAction.DELETED
    assert world.live(WORKER) is None
    assert all(world.live(k) is None for k in owned)  # foreground propagation
    for k in (FRONTEND, CACHE, REPORTS):
        assert world.live(k) is not None
    assert world.times(EventKind.RESOURCE_PRUNED, WORKER)


@dataclass(frozen=True)
class PruneOrderCase:
    reason: str
    prune_last: bool
    live_option: bool  # PruneLast=true written on the live object instead
    pruned_after_wave_1: bool


PRUNE_ORDER_CASES = [
    PruneOrderCase("a wave-0 object is pruned after wave 0, before wave 1", False, False, False),
    PruneOrderCase("PruneLast (app option) prunes after the last wave", True, False, True),
    PruneOrderCase("PruneLast=true on the object prunes it after the last wave", False, True, True),
]


PRUNE_LAST_OPTION = "  annotations:\n    argocd.argoproj.io/sync-options: PruneLast=true\n"


@pytest.mark.parametrize("case", PRUNE_ORDER_CASES, ids=lambda c: c.reason)
def test_prune_order(world: World, tmp_path: Path, case: PruneOrderCase) -> None:
    repo = make_repo(tmp_path, "prune")
    repo.remove("reports.yaml")  # the wave-1 object is new in the second sync
    if case.live_option:
        repo.add(
            "prune/cache.yaml",
            replace={"namespace: default\n": f"namespace: default\n{PRUNE_LAST_OPTION}"},
        )
    world.sync(world.plan(repo))
    repo.remove("cache.yaml")
    repo.add("prune/reports.yaml")

    result = world.sync(world.plan(repo, prune=True, prune_last=case.prune_last))

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    pruned = world.index(EventKind.RESOURCE_PRUNED, CACHE)
    applied = world.index(EventKind.RESOURCE_APPLIED, REPORTS)
    assert (pruned > applied) is case.pruned_after_wave_1
    assert world.live(CACHE) is None


@dataclass(frozen=True)
class OwnerCase:
    reason: str
    tracking: str | None  # the tracking id written on the live object; None removes it
    warning: str


OWNER_CASES = [
    OwnerCase(
        "an object carrying another app's tracking id is never pruned",
        tracking_id("billing", CACHE),
        "its tracking id is not app's",
    ),
    OwnerCase(
        "an object without a tracking id is never pruned", None, "its tracking id is not app's"
    ),
]


@pytest.mark.parametrize("case", OWNER_CASES, ids=lambda c: c.reason)
def test_objects_this_app_does_not_own_are_never_pruned(
    world: World, tmp_path: Path, case: OwnerCase
) -> None:
    repo = make_repo(tmp_path, "prune")
    world.sync(world.plan(repo))
    live = world.live(CACHE)
    assert live is not None
    edited = {k: v for k, v in live.manifest.items() if k != "status"}
    annotations = dict(edited["metadata"].get("annotations") or {})
    annotations.pop(ANNOTATION_TRACKING_ID)
    if case.tracking is not None:
        annotations[ANNOTATION_TRACKING_ID] = case.tracking
    edited["metadata"] = {**edited["metadata"], "annotations": annotations}
    world.sandbox.replace_live(CACHE, edited)  # still labelled as this app's
    assert CACHE in {t.key for t in world.targets.list_tracked("app")}
    repo.remove("cache.yaml")

    plan = world.plan(repo, prune=True)
    result = world.sync(plan)

    assert plan.counts()[Action.PRUNE] == 0
    assert any(w.startswith("ConfigMap/default/cache") and case.warning in w for w in plan.warnings)
    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert world.live(CACHE) is not None


def test_an_object_adopted_by_another_app_after_planning_is_left_alone(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, "prune")
    world.sync(world.plan(repo))
    repo.remove("cache.yaml")
    plan = world.plan(repo, prune=True)
    assert [t.key for t in plan.tasks() if t.action is Action.PRUNE] == [CACHE]
    live = world.live(CACHE)
    assert live is not None
    adopted = {k: v for k, v in live.manifest.items() if k != "status"}
    annotations = {**adopted["metadata"]["annotations"], ANNOTATION_TRACKING_ID: "billing:x"}
    adopted["metadata"] = {**adopted["metadata"], "annotations": annotations}
    world.sandbox.replace_live(CACHE, adopted)

    result = world.sync(plan)

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert actions(result)[CACHE] is ChangeAction.SKIPPED
    assert world.live(CACHE) is not None


def test_an_empty_render_with_prune_is_refused_unless_allow_empty(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, "prune")
    world.sync(world.plan(repo))
    before = world.versions()
    for name in ("frontend.yaml", "cache.yaml", "worker.yaml", "reports.yaml"):
        repo.remove(name)

    with pytest.raises(SafetyError, match="render for app app is empty"):
        world.plan(repo, prune=True)
    assert world.versions() == before  # nothing deleted

    emptied = world.sync(world.plan(repo, prune=True, allow_empty=True))
    assert emptied.phase is SyncPhase.SUCCEEDED, emptied.message
    assert world.targets.list_tracked("app") == []


@dataclass(frozen=True)
class DryRunCase:
    reason: str
    first_sync: bool  # sync once for real before the dry run
    edit: tuple[str, ...]  # files removed before the dry run
    want: dict[ResourceKey, ChangeAction]


DRY_RUN_CASES = [
    DryRunCase(
        "a first sync as a dry run, namespace from the repo included",
        False,
        (),
        {NS_SHOP: ChangeAction.CREATED, SETTINGS: ChangeAction.CREATED, API: ChangeAction.CREATED},
    ),
    DryRunCase(
        "a dry run of a prune deletes nothing",
        True,
        ("after-api.yaml",),
        {AFTER_API: ChangeAction.DELETED, API: ChangeAction.UNCHANGED},
    ),
]


@pytest.mark.parametrize("case", DRY_RUN_CASES, ids=lambda c: c.reason)
def test_a_dry_run_changes_nothing(world: World, tmp_path: Path, case: DryRunCase) -> None:
    repo = make_repo(tmp_path, "waves")
    if case.first_sync:
        world.sync(world.plan(repo))
    for name in case.edit:
        repo.remove(name)
    before = world.versions()

    result = world.sync(world.plan(repo, prune=True), dry_run=True)

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert result.dry_run
    got = actions(result)
    for k, action in case.want.items():
        assert got[k] is action
    assert world.versions() == before


# --- namespaces -----------------------------------------------------------------------


def test_create_namespace_creates_the_missing_namespace(world: World, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, None, "parts/payments-settings.yaml")
    payments = key("Namespace", "", "payments")

    dry = world.sync(world.plan(repo, create_namespace=True), create_namespace=True, dry_run=True)
    assert dry.phase is SyncPhase.SUCCEEDED, dry.message
    assert actions(dry)[payments] is ChangeAction.CREATED
    assert world.live(payments) is None

    result = world.sync(world.plan(repo, create_namespace=True), create_namespace=True)

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert actions(result)[payments] is ChangeAction.CREATED
    assert world.live(payments) is not None
    assert world.live(key("ConfigMap", "payments", "settings")) is not None


def test_a_missing_namespace_without_create_namespace_is_a_validation_error(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, None, "parts/payments-settings.yaml", "prune/cache.yaml")
    before = world.versions()

    with pytest.raises(ValidationError) as caught:
        world.plan(repo)

    assert "ConfigMap/payments/settings (payments-settings.yaml:" in str(caught.value)
    assert "namespace 'payments' does not exist" in str(caught.value)
    assert world.versions() == before  # nothing applied, not even the valid ConfigMap


# --- steady state, drift ------------------------------------------------------------------


def test_a_second_sync_is_a_no_op(world: World, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "waves")
    world.sync(world.plan(repo))
    before = world.versions()
    world.events.clear()

    plan = world.plan(repo)
    result = world.sync(plan)

    assert not plan.has_changes
    assert {t.action for t in plan.tasks()} == {Action.NONE}
    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert set(actions(result).values()) == {ChangeAction.UNCHANGED}
    assert world.versions() == before
    assert world.times(EventKind.RESOURCE_APPLIED, API) == []


def test_an_out_of_band_scale_shows_in_the_plan_and_a_sync_heals_it(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, "waves")
    world.sync(world.plan(repo))
    world.sandbox.scale(API, 5)

    plan = world.plan(repo)

    changed = [t for t in plan.tasks() if t.action is not Action.NONE]
    assert [t.key for t in changed] == [API]
    assert changed[0].changes == (FieldChange("spec.replicas", FieldOp.REPLACE, 5, 2),)
    assert "spec.replicas: 5 -> 2" in format_plan(plan)

    result = world.sync(plan)

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert actions(result)[API] is ChangeAction.CONFIGURED
    live = world.live(API)
    assert live is not None and live.manifest["spec"]["replicas"] == 2
    pods = [p for p in world.sandbox.list(kind="Pod", namespace="shop")]
    assert len(pods) == 2
    assert not world.plan(repo).has_changes


def test_synced_objects_carry_the_app_label_and_tracking_id(world: World, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "waves")
    world.sync(world.plan(repo))

    live = world.live(API)

    assert live is not None
    assert live.labels[LABEL_APP] == "app"
    assert live.annotations[ANNOTATION_TRACKING_ID] == tracking_id("app", API)
    # What controllers create is not the app's: it goes with its owner, never alone.
    children = [*world.sandbox.list(kind="ReplicaSet"), *world.sandbox.list(kind="Pod")]
    assert len(children) == 3
    assert all(LABEL_APP not in child.labels for child in children)


# --- secrets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretCase:
    reason: str
    first_value: str | None  # synced before (None: the Secret is new)
    value: str
    dry_run: bool = False


SECRET_CASES = [
    SecretCase("creating a Secret", None, SECRET_VALUE),
    SecretCase("changing a Secret's value", "old-password-771", SECRET_VALUE),
    SecretCase("a dry run of a change", "old-password-771", SECRET_VALUE, dry_run=True),
    SecretCase("a change away from a known value", SECRET_VALUE, "new-password-902"),
]


@pytest.mark.parametrize("case", SECRET_CASES, ids=lambda c: c.reason)
def test_secret_values_never_leave_the_target(
    world: World, tmp_path: Path, case: SecretCase
) -> None:
    repo = make_repo(tmp_path, None, "hooks/app-config.yaml")
    if case.first_value is not None:
        repo.add("parts/db-credentials.yaml", replace={SECRET_VALUE: case.first_value})
        world.sync(world.plan(repo))
        world.events.clear()
    repo.add("parts/db-credentials.yaml", replace={SECRET_VALUE: case.value})

    plan = world.plan(repo)
    result = world.sync(plan, dry_run=case.dry_run)

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert DB_SECRET in actions(result)
    shown = [
        repr(result),
        repr(plan),
        format_plan(plan, verbose=True),
        *(e.message for e in result.changeset.entries),
        *(repr(e.changes) for e in result.changeset.entries),
        *(e.message for e in world.events),
        *(repr(e) for e in world.events),
    ]
    for value in {case.value, case.first_value} - {None}:
        assert value is not None
        encoded = base64.b64encode(value.encode()).decode()
        for text in shown:
            assert value not in text and encoded not in text
    live = world.live(DB_SECRET)
    assert live is not None
    want = case.first_value if case.dry_run else case.value
    assert base64.b64decode(live.manifest["data"]["password"]).decode() == want


def test_a_secret_that_fails_to_apply_is_reported_without_its_value(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, None)
    repo.add(
        "parts/db-credentials.yaml",
        replace={"stringData:": "data:", "username: shop": f"username: not base64 {SECRET_VALUE}"},
    )

    result = world.sync(world.plan(repo))

    assert result.phase is SyncPhase.FAILED
    assert entry_of(result, DB_SECRET).action is ChangeAction.FAILED
    assert "data.username" in result.message
    for text in (repr(result), *(e.message for e in world.events)):
        assert SECRET_VALUE not in text


def test_health_of_the_result_is_the_worst_seen(world: World, tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        "waves",
    )
    repo.add("parts/failing-api.yaml", name="api.yaml")

    result = world.sync(world.plan(repo))

    assert result.health.code is HealthCode.DEGRADED


def test_hooks_of_a_wave_that_fails_to_apply_get_their_hook_failed_policy(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, None)
    repo.add(
        "parts/failing-presync-hook.yaml",
        replace={"hook: PreSync": "hook: Sync", 'fail: "true"': 'fail: "false"'},
    )
    repo.add("parts/db-credentials.yaml", replace={"stringData:": "data:"})  # not base64

    result = world.sync(world.plan(repo))

    assert result.phase is SyncPhase.FAILED
    assert "Secret/default/db-credentials: data.password: illegal base64 data" in result.message
    (hook,) = result.hooks_run
    assert world.live(hook) is None


def test_a_stop_between_waves_ends_the_sync_terminated_at_a_safe_point(
    world: World, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, "waves")
    plan = world.plan(repo)
    stop = threading.Event()
    first_wave = plan.waves[0].label

    def sink(event: Event) -> None:
        world.events.append(event)
        # What SIGTERM does in `gitwave run`: set the stop while a wave runs.
        if event.kind is EventKind.WAVE_STARTED and event.wave == first_wave:
            stop.set()

    result = execute(
        plan,
        targets=world.targets,
        options=SyncOptions(max_poll_interval_s=0.02, wave_timeout_s=10.0, stop=stop),
        sink=sink,
    )

    assert result.phase is SyncPhase.TERMINATED
    assert "not run" in result.message
    # The running wave finished (applied and healthy); nothing after it began.
    assert world.live(NS_SHOP) is not None
    assert world.live(API) is None and world.live(AFTER_API) is None
    assert [e.wave for e in world.events if e.kind is EventKind.WAVE_FINISHED] == [first_wave]
