"""The history store: syncs, outcomes, manifests and events survive a round trip
through SQLite, and a Secret's value never reaches the database file."""

from __future__ import annotations

import base64
import shutil
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.apps import load_apps, render_app
from gitwave.engine.errors import StoreError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import (
    ApplyMode,
    ChangeAction,
    InstallGate,
    Resource,
    ResourceKey,
    SourceRef,
)
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.store_records import ResourceOutcome
from gitwave.engine.sync import SyncPhase
from gitwave.providers.sandbox import SandboxProvider

TESTDATA = Path(__file__).parent.parent / "testdata" / "sync"
SECRET_VALUE = "correct-horse-battery-staple-4417"  # the password in parts/db-credentials.yaml

API = ResourceKey("apps", "Deployment", "shop", "api")
SETTINGS = ResourceKey("", "ConfigMap", "shop", "settings")
NS_SHOP = ResourceKey("", "Namespace", "", "shop")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "state" / "gitwave.db")
    yield store
    store.close()


def rendered(tmp_path: Path, *files: str) -> list[Resource]:
    """The resources the render stage makes of fixture files (with file:line)."""
    directory = tmp_path / "app"
    directory.mkdir(exist_ok=True)
    for name in files:
        shutil.copy(TESTDATA / name, directory / Path(name).name)
    _, apps = load_apps(str(directory))
    return list(render_app(apps[0]).resources)


# What a recorded sync says where a test does not care.
RECORD_DEFAULTS: dict[str, Any] = {
    "app": "shop",
    "revision": "r",
    "source": "s",
    "started": 0.0,
    "finished": 0.0,
    "result": "Succeeded",
    "message": "",
    "outcomes": (),
    "manifests": (),
}


def record_sync(store: Store, **fields: Any) -> int:
    """``store.record_sync`` with RECORD_DEFAULTS for the fields not given."""
    return store.record_sync(**{**RECORD_DEFAULTS, **fields})


# --- syncs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordCase:
    reason: str
    result: str
    message: str
    outcomes: tuple[ResourceOutcome, ...]
    dry_run: bool = False
    prune: bool = False
    rollback_of: bool = False  # roll back the case's first entry


RECORD_CASES = [
    RecordCase(
        "a successful sync",
        "Succeeded",
        "successfully synced",
        (
            ResourceOutcome(SETTINGS, ChangeAction.CREATED),
            ResourceOutcome(API, ChangeAction.CONFIGURED),
            ResourceOutcome(NS_SHOP, ChangeAction.UNCHANGED),
        ),
        prune=True,
    ),
    RecordCase(
        "a failed sync keeps the reason of each failure",
        "Failed",
        "Deployment/shop/api is Degraded: pods crash",
        (ResourceOutcome(API, ChangeAction.FAILED, "Degraded: pods crash"),),
    ),
    RecordCase("a dry run", "Succeeded", "successfully synced (dry run)", (), dry_run=True),
    RecordCase(
        "a rollback names the entry it rolled back",
        "Succeeded",
        "successfully synced",
        (ResourceOutcome(SETTINGS, ChangeAction.CONFIGURED),),
        rollback_of=True,
    ),
]


@pytest.mark.parametrize("case", RECORD_CASES, ids=lambda c: c.reason)
def test_a_recorded_sync_reads_back_the_same(
    store: Store, tmp_path: Path, case: RecordCase
) -> None:
    resources = rendered(tmp_path, "waves/namespace.yaml", "waves/settings.yaml", "waves/api.yaml")
    earlier = record_sync(
        store, revision="a" * 40, source="https://git.example.com/shop.git .@HEAD"
    )

    sync_id = record_sync(
        store,
        revision="b" * 40,
        source="https://git.example.com/shop.git .@main",
        started=1_700_000_000.25,
        finished=1_700_000_003.5,
        result=case.result,
        message=case.message,
        outcomes=case.outcomes,
        manifests=resources,
        dry_run=case.dry_run,
        prune=case.prune,
        rollback_of=earlier if case.rollback_of else None,
        who="ops@bastion",
    )

    got = store.get(sync_id)
    assert (got.id, got.app, got.revision, got.source) == (
        sync_id,
        "shop",
        "b" * 40,
        "https://git.example.com/shop.git .@main",
    )
    assert (got.started, got.finished, got.who) == (
        1_700_000_000.25,
        1_700_000_003.5,
        "ops@bastion",
    )
    assert (got.result, got.message) == (case.result, case.message)
    assert (got.dry_run, got.prune) == (case.dry_run, case.prune)
    assert got.rollback_of == (earlier if case.rollback_of else None)
    assert got.outcomes == tuple(sorted(case.outcomes, key=lambda o: str(o.key)))
    back = store.manifests(sync_id)
    assert [(r.key, r.api_version, r.manifest, r.source) for r in back] == [
        (r.key, r.api_version, r.manifest, r.source) for r in resources
    ]
    sources = {r.key: r.source for r in back}
    assert sources[NS_SHOP] == SourceRef("namespace.yaml", 1)
    assert sources[ResourceKey("", "Service", "shop", "api")] == SourceRef("api.yaml", 23)
    assert [r.id for r in store.history("shop")] == [sync_id, earlier]


