"""The operations layer: each pipeline stage once per app per operation, app
selection, effective prune and app health, on the real sandbox."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine import app_pipeline, operations
from gitwave.engine.apps import implicit_app, load_apps
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import HealthCode, SyncStatus
from gitwave.engine.operations import SyncRequest
from gitwave.engine.reconciler import LoopOptions, Reconciler
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider

SAMPLES = Path(__file__).parent.parent.parent / "samples"


@pytest.fixture
def world(tmp_path: Path) -> tuple[ProviderRouter, Store]:
    sandbox = SandboxProvider(tmp_path / "state", rollout_seconds=0.0)
    return ProviderRouter([sandbox]), Store(tmp_path / "state" / "gitwave.db")


@pytest.fixture
def stage_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often compose and the graph stage (build_graph, or its kept graph) run:
    the real functions, counted."""
    calls: Counter[str] = Counter()

    def counted(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(app_pipeline, "compose", counted("compose", app_pipeline.compose))
    monkeypatch.setattr(app_pipeline, "keyed_graph", counted("graph", app_pipeline.keyed_graph))
    return calls


TESTDATA = Path(__file__).parent.parent / "testdata"
WEBAPP = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: kro.run/v1alpha1
kind: WebApp
metadata:
  name: storefront
  namespace: shop
spec:
  name: web
"""


def _kro_app(tmp_path: Path) -> Path:
    """A kro composite (a WebApp whose ConfigMap reads its Service's cluster IP)."""
    app = tmp_path / "webapp"
    app.mkdir()
    (app / "rgd.yaml").write_text((TESTDATA / "compositions" / "kro.yaml").read_text())
    (app / "webapp.yaml").write_text(WEBAPP)
    return app


@pytest.mark.parametrize("sample", ["guestbook", "waves", "kro composite"])
def test_compose_and_graph_run_once_per_sync(
    world: tuple[ProviderRouter, Store], stage_calls: Counter[str], sample: str, tmp_path: Path
) -> None:
    targets, store = world
    path = _kro_app(tmp_path) if sample == "kro composite" else SAMPLES / sample
    _, apps = load_apps(str(path))
    (app,) = operations.choose_apps(apps)
    synced = operations.sync_app(app, targets=targets, store=store, request=SyncRequest())
    assert synced.result.ok, synced.result.message
    assert stage_calls == Counter(compose=1, graph=1)


def test_rollback_composes_and_graphs_the_recorded_manifests_once(
    world: tuple[ProviderRouter, Store], stage_calls: Counter[str]
) -> None:
    targets, store = world
    _, (app,) = load_apps(str(SAMPLES / "guestbook"))
    operations.sync_app(app, targets=targets, store=store)
    entry = store.last(app.name)
    assert entry is not None
    stage_calls.clear()
    synced = operations.rollback(app, entry.id, targets=targets, store=store)
    assert synced.result.ok
    assert stage_calls == Counter(compose=1, graph=1)


@dataclass(frozen=True)
class SelectCase:
    reason: str
    only: tuple[str, ...]
    want: list[str]


@pytest.mark.parametrize(
    "case",
    [
        SelectCase("an app of apps syncs its children, not itself", (), ["guestbook", "waves"]),
        SelectCase("a name picks that app", ("waves",), ["waves"]),
        SelectCase("the parent itself can be named", ("app-of-apps",), ["app-of-apps"]),
    ],
    ids=lambda c: c.reason,
)
def test_select_apps(case: SelectCase) -> None:
    chosen = operations.select_apps(str(SAMPLES / "app-of-apps"), only=case.only)
    assert [a.name for a in chosen] == case.want


def test_an_unknown_app_name_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        operations.select_apps(str(SAMPLES / "app-of-apps"), only=("nope",))
    assert "no app named nope" in str(caught.value)
    assert "guestbook" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("policy", "asked", "want"),
    [(False, None, False), (True, None, True), (False, True, True), (True, False, False)],
)
def test_effective_prune_is_the_request_else_the_policy(
    policy: bool, asked: bool | None, want: bool
) -> None:
    app = implicit_app("demo")
    app = app.__class__(**{**app.__dict__, "policy": app.policy.__class__(prune=policy)})
    assert operations.effective_prune(app, SyncRequest(prune=asked)) is want


def test_status_and_health_before_and_after_a_sync(world: tuple[ProviderRouter, Store]) -> None:
    targets, store = world
    _, (app,) = load_apps(str(SAMPLES / "guestbook"))
    before = operations.plan(app, SyncRequest(), targets=targets)
    assert SyncStatus.of_plan(before.plan) is SyncStatus.OUT_OF_SYNC
    health = operations.app_health(before, targets=targets)
    assert health.code is HealthCode.MISSING
    assert health.message == "Namespace/guestbook not found", "it names the object"
    operations.sync_app(app, targets=targets, store=store)
    after = operations.plan(app, SyncRequest(), targets=targets)
    assert SyncStatus.of_plan(after.plan) is SyncStatus.SYNCED
    assert operations.app_health(after, targets=targets).code is HealthCode.HEALTHY


def test_the_loop_composes_and_graphs_once_per_commit_however_often_it_replans(
    world: tuple[ProviderRouter, Store],
    stage_calls: Counter[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    targets, store = world
    plans: list[object] = []
    real_make_plan = app_pipeline.make_plan

    def counted_make_plan(*args: Any, **kwargs: Any) -> Any:
        plans.append(kwargs.get("revision"))
        return real_make_plan(*args, **kwargs)

    monkeypatch.setattr(app_pipeline, "make_plan", counted_make_plan)
    app_dir = tmp_path / "guestbook"
    shutil.copytree(SAMPLES / "guestbook", app_dir)
    now = [1000.0]
    reconciler = Reconciler(
        str(app_dir),
        targets=targets,
        store=store,
        options=LoopOptions(interval_s=1.0),
        clock=lambda: now[0],
    )
    reconciler.start()
    for _ in range(4):  # four polls, each planning the app again
        now[0] += 2.0
        reconciler.step()
    # guestbook has no automated sync policy: the loop only reports it.
    assert [s.sync for s in reconciler.statuses()] == [SyncStatus.OUT_OF_SYNC]
    assert len(plans) >= 4
    assert stage_calls == Counter(compose=1, graph=1)
