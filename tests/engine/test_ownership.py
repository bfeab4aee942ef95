"""Whose a live object is, and what a plan does with it (issue 10 items 8, 9, 12):
the pure plan stage, table by table. The command line runs the same rules on
the sandbox in tests/tui/test_cli_ownership.py."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from gitwave.engine.apps.model import AppKind, AppSource, AppSpec
from gitwave.engine.errors import OwnershipError
from gitwave.engine.graph import build_graph
from gitwave.engine.model import (
    ANNOTATION_SYNC_OPTIONS_ARGO,
    ANNOTATION_TRACKING_ID,
    Action,
    Live,
    Owner,
    Plan,
    Resource,
    SyncStatus,
)
from gitwave.engine.plan import PlanOptions, make_plan
from tests.engine.test_plan import res

APP = "shop"
SOURCE = "0123456789ab"
OURS = Owner(APP, SOURCE)
SETTINGS = res("ConfigMap", "settings", "shop", data={"mode": "prod"})
OLD = res("ConfigMap", "old", "shop", data={})


def live(resource: Resource, owner: Owner | None, *, ann: dict[str, str] | None = None) -> Live:
    """``resource`` as it is live, applied by ``owner`` (None: made by hand)."""
    manifest = copy.deepcopy(resource.manifest)
    annotations = manifest["metadata"].setdefault("annotations", {})
    annotations.update(ann or {})
    if owner is not None:
        annotations[ANNOTATION_TRACKING_ID] = owner.tracking_id(resource.key)
    return Live(resource.key, manifest, "1")


def plan_of(
    resources: Sequence[Resource],
    *,
    seen: Sequence[Live] = (),
    tracked: Sequence[Live] = (),
    **options: Any,
) -> Plan:
    return make_plan(
        app=APP,
        source=SOURCE,
        revision="abc123",
        graph=build_graph(list(resources)),
        live={s.key: s for s in seen},
        tracked=tracked,
        options=PlanOptions(source_label="github.com/org/repo shop", **options),
        namespaces_live=("shop",),
    )


def actions(plan: Plan) -> dict[str, str]:
    return {t.key.display: t.action.value for t in plan.tasks()}


@dataclass(frozen=True)
class Refused:
    reason: str
    seen: tuple[Live, ...] = ()
    tracked: tuple[Live, ...] = ()
    message: str = ""


REFUSED = [
    Refused(
        "a desired object another app applied",
        seen=(live(SETTINGS, Owner("billing", "fedcba987654")),),
        message="ConfigMap/shop/settings is managed by app billing (source fedcba987654); "
        "this app is shop (source github.com/org/repo shop, id 0123456789ab)",
    ),
    Refused(
        "a desired object an app of the same name from another source applied",
        seen=(live(SETTINGS, Owner(APP, "fedcba987654")),),
        message="ConfigMap/shop/settings is managed by app shop (source fedcba987654)",
    ),
    Refused(
        "an object labelled with this app's name that another source of that name applied",
        seen=(live(SETTINGS, OURS),),
        tracked=(live(OLD, Owner(APP, "fedcba987654")),),
        message="ConfigMap/shop/old is managed by app shop (source fedcba987654); this app is shop",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.reason)
def test_another_owners_object_stops_the_plan_unless_adopted(case: Refused) -> None:
    with pytest.raises(OwnershipError) as raised:
        plan_of([SETTINGS], seen=case.seen, tracked=case.tracked, prune=True)
    assert case.message in str(raised.value)
    assert "--adopt" in raised.value.hint

    adopted = plan_of([SETTINGS], seen=case.seen, tracked=case.tracked, prune=True, adopt=True)
    assert adopted.adopted == (raised.value.key,)
    want = {"ConfigMap/shop/settings": "update" if case.seen[0].key in adopted.adopted else "none"}
    if case.tracked:
        want["ConfigMap/shop/old"] = "prune"
    assert actions(adopted) == want


# Issue 16: the controller's apps are named once per kind and namespace, so
# their owner carries the scope (``Kind/namespace``) as well.
TEAM_A = "Application/team-a"
SCOPED = Owner(APP, SOURCE, TEAM_A)
# The same app, same repository and path, in another namespace.
NAMESAKE = Owner(APP, SOURCE, "Application/team-b")
# What both wrote before scopes were recorded (name and source only).
OLDER = Owner(APP, SOURCE)


def scoped_plan(
    resources: Sequence[Resource],
    *,
    seen: Sequence[Live] = (),
    tracked: Sequence[Live] = (),
    **options: Any,
) -> Plan:
    """``plan_of`` for the controller's Application team-a/shop."""
    return make_plan(
        app=APP,
        source=SOURCE,
        scope=TEAM_A,
        revision="abc123",
        graph=build_graph(list(resources)),
        live={s.key: s for s in seen},
        tracked=tracked,
        options=PlanOptions(**options),
        namespaces_live=("shop",),
    )