def test_history_is_per_app_newest_first_and_last_skips_dry_runs(store: Store) -> None:
    ok = record_sync(store)
    failed = record_sync(store, result="Failed")
    record_sync(store, app="billing")
    dry = record_sync(store, dry_run=True)

    assert [r.id for r in store.history("shop")] == [dry, failed, ok]
    assert [r.id for r in store.history("shop", limit=2)] == [dry, failed]
    assert store.apps() == ["billing", "shop"]
    last = store.last("shop")
    assert last is not None and last.id == failed
    succeeded = store.last("shop", succeeded_only=True)
    assert succeeded is not None and succeeded.id == ok
    assert store.last("inventory") is None
    assert store.history("inventory") == []


def test_history_survives_reopening_the_database(tmp_path: Path) -> None:
    path = tmp_path / "state" / "gitwave.db"
    first = Store(path)
    sync_id = record_sync(
        first,
        started=1.0,
        finished=2.0,
        message="ok",
        outcomes=[ResourceOutcome(SETTINGS, ChangeAction.CREATED)],
        manifests=rendered(tmp_path, "waves/settings.yaml"),
    )
    first.close()

    again = Store(path)

    assert again.get(sync_id).outcomes == (ResourceOutcome(SETTINGS, ChangeAction.CREATED),)
    assert [r.key for r in again.manifests(sync_id)] == [SETTINGS]
    again.close()


@dataclass(frozen=True)
class StoreErrorCase:
    reason: str
    call: str
    message: str


STORE_ERROR_CASES = [
    StoreErrorCase("an unknown history id", "get", "no sync with id 999 in the history"),
    StoreErrorCase("manifests of an unknown id", "manifests", "no manifests recorded for sync 999"),
]


@pytest.mark.parametrize("case", STORE_ERROR_CASES, ids=lambda c: c.reason)
def test_unknown_ids_are_store_errors(store: Store, case: StoreErrorCase) -> None:
    with pytest.raises(StoreError, match=case.message):
        getattr(store, case.call)(999)


def test_an_unusable_state_directory_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be")

    with pytest.raises(StoreError) as caught:
        Store(blocker / "gitwave.db")

    assert str(blocker / "gitwave.db") in str(caught.value)
    assert "--state" in caught.value.hint


# --- events --------------------------------------------------------------------------


def event(kind: EventKind, at: float, app: str = "shop", **fields: object) -> Event:
    return Event(kind=kind, app=app, time=at, **fields)  # type: ignore[arg-type]


EVENTS = [
    event(EventKind.SYNC_STARTED, 100.0, revision="abc123"),
    event(
        EventKind.WAVE_STARTED, 100.5, revision="abc123", wave="Sync wave -1", message="2 objects"
    ),
    event(
        EventKind.RESOURCE_APPLIED, 100.5, revision="abc123", resource=SETTINGS, message="created"
    ),
    event(EventKind.HEALTH_CHANGED, 101.0, resource=API, wave="Sync wave 0", message="Healthy"),
    event(EventKind.SYNC_FINISHED, 102.0, message="Succeeded: successfully synced"),
]


@dataclass(frozen=True)
class EventsCase:
    reason: str
    since: float
    limit: int
    want: tuple[int, ...]  # indices into EVENTS, in the order read back


