"""The reconcile shell: sync_app (retries, history), and rollback from the history.

Apps come from tests/testdata/sync/apps/ (an Argo CD Application with a retry
policy) or from a real Git repository made in tmp_path; they sync into a real
``SandboxProvider`` and are recorded in a real ``Store``.
"""

from __future__ import annotations

import base64
import dataclasses
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import git
import pytest

from gitwave.engine import operations
from gitwave.engine.apps import AppSpec, load_apps
from gitwave.engine.errors import GitwaveError, SourceError, ValidationError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import ChangeAction, Resource, ResourceKey
from gitwave.engine.operations import SyncRequest, rollback, sync_app
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.sync import SyncPhase, SyncResult
from gitwave.providers.sandbox import SandboxProvider

TESTDATA = Path(__file__).parent.parent / "testdata" / "sync"
SECRET_VALUE = "correct-horse-battery-staple-4417"  # the password in parts/db-credentials.yaml

NS_SHOP = ResourceKey("", "Namespace", "", "shop")
SHOP_SETTINGS = ResourceKey("", "ConfigMap", "shop", "settings")
SETTINGS = ResourceKey("", "ConfigMap", "default", "settings")
PROMO = ResourceKey("", "ConfigMap", "default", "promo")
DB_SECRET = ResourceKey("", "Secret", "default", "db-credentials")


@dataclass
class World:
    sandbox: SandboxProvider
    store: Store
    events: list[Event] = field(default_factory=list)

    @property
    def targets(self) -> ProviderRouter:
        return ProviderRouter([self.sandbox])

    def sync(
        self, app: AppSpec, *, sleep: Callable[[float], None] | None = None, **options: bool
    ) -> SyncResult:
        result = sync_app(
            app,
            targets=self.targets,
            store=self.store,
            request=SyncRequest(**options),
            sink=self.events.append,
            sleep=sleep or _no_sleep,
        ).result
        return result

    def results(self, app: str) -> list[str]:
        """The history's results for ``app``, oldest first."""
        return [r.result for r in reversed(self.store.history(app))]

    def create_namespace(self, name: str) -> None:
        manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self.sandbox.apply(Resource(ResourceKey("", "Namespace", "", name), "v1", manifest))

    def data(self, key: ResourceKey, entry: str) -> str | None:
        live = self.sandbox.observe(key)
        if live is None:
            return None
        value = live.manifest["data"][entry]
        return base64.b64decode(value).decode() if key.kind == "Secret" else str(value)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected retry sleep of {seconds}s")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = Store(tmp_path / "state" / "gitwave.db")
    with SandboxProvider(tmp_path / "sandbox", rollout_seconds=0.05) as sandbox:
        yield World(sandbox, store)
    store.close()


def shop_app(tmp_path: Path, *parts: str, policy: str = "") -> AppSpec:
    """tests/testdata/sync/apps/shop copied to tmp_path, with ``parts`` added to
    its manifests and ``policy`` lines added to its syncPolicy."""
    root = tmp_path / "repo"
    shutil.copytree(TESTDATA / "apps" / "shop", root)
    for part in parts:
        shutil.copy(TESTDATA / "parts" / part, root / "manifests" / part)
    if policy:
        application = root / "application.yaml"
        text = application.read_text().replace("  syncPolicy:\n", f"  syncPolicy:\n{policy}")
        application.write_text(text)
    _, apps = load_apps(str(root))
    (app,) = apps
    return app


# --- retry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryCase:
    reason: str
    parts: tuple[str, ...]
    namespace: str  # "before": exists from the start; "on-retry": created while waiting; "never"
    retry: bool
    results: tuple[str, ...]  # the history, oldest first
    delays: tuple[float, ...]  # the backoff asked for before each retry (before jitter)
    raises: type[GitwaveError] | None = None


RETRY_CASES = [
    RetryCase(
        "a namespace created while the app waits for its retry",
        (),
        "on-retry",
        True,
        ("Error", "Succeeded"),
        (1.0,),
    ),
    RetryCase(
        "a namespace that never appears uses every retry, then raises",
        (),
        "never",
        True,
        ("Error", "Error", "Error"),
        (1.0, 2.0),
        raises=ValidationError,
    ),
    RetryCase(
        "a Job that keeps failing uses every retry, with growing backoff",
        ("failing-job.yaml",),
        "before",
        True,
        ("Failed", "Failed", "Failed"),
        (1.0, 2.0),
    ),
    RetryCase(
        "retries turned off: one attempt",
        ("failing-job.yaml",),
        "before",
        False,
        ("Failed",),
        (),
    ),
    RetryCase(
        "bad input is never retried: only a new commit fixes it",
        ("bad-wave.yaml",),
        "before",
        True,
        ("Error",),
        (),
        raises=ValidationError,
    ),
]


@pytest.mark.parametrize("case", RETRY_CASES, ids=lambda c: c.reason)
def test_retry_with_backoff_records_every_attempt(
    world: World, tmp_path: Path, case: RetryCase
) -> None:
    app = shop_app(tmp_path, *case.parts)
    if case.namespace == "before":
        world.create_namespace("shop")
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        if case.namespace == "on-retry":
            world.create_namespace("shop")

    if case.raises is not None:
        with pytest.raises(case.raises):
            world.sync(app, sleep=sleep, retry=case.retry)
    else:
        world.sync(app, sleep=sleep, retry=case.retry)

    assert world.results("shop") == list(case.results)
    assert len(delays) == len(case.delays)
    for got, want in zip(delays, case.delays, strict=True):
        assert want * 0.8 <= got <= want  # jitter only shortens the wait
    retried = [e for e in world.events if e.kind is EventKind.ERROR and "retry" in e.message]
    assert [e.message.split(" in ")[0] for e in retried] == [
        f"sync failed, retry {n}/2" for n in range(1, len(case.delays) + 1)
    ]
    last = world.store.history("shop")[0]
    if case.results[-1] == "Succeeded":
        assert world.data(SHOP_SETTINGS, "currency") == "EUR"
    elif case.namespace != "before":
        assert "namespace 'shop' does not exist" in last.message
    elif case.parts == ("failing-job.yaml",):
        assert "Job/shop/import-catalog is Degraded" in last.message
        outcomes = {o.key.name: o.action for o in world.store.get(last.id).outcomes}
        assert outcomes["import-catalog"] is ChangeAction.FAILED
    else:
        assert "rollout-notes" in last.message and "not an integer" in last.message