@dataclass(frozen=True)
class OwnerValue:
    reason: str
    app: AppSpec
    want: str


def _app(store_name: str = "") -> AppSpec:
    source = AppSource("https://git.example/org/repo", "main", "apps/shop", repository="r")
    return AppSpec(APP, AppKind.ARGO, source, store_name=store_name)


OWNER_VALUES = [
    OwnerValue("a command-line app: name and source, as before", _app(), "shop@{digest}"),
    OwnerValue(
        "a controller Application: kind and namespace as well",
        _app("Application/team-a/shop"),
        "Application/team-a/shop@{digest}",
    ),
    OwnerValue(
        "a controller Kustomization of the same name is another owner",
        _app("Kustomization/team-a/shop"),
        "Kustomization/team-a/shop@{digest}",
    ),
]


@pytest.mark.parametrize("case", OWNER_VALUES, ids=lambda c: c.reason)
def test_the_tracking_id_names_the_controllers_apps_by_kind_and_namespace(
    case: OwnerValue,
) -> None:
    owner = case.app.owner
    want = case.want.format(digest=case.app.source.digest)
    assert owner.tracking_id(SETTINGS.key) == f"{want}:/ConfigMap:shop/settings"
    assert owner.who == want
    # Read back from the annotation and from a history row, it is the same owner.
    assert Owner.of({ANNOTATION_TRACKING_ID: owner.tracking_id(SETTINGS.key)}) == owner
    assert Owner.parse(owner.who) == owner


def test_two_namespaces_apps_of_one_name_and_source_are_two_owners() -> None:
    assert _app("Application/team-a/shop").owner != _app("Application/team-b/shop").owner
    assert SCOPED.tracking_id(SETTINGS.key) != NAMESAKE.tracking_id(SETTINGS.key)


@pytest.mark.parametrize(
    "older",
    [OLDER, Owner(APP)],
    ids=["name and source (before scopes)", "name only (before sources)"],
)
def test_a_controller_app_adopts_the_older_tracking_id_of_its_objects(older: Owner) -> None:
    """Upgrading: an object the app applied under the older tracking id is
    rewritten to the scoped one on its next sync, not refused."""
    plan = scoped_plan([SETTINGS], seen=[live(SETTINGS, older)], prune=True)
    (task,) = plan.tasks()
    assert task.action is Action.UPDATE
    assert [(c.live, c.desired) for c in task.changes] == [
        (
            older.tracking_id(SETTINGS.key),
            "Application/team-a/shop@0123456789ab:/ConfigMap:shop/settings",
        )
    ]
    assert plan.adopted == () and plan.owner == SCOPED
    again = scoped_plan([SETTINGS], seen=[live(SETTINGS, SCOPED)], prune=True)
    assert actions(again) == {"ConfigMap/shop/settings": "none"}


def test_a_controller_app_never_prunes_an_object_of_the_older_form() -> None:
    """Both namespaces' ``shop`` wrote the same older tracking id: one that no
    longer renders an object cannot tell whether it was its own, so it leaves
    it (and says so); the app is not held as OutOfSync for it."""
    plan = scoped_plan(
        [SETTINGS], seen=[live(SETTINGS, SCOPED)], tracked=[live(OLD, OLDER)], prune=True
    )
    assert actions(plan) == {"ConfigMap/shop/settings": "none"}
    assert plan.unpruned == ()
    assert SyncStatus.of_plan(plan) is SyncStatus.SYNCED
    (warning,) = plan.warnings
    assert warning.startswith("ConfigMap/shop/old is not in the source; its tracking id is the ")
    assert "Application/team-a/shop never prunes it" in warning


