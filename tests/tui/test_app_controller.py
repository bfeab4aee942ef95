"""The TUI's controller: the live tree it builds, the auto-sync flags it keeps,
the plans it previews, and the symbols the screens draw."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gitwave.engine import operations
from gitwave.engine.errors import StoreError, ValidationError
from gitwave.engine.model import (
    Action,
    ChangeSetEntry,
    Health,
    Live,
    Propagation,
    Resource,
    ResourceKey,
)
from gitwave.engine.operations import sync_app
from gitwave.engine.router import ProviderRouter
from gitwave.providers.sandbox import SandboxProvider
from gitwave.tui.cli import main
from gitwave.tui.controller import (
    AutoSync,
    AutoSyncFlags,
    Controller,
    ResourceNode,
    SyncRequest,
    SyncStatus,
)
from gitwave.tui.widgets.status import ASCII, UNICODE, Glyphs
from tests.tui.test_app_support import Env, commit, fleet, make_env


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path, ("guestbook", "waves", "app-of-apps"))
    built = make_env(tmp_path, root / "samples" / "app-of-apps")
    yield built
    built.close()


def shape(nodes: Sequence[ResourceNode]) -> list[object]:
    """A tree as nested (kind, name-prefix, children) tuples, for comparing."""
    return [
        (
            n.key.kind,
            n.key.name.rsplit("-", 2)[0] if n.action is None else n.key.name,
            shape(n.children),
        )
        for n in nodes
    ]


def test_live_tree_nests_replicasets_and_pods_under_their_deployment(env: Env) -> None:
    app = env.controller.app("guestbook")
    sync_app(app, targets=env.controller.targets, store=env.store)
    # A sync no longer waits for its last wave (as Argo CD): wait for the pods here.
    waited = operations.wait(
        app, operations.WaitFor(health=True, timeout_s=30), targets=env.controller.targets
    )
    assert waited.ok, waited
    view = env.controller.view("guestbook")
    deployment = next(n for n in view.nodes if n.key.kind == "Deployment")
    [replicaset] = deployment.children
    assert replicaset.key.kind == "ReplicaSet" and replicaset.action is None
    assert [p.key.kind for p in replicaset.children] == ["Pod", "Pod", "Pod"]
    assert all(
        p.health is not None and p.health.code.value == "Healthy" for p in replicaset.children
    )
    assert view.owner_of(replicaset.children[0].key) == deployment
    assert view.summary.sync is SyncStatus.SYNCED


def test_composed_resources_sit_under_their_composite(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {
            "apiVersion": "example.org/v1",
            "kind": "XDatabase",
            "metadata": {
                "name": "orders",
                "namespace": "shop",
                # No CRD defines XDatabase here: the plan's kind check is skipped,
                # as Argo CD does, so the view has a plan to show.
                "annotations": {
                    "argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"
                },
            },
            "spec": {"size": "small"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "orders-settings",
                "namespace": "shop",
                "annotations": {"gitwave.dev/composite": "XDatabase/shop/orders"},
            },
            "data": {"size": "small"},
        },
    ]
    root.mkdir()
    (root / "all.yaml").write_text(yaml.safe_dump_all(docs))
    commit(root, "A composite")
    env = make_env(tmp_path, root)
    try:
        view = env.controller.view("repo")
        assert shape(view.nodes) == [
            ("Namespace", "shop", []),
            ("XDatabase", "orders", [("ConfigMap", "orders-settings", [])]),
        ]
    finally:
        env.close()


class CannotList:
    """A target that can observe but not list every object (as a cluster
    provider without list rights): the sandbox behind the plain Provider protocol."""

    name = "observe-only"

    def __init__(self, sandbox: SandboxProvider) -> None:
        self._sandbox = sandbox

    def handles(self, api_version: str, kind: str) -> bool:
        return self._sandbox.handles(api_version, kind)

    def observe(self, key: ResourceKey) -> Live | None:
        return self._sandbox.observe(key)

    def apply(self, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
        return self._sandbox.apply(resource, dry_run=dry_run)

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        return self._sandbox.delete(key, propagation=propagation)

    def health(self, live: Live) -> Health:
        return self._sandbox.health(live)

    def list_tracked(self, app: str) -> list[Live]:
        return self._sandbox.list_tracked(app)


def test_a_target_that_cannot_list_shows_the_desired_objects_only(env: Env) -> None:
    app = env.controller.app("guestbook")
    sync_app(app, targets=env.controller.targets, store=env.store)
    # A sync does not wait for its last wave (as Argo CD): wait for the pods here.
    waited = operations.wait(
        app, operations.WaitFor(health=True, timeout_s=30), targets=env.controller.targets
    )
    assert waited.ok, waited
    controller = Controller(
        str(env.location),
        targets=ProviderRouter([CannotList(env.sandbox)]),
        store=env.store,
        state_dir=env.state,
    )
    view = controller.view("guestbook")
    assert {n.key.kind for n in view.nodes} == {"Namespace", "ConfigMap", "Deployment", "Service"}
    assert all(n.children == () for n in view.nodes)
    assert view.summary.health.code.value == "Healthy"


@dataclass
class PreviewCase:
    reason: str
    request: SyncRequest
    want: dict[str, Action]


PREVIEWS = [
    PreviewCase(
        "plain: only the drifted object changes",
        SyncRequest(),
        {"Deployment": Action.UPDATE, "Service": Action.NONE},
    ),
    PreviewCase(
        "force: every object is applied",
        SyncRequest(force=True),
        {"Deployment": Action.UPDATE, "Service": Action.UPDATE},
    ),
    PreviewCase(
        "one resource: only its task",
        SyncRequest(resource=ResourceKey("", "Service", "guestbook", "guestbook-ui")),
        {"Service": Action.NONE},
    ),
]


@pytest.mark.parametrize("case", PREVIEWS, ids=[c.reason for c in PREVIEWS])
def test_preview_is_the_plan_a_sync_would_run(env: Env, case: PreviewCase) -> None:
    sync_app(env.controller.app("guestbook"), targets=env.controller.targets, store=env.store)
    env.sandbox.scale(ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui"), 4)
    plan = env.controller.preview("guestbook", case.request)
    got = {t.key.kind: t.action for t in plan.tasks()}
    for kind, action in case.want.items():
        assert got[kind] is action
    if case.request.resource is not None:
        assert list(got) == ["Service"]


def test_syncing_an_object_outside_the_plan_is_refused(env: Env) -> None:
    request = SyncRequest(resource=ResourceKey("", "Pod", "guestbook", "nope"))
    with pytest.raises(ValidationError, match="Pod/guestbook/nope: is not in the plan"):
        env.controller.sync("guestbook", request)
    assert env.sandbox.list(namespace="guestbook") == []


def test_auto_sync_flags_round_trip_through_one_json_file(env: Env) -> None:
    assert env.controller.auto_sync(env.controller.app("guestbook")) is AutoSync.ON
    assert env.controller.set_paused("guestbook", paused=True) is AutoSync.PAUSED
    data = json.loads((env.state / "autosync.json").read_text())
    assert set(data["paused"]) == {"guestbook"}
    assert set(data["paused"]["guestbook"]) == {"by", "at"}
    # Another process (the reconcile loop) reads the same file.
    assert AutoSyncFlags(env.state / "autosync.json").is_paused("guestbook")
    assert env.controller.set_paused("guestbook", paused=False) is AutoSync.ON
    assert not AutoSyncFlags(env.state / "autosync.json").is_paused("guestbook")


def test_a_damaged_flags_file_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "autosync.json"
    path.write_text("{not json")
    with pytest.raises(StoreError, match=r"autosync\.json: cannot read the auto-sync flags"):
        AutoSyncFlags(path).is_paused("guestbook")


def test_unknown_app_names_the_known_ones(env: Env) -> None:
    with pytest.raises(ValidationError, match="no app named 'nope'") as caught:
        env.controller.app("nope")
    assert caught.value.hint == "apps here: guestbook, waves"


@dataclass
class GlyphCase:
    reason: str
    environ: dict[str, str]
    encoding: str
    want: Glyphs


GLYPHS = [
    GlyphCase("UTF-8 locale", {}, "UTF-8", UNICODE),
    GlyphCase("utf8 spelled without a dash", {}, "utf8", UNICODE),
    GlyphCase("C locale", {}, "ANSI_X3.4-1968", ASCII),
    GlyphCase("asked for ASCII", {"GITWAVE_ASCII": "1"}, "UTF-8", ASCII),
    GlyphCase("GITWAVE_ASCII=0 is off", {"GITWAVE_ASCII": "0"}, "UTF-8", UNICODE),
]


@pytest.mark.parametrize("case", GLYPHS, ids=[c.reason for c in GLYPHS])
def test_glyphs_fall_back_to_ascii(case: GlyphCase) -> None:
    assert Glyphs.detect(case.environ, case.encoding) is case.want


def test_the_ascii_glyphs_are_ascii() -> None:
    assert all(symbol.isascii() for symbol in dataclasses.astuple(ASCII))


def test_gitwave_tui_with_an_unknown_app_fails_before_the_screen_opens(
    env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(env.state))
    code = main(["tui", str(env.location), "--app", "nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no app named 'nope'" in err
    assert "hint: apps here: guestbook, waves" in err