def test_a_dry_run_is_never_retried_nor_recorded(world: World, tmp_path: Path) -> None:
    app = shop_app(tmp_path)  # its namespace is missing: a retriable error

    with pytest.raises(ValidationError, match="namespace 'shop' does not exist"):
        world.sync(app, dry_run=True)  # _no_sleep fails the test on a retry

    assert world.results("shop") == []


# --- sync_app -------------------------------------------------------------------------


def test_create_namespace_option_and_a_second_sync_that_changes_nothing(
    world: World, tmp_path: Path
) -> None:
    app = shop_app(tmp_path, policy="    syncOptions:\n      - CreateNamespace=true\n")
    assert app.policy.create_namespace

    first = world.sync(app)
    versions = {live.key: live.resource_version for live in world.sandbox.list()}
    state = operations.plan(app, targets=world.targets, request=SyncRequest())
    second = world.sync(app)

    assert (first.phase, second.phase) == (SyncPhase.SUCCEEDED, SyncPhase.SUCCEEDED)
    assert world.sandbox.observe(NS_SHOP) is not None
    assert world.data(SHOP_SETTINGS, "currency") == "EUR"
    assert not state.plan.has_changes
    assert {live.key: live.resource_version for live in world.sandbox.list()} == versions
    newest = world.store.get(world.store.history("shop")[0].id)
    assert {o.action for o in newest.outcomes} == {ChangeAction.UNCHANGED}
    assert world.results("shop") == ["Succeeded", "Succeeded"]


# --- rollback ---------------------------------------------------------------------------


class GitRepo:
    """A real Git repository in tmp_path, committed to as a user would."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = git.Repo.init(root)
        self.author = git.Actor("Test", "test@example.com")

    def commit(self, files: dict[str, str | None], message: str) -> str:
        for name, text in files.items():
            path = self.root / name
            if text is None:
                self.repo.index.remove([name], working_tree=True)
            else:
                path.write_text(text)
                self.repo.index.add([name])
        commit = self.repo.index.commit(message, author=self.author, committer=self.author)
        return commit.hexsha


def settings(currency: str) -> str:
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\n"
        f"data:\n  currency: {currency}\n"
    )


PROMO_YAML = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: promo\n  namespace: default\n"
    "data:\n  banner: summer sale\n"
)


@dataclass(frozen=True)
class RollbackCase:
    reason: str
    delete_repo: bool
    prune: bool
    promo_kept: bool


ROLLBACK_CASES = [
    RollbackCase("rolling back restores the earlier value", False, False, True),
    RollbackCase("rollback needs no Git: the repository is gone", True, False, True),
    RollbackCase(
        "rollback with prune removes what came later and leaves Secrets alone", True, True, False
    ),
]


@pytest.mark.parametrize("case", ROLLBACK_CASES, ids=lambda c: c.reason)
def test_rollback_reapplies_an_earlier_sync(
    world: World, tmp_path: Path, case: RollbackCase
) -> None:
    repo = GitRepo(tmp_path / "shop-config")
    secret = (TESTDATA / "parts" / "db-credentials.yaml").read_text()
    first_sha = repo.commit(
        {"settings.yaml": settings("EUR"), "db-credentials.yaml": secret}, "first"
    )
    _, apps = load_apps(str(repo.root))
    (app,) = apps
    world.sync(app)
    first = world.store.history(app.name)[0]
    repo.commit({"settings.yaml": settings("USD"), "promo.yaml": PROMO_YAML}, "second")
    world.sync(app)
    assert world.data(SETTINGS, "currency") == "USD"
    if case.delete_repo:
        shutil.rmtree(repo.root)
        with pytest.raises(SourceError):
            world.sync(app)  # a normal sync cannot render any more

    _synced = rollback(
        app,
        first.id,
        targets=world.targets,
        store=world.store,
        request=SyncRequest(prune=case.prune),
        sink=world.events.append,
    )
    plan, result = _synced.plan, _synced.result

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert world.data(SETTINGS, "currency") == "EUR"
    assert (world.sandbox.observe(PROMO) is not None) is case.promo_kept
    assert DB_SECRET not in {t.key for t in plan.tasks()}
    assert world.data(DB_SECRET, "password") == SECRET_VALUE  # as it was live
    entry = world.store.history(app.name)[0]
    assert (entry.rollback_of, entry.revision, entry.result) == (first.id, first_sha, "Succeeded")
    assert entry.source == f"rollback of #{first.id}"
    assert any(e.kind is EventKind.ROLLBACK for e in world.events)


def test_rollback_refuses_another_apps_history_entry(world: World, tmp_path: Path) -> None:
    app = shop_app(tmp_path)
    world.create_namespace("shop")
    world.sync(app)
    other = dataclasses.replace(app, name="billing")
    before = {live.key: live.resource_version for live in world.sandbox.list()}

    with pytest.raises(ValidationError, match="belongs to app 'shop', not 'billing'"):
        rollback(other, world.store.history("shop")[0].id, targets=world.targets, store=world.store)

    assert {live.key: live.resource_version for live in world.sandbox.list()} == before