def test_a_controller_app_whose_path_was_edited_keeps_and_prunes_its_objects() -> None:
    """Application team-a/shop moved to another path or repository: its name is
    unique in the cluster, so what it applied from the old source is its own.
    Objects it still renders are taken over (tracking id rewritten), those it
    no longer renders are pruned; a command-line app of that name and another
    source is still another app."""
    before = Owner(APP, "fedcba987654", TEAM_A)
    plan = scoped_plan(
        [SETTINGS], seen=[live(SETTINGS, before)], tracked=[live(OLD, before)], prune=True
    )
    assert actions(plan) == {"ConfigMap/shop/settings": "update", "ConfigMap/shop/old": "prune"}
    (task,) = [t for t in plan.tasks() if t.action is Action.UPDATE]
    assert [(c.live, c.desired) for c in task.changes] == [
        (
            before.tracking_id(SETTINGS.key),
            "Application/team-a/shop@0123456789ab:/ConfigMap:shop/settings",
        )
    ]
    # An annotation copied onto another object names another key: never pruned.
    copied = live(OLD, None, ann={ANNOTATION_TRACKING_ID: before.tracking_id(SETTINGS.key)})
    kept = scoped_plan([SETTINGS], seen=[live(SETTINGS, SCOPED)], tracked=[copied], prune=True)
    assert actions(kept) == {"ConfigMap/shop/settings": "none"}
    with pytest.raises(OwnershipError):
        plan_of([SETTINGS], seen=[live(SETTINGS, Owner(APP, "fedcba987654"))], prune=True)


def test_a_command_line_app_still_prunes_its_name_only_objects() -> None:
    plan = plan_of([], tracked=[live(OLD, Owner(APP))], prune=True, allow_empty=True)
    assert actions(plan) == {"ConfigMap/shop/old": "prune"}


def test_an_object_of_the_same_app_in_another_namespace_is_refused() -> None:
    """Argo CD's SharedResourceWarning as an error: team-a's shop renders an
    object team-b's shop applied; nothing is planned, and the hint does not
    offer --adopt (the controller has none)."""
    with pytest.raises(OwnershipError) as raised:
        scoped_plan([SETTINGS], seen=[live(SETTINGS, NAMESAKE)], prune=True)
    assert str(raised.value).endswith(
        "ConfigMap/shop/settings is managed by app Application/team-b/shop "
        "(source 0123456789ab); this app is Application/team-a/shop (source 0123456789ab)"
    )
    assert "--adopt" not in raised.value.hint
    assert "two apps render this object" in raised.value.hint


def test_a_namesakes_objects_elsewhere_are_neither_pruned_nor_a_conflict() -> None:
    """team-b's shop (another destination) labels its objects ``shop`` too:
    team-a's shop lists them and leaves them out entirely, without a warning
    per object, even when its whole render is gone (the app deleted)."""
    theirs = live(OLD, NAMESAKE)
    plan = scoped_plan([SETTINGS], seen=[live(SETTINGS, SCOPED)], tracked=[theirs], prune=True)
    assert actions(plan) == {"ConfigMap/shop/settings": "none"}
    assert plan.unpruned == () and plan.warnings == () and plan.adopted == ()
    mine = live(res("ConfigMap", "mine", "shop", data={}), SCOPED)
    removed = scoped_plan(
        [], tracked=[theirs, mine, live(SETTINGS, OLDER)], prune=True, allow_empty=True
    )
    assert actions(removed) == {"ConfigMap/shop/mine": "prune"}


def test_a_command_line_app_leaves_a_controller_namesakes_objects_alone() -> None:
    """``gitwave sync shop`` beside a controller's Application shop: neither
    prunes nor takes over the other's objects (before, both wrote shop@source)."""
    plan = plan_of([SETTINGS], seen=[live(SETTINGS, OURS)], tracked=[live(OLD, SCOPED)], prune=True)
    assert actions(plan) == {"ConfigMap/shop/settings": "none"}
    assert plan.warnings == ()
    with pytest.raises(OwnershipError, match="managed by app Application/team-a/shop"):
        plan_of([SETTINGS], seen=[live(SETTINGS, SCOPED)], prune=True)