EVENTS_CASES = [
    EventsCase(
        "every event, oldest first, equal ones in recorded order", 0.0, 1000, (0, 1, 2, 3, 4)
    ),
    EventsCase("since keeps events at or after that time", 100.5, 1000, (1, 2, 3, 4)),
    EventsCase("limit keeps the newest, still oldest first", 0.0, 2, (3, 4)),
    EventsCase("since and limit together", 100.5, 3, (2, 3, 4)),
    EventsCase("nothing after the last event", 102.5, 1000, ()),
]


@pytest.mark.parametrize("case", EVENTS_CASES, ids=lambda c: c.reason)
def test_events_round_trip_in_order(store: Store, case: EventsCase) -> None:
    for e in EVENTS:
        store.record_event(e)
    store.record_event(event(EventKind.SYNC_STARTED, 100.0, app="billing"))

    got = store.events("shop", since=case.since, limit=case.limit)

    assert got == [EVENTS[i] for i in case.want]


def test_events_from_many_threads_are_all_kept(store: Store) -> None:
    def emit(worker: int) -> None:
        for i in range(50):
            store.record_event(event(EventKind.WAITING, 1.0 + i, message=f"{worker}-{i}"))

    threads = [threading.Thread(target=emit, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    got = store.events("shop")
    assert sorted(e.message for e in got) == sorted(f"{w}-{i}" for w in range(4) for i in range(50))


# --- secrets -------------------------------------------------------------------------


def database_texts(path: Path) -> list[str]:
    """Everything a copy of the database shows: the raw bytes of the file and its
    WAL, a full SQL dump, and every manifests body decompressed."""
    texts = [
        f.read_bytes().decode("latin-1")
        for f in sorted(path.parent.iterdir())
        if f.name.startswith(path.name)
    ]
    with sqlite3.connect(path) as db:
        texts.append("\n".join(db.iterdump()))
        texts.extend(
            zlib.decompress(body).decode()
            for (body,) in db.execute("SELECT body FROM sync_manifests")
        )
    return texts


def assert_not_in(value: str, texts: list[str]) -> None:
    encoded = base64.b64encode(value.encode()).decode()
    for text in texts:
        assert value not in text
        assert encoded not in text


LAST_APPLIED = (
    "  annotations:\n"
    "    kubectl.kubernetes.io/last-applied-configuration: |\n"
    '      {"stringData":{"password":"' + SECRET_VALUE + '"}}\n'
    "type: Opaque"
)


@dataclass(frozen=True)
class SecretCase:
    reason: str
    replace: tuple[tuple[str, str], ...]


SECRET_CASES = [
    SecretCase("stringData", ()),
    SecretCase(
        "base64 data",
        (
            ("stringData:", "data:"),
            ("username: shop", "username: " + base64.b64encode(b"shop").decode()),
            (SECRET_VALUE, base64.b64encode(SECRET_VALUE.encode()).decode()),
        ),
    ),
    SecretCase("a kubectl last-applied annotation", (("type: Opaque", LAST_APPLIED),)),
]


@pytest.mark.parametrize("case", SECRET_CASES, ids=lambda c: c.reason)
def test_a_secret_is_recorded_without_its_values(
    store: Store, tmp_path: Path, case: SecretCase
) -> None:
    directory = tmp_path / "app"
    directory.mkdir()
    text = (TESTDATA / "parts" / "db-credentials.yaml").read_text()
    for old, new in case.replace:
        text = text.replace(old, new)
    (directory / "db-credentials.yaml").write_text(text)
    _, apps = load_apps(str(directory))
    resources = list(render_app(apps[0]).resources)
    assert SECRET_VALUE in str(resources[0].manifest) or "data" in resources[0].manifest

    sync_id = record_sync(
        store,
        outcomes=[ResourceOutcome(resources[0].key, ChangeAction.CREATED)],
        manifests=resources,
    )

    (stub,) = store.manifests(sync_id)
    assert stub.key == ResourceKey("", "Secret", "default", "db-credentials")
    assert "data" not in stub.manifest and "stringData" not in stub.manifest
    assert stub.manifest["x-gitwave-secret-entries"] == ["password", "username"]
    assert_not_in(SECRET_VALUE, database_texts(store.path))
    # Recording the stub again (a rollback's entry) keeps what it says.
    again = record_sync(store, source="rollback", manifests=[stub])
    assert store.manifests(again)[0].manifest == stub.manifest


def test_a_real_sync_of_a_secret_leaves_no_value_in_the_database(tmp_path: Path) -> None:
    directory = tmp_path / "app"
    directory.mkdir()
    shutil.copy(TESTDATA / "parts" / "db-credentials.yaml", directory)
    shutil.copy(TESTDATA / "hooks" / "app-config.yaml", directory)
    _, apps = load_apps(str(directory))
    store = Store(tmp_path / "state" / "gitwave.db")
    with SandboxProvider(tmp_path / "sandbox", rollout_seconds=0.05) as sandbox:
        result = sync_app(
            apps[0],
            targets=ProviderRouter([sandbox]),
            store=store,
            request=SyncRequest(),
            sink=store.record_event,
        ).result
    assert result.phase is SyncPhase.SUCCEEDED, result.message
    assert len(store.events("app")) > 5
    assert_not_in(SECRET_VALUE, database_texts(store.path))
    store.close()
    assert_not_in(SECRET_VALUE, database_texts(store.path))  # after the WAL is folded in


def test_a_history_database_from_before_content_digests_opens_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gitwave.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE syncs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, revision TEXT NOT NULL,
            source TEXT NOT NULL, started REAL NOT NULL, finished REAL NOT NULL,
            who TEXT NOT NULL, result TEXT NOT NULL, message TEXT NOT NULL,
            dry_run INTEGER NOT NULL, prune INTEGER NOT NULL, rollback_of INTEGER
        );
        INSERT INTO syncs (app, revision, source, started, finished, who, result, message,
            dry_run, prune) VALUES ('shop', 'abc', 'repo', 1, 2, 'me@here', 'Succeeded', '', 0, 0);
        """
    )
    old.close()

    store = Store(path)
    (record,) = store.history("shop")
    assert (record.revision, record.result, record.content_digest) == ("abc", "Succeeded", "")
    record_sync(
        store,
        revision="abc+dirty",
        source="repo",
        started=3.0,
        finished=4.0,
        content_digest="sha256:00",
    )
    assert store.history("shop")[0].content_digest == "sha256:00"
    store.close()


def test_a_sync_is_recorded_as_it_starts_and_completed_as_it_ends(store: Store) -> None:
    sync_id = store.begin_sync(app="shop", revision="abc", source="repo", started=1.0, manifests=[])
    assert store.history("shop") == [] and store.last("shop") is None, "not ended yet"
    (running,) = store.history("shop", running=True)
    assert (running.id, running.result) == (sync_id, "Running")

    store.finish_sync(
        sync_id,
        finished=2.0,
        result="Succeeded",
        message="synced",
        outcomes=[ResourceOutcome(SETTINGS, ChangeAction.CREATED)],
    )

    record = store.get(sync_id)
    assert (record.result, record.finished, record.message) == ("Succeeded", 2.0, "synced")
    assert record.outcomes == (ResourceOutcome(SETTINGS, ChangeAction.CREATED),)
    assert store.last("shop") == store.history("shop")[0]


def test_a_charts_crd_policies_survive_the_history(store: Store) -> None:
    """A rollback re-applies a HelmRelease's CRDs under the policies the sync had."""
    gate = InstallGate(
        labels=(
            ("helm.toolkit.fluxcd.io/name", "web"),
            ("helm.toolkit.fluxcd.io/namespace", "apps"),
        ),
        on_install=ApplyMode.CREATE_ONLY,
        on_upgrade=ApplyMode.SKIP,
        subject="HelmRelease/apps/web",
    )
    crd = Resource(
        ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"),
        "apiextensions.k8s.io/v1",
        {"kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"}},
        SourceRef("web-1.0.0/crds/widgets.yaml"),
        install_gate=gate,
    )
    plain = Resource(
        ResourceKey("", "ConfigMap", "apps", "web"),
        "v1",
        {"kind": "ConfigMap", "metadata": {"name": "web"}},
    )
    sync_id = record_sync(store, app="web", started=1.0, finished=2.0, manifests=[crd, plain])
    read = {r.key.kind: r for r in store.manifests(sync_id)}
    assert read["CustomResourceDefinition"].install_gate == gate
    assert read["ConfigMap"].install_gate is None