@dataclass(frozen=True)
class Taken:
    reason: str
    owner: Owner | None
    tracking_before: str | None


TAKEN = [
    Taken("an object made by hand is adopted (Argo CD)", None, None),
    Taken(
        "an older gitwave's tracking id (name only) is this app's, rewritten once",
        Owner(APP),
        "shop:/ConfigMap:shop/settings",
    ),
]


@pytest.mark.parametrize("case", TAKEN, ids=lambda c: c.reason)
def test_objects_taken_over_are_applied_once_to_rewrite_their_tracking_id(case: Taken) -> None:
    plan = plan_of([SETTINGS], seen=[live(SETTINGS, case.owner)])
    (task,) = plan.tasks()
    assert task.action is Action.UPDATE
    assert [(c.path, c.live, c.desired) for c in task.changes] == [
        (
            'metadata.annotations["gitwave.dev/tracking-id"]',
            case.tracking_before,
            "shop@0123456789ab:/ConfigMap:shop/settings",
        )
    ]
    assert plan.adopted == ()
    assert actions(plan_of([SETTINGS], seen=[live(SETTINGS, OURS)])) == {
        "ConfigMap/shop/settings": "none"
    }


def test_an_older_gitwaves_object_gone_from_the_source_is_pruned() -> None:
    plan = plan_of([SETTINGS], seen=[live(SETTINGS, OURS)], tracked=[live(OLD, Owner(APP))])
    assert plan.unpruned == (OLD.key,)
    pruned = plan_of(
        [SETTINGS], seen=[live(SETTINGS, OURS)], tracked=[live(OLD, Owner(APP))], prune=True
    )
    assert actions(pruned)["ConfigMap/shop/old"] == "prune"


def test_objects_a_prune_would_delete_make_the_app_out_of_sync() -> None:
    plan = plan_of([SETTINGS], seen=[live(SETTINGS, OURS)], tracked=[live(OLD, OURS)])
    assert not plan.has_changes  # a sync without prune does nothing...
    assert plan.unpruned == (OLD.key,)
    assert SyncStatus.of_plan(plan) is SyncStatus.OUT_OF_SYNC  # ...but the app is not in sync

    kept = plan_of(
        [SETTINGS],
        seen=[live(SETTINGS, OURS)],
        tracked=[live(OLD, OURS, ann={ANNOTATION_SYNC_OPTIONS_ARGO: "Prune=false"})],
    )
    assert kept.unpruned == ()
    assert [(k.key, k.reason) for k in kept.kept] == [(OLD.key, "its sync option Prune=false")]
    assert SyncStatus.of_plan(kept) is SyncStatus.SYNCED


@dataclass(frozen=True)
class Removed:
    reason: str
    cascade: bool
    ann: dict[str, str] = field(default_factory=dict)
    want: dict[str, str] = field(default_factory=dict)
    kept: str = ""


REMOVED = [
    Removed(
        "with the resources-finalizer its objects are pruned",
        cascade=True,
        want={"ConfigMap/shop/old": "prune"},
    ),
    Removed(
        "without it they stay, as Argo CD leaves them",
        cascade=False,
        kept="app shop was removed from parent without Argo CD's resources-finalizer",
    ),
    Removed(
        "Delete=false keeps an object when its app is removed",
        cascade=True,
        ann={ANNOTATION_SYNC_OPTIONS_ARGO: "Delete=false"},
        kept="its sync option Delete=false",
    ),
]


@pytest.mark.parametrize("case", REMOVED, ids=lambda c: c.reason)
def test_the_objects_of_a_child_app_removed_from_its_parent(case: Removed) -> None:
    plan = plan_of(
        [],
        tracked=[live(OLD, OURS, ann=case.ann)],
        prune=True,
        allow_empty=True,
        removed_from="parent",
        cascade=case.cascade,
    )
    assert actions(plan) == case.want
    assert [k.reason.startswith(case.kept) for k in plan.kept] == ([True] if case.kept else [])
